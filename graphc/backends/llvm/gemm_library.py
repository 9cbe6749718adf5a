"""GEMM variants as a library: each variant of gemm.define_gemm is compiled once per process in
a module of its own (disk-cached like any module) and its symbol registered with LLVM, so the
modules of compiled functions only declare and call it. A function's module then stays small
(its kernels and entry), and every later function reuses the same GEMM code. Emitting a module
only declares the variants it calls; `load_pending` then loads them from the disk cache, or
compiles the missing ones at once in several processes (~0.1 s each, once per machine).

The variants compile with no IR optimization pipeline (SPEED_LEVEL 0; code generation still
at O3): their IR is vectorized and register-blocked by hand, and measured on Zen 4 the O3
pipeline cost ~2/3 of each variant's ~130 ms for no GFLOP/s (bench/bench_gemm.py). Nor does
the code generator's loop strength reduction run on them: on the AVX-512 Xeon it was half of a
variant's code generation (~150 -> ~75 ms) for no GFLOP/s (single-thread, interleaved: the
eight bench_gemm cases 100-512 within -3..+3%, noise).
"""

from __future__ import annotations

import threading

import llvmlite.binding as llvm
from llvmlite import ir

from graphc.backends.llvm import gemm, mcjit, objects, parallel_compile, threads
from graphc.backends.llvm.gemm_plan import host_plan
from graphc.backends.llvm.irutil import VOID

_LOADED: dict = {}  # symbol -> CompiledModule (kept alive: it owns the code)
VARIANTS: dict = {}  # symbol -> define_gemm arguments
_PENDING: list = []  # symbols declared by emitted modules and not loaded yet
_LOCK = threading.Lock()
SPEED_LEVEL = 0  # the IR optimization level the variants compile at (see above)
GEMM_TYPE = ir.FunctionType(VOID, gemm.ENTRY_TYPES)
F32 = "float32"
# (dtype, transpose_a, transpose_b, bias, activation, accumulate) of the variants the usual
# float32 training steps call: a dense layer's forward (bias; linear, relu, sigmoid, tanh) and
# its two gradients (NT: dx, TN: dW), a convolution's forward (no bias) and its accumulating
# tiles (NN, TN). `prebuild` compiles them into the disk cache once per machine.
STANDARD = (
    (F32, False, False, True, "linear", False), (F32, False, False, True, "relu", False),
    (F32, False, False, True, "sigmoid", False), (F32, False, False, True, "tanh", False),
    (F32, False, True, False, "linear", False), (F32, True, False, False, "linear", False),
    (F32, False, False, False, "linear", False), (F32, False, False, False, "linear", True),
    (F32, True, False, False, "linear", True),
)


def gemm_function(module: ir.Module, dtype, transpose_a, transpose_b, bias, activation,
                  accumulate) -> ir.Function:
    """Declare the GEMM variant in `module`; load_pending makes it callable."""
    name = _declare((dtype, transpose_a, transpose_b, bias, activation, accumulate))
    existing = module.globals.get(name)
    return existing if existing is not None else ir.Function(module, GEMM_TYPE, name=name)


def load_variant(variant: tuple) -> str:
    """Make the GEMM variant callable from JIT code (disk cache first); returns its symbol."""
    name = _declare(variant)
    load_pending()
    return name


def _declare(variant: tuple) -> str:
    """The variant's symbol, queued for load_pending unless it is loaded already."""
    name = _known(variant)
    with _LOCK:
        if name not in _LOADED:
            _PENDING.append(name)
    return name


def _known(variant: tuple) -> str:
    """The variant's symbol, recorded in VARIANTS (what compiling a symbol emits)."""
    name = gemm.gemm_name(*variant)
    with _LOCK:
        VARIANTS[name] = variant
    return name


def cached_objects(variants) -> dict:
    """{symbol: object code from the disk cache} of the variants not loaded yet, for loading
    with other code in one engine (`register_loaded`); one not on disk is loaded now."""
    found = {}
    for variant in variants:
        name = _known(variant)
        with _LOCK:
            if name in _LOADED:
                continue
        code = objects.payload(object_key(name))
        if code is None:
            load_variant(variant)
        else:
            found[name] = code
    return found


def register_loaded(names, compiled) -> None:
    """The variants `names`, loaded as part of `compiled`, become callable from later code."""
    with _LOCK:
        for name in names:
            if name not in _LOADED:
                _register(name, compiled)


def load_pending() -> None:
    """Make every variant that emitted modules declared callable: from the disk cache, else
    compiled, the missing ones split among the compiling processes; all of them loaded in one
    engine (an engine per variant cost ~1.2 ms each)."""
    with _LOCK:
        names = [name for name in dict.fromkeys(_PENDING) if name not in _LOADED]
        _PENDING.clear()
        if not names:
            return
        threads.ensure_runtime()  # the variants call graphc_barrier
        codes = {name: objects.payload(object_key(name)) for name in names}
        missing = [name for name, code in codes.items() if code is None]
        if missing:
            codes.update(compile_and_store(missing))
        # the entries passed cache.load's checksums: their bytes are the objects stored
        parts = [part for code in codes.values() for part in parallel_compile.unpack(code)]
        compiled = mcjit.load_object(parallel_compile.pack(parts), "the GEMM library")
        for name in names:
            _register(name, compiled)


def compile_and_store(names: list) -> dict:
    """{symbol: object code} of the variants `names`, compiled at once by the compiling
    processes and saved in the disk cache."""
    codes = mcjit.compile_pulled(names, _variant_object, "the GEMM library")
    for name, code in zip(names, codes):
        objects.store(object_key(name), code)
    return dict(zip(names, codes))


def prebuild(variants=None) -> tuple[list, list]:
    """Compile into the disk cache those of `variants` (default STANDARD) that are not there
    yet, so a model's first compile on this machine costs only its own kernels
    (`graphc cache prebuild`).
    Returns (symbols compiled, symbols already cached); nothing is loaded in this process."""
    names = [_known(variant) for variant in (STANDARD if variants is None else variants)]
    cached = [name for name in names if objects.payload(object_key(name)) is not None]
    missing = [name for name in names if name not in cached]
    if missing:
        compile_and_store(missing)
    return missing, cached


def object_key(name: str) -> str:
    """The variant's disk-cache key: its arguments and the blocking chosen for this machine."""
    return repr((*VARIANTS[name], host_plan().tag()))


def _variant_object(name: str) -> bytes:
    return mcjit.object_code(variant_ir(name), name, SPEED_LEVEL, strength_reduction=False)


def variant_ir(name: str) -> str:
    library = ir.Module(name=name)
    gemm.define_gemm(library, *VARIANTS[name])
    return str(library)


def _register(name: str, compiled) -> None:
    llvm.add_symbol(name, compiled.address(name))
    _LOADED[name] = compiled
