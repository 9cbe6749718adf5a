"""GEMM variants as a library: each variant of gemm.define_gemm is compiled once per process in
a module of its own (disk-cached like any module) and its symbol registered with LLVM, so the
modules of compiled functions only declare and call it. A function's module then stays small
(its kernels and entry), and every later function reuses the same GEMM code.

The variants compile with no IR optimization pipeline (SPEED_LEVEL 0; code generation still
at O3): their IR is vectorized and register-blocked by hand, and measured on Zen 4 the O3
pipeline cost ~2/3 of each variant's ~130 ms for no GFLOP/s (bench/bench_gemm.py).
"""

from __future__ import annotations

import threading

import llvmlite.binding as llvm
from llvmlite import ir

from graphc.backends.llvm import gemm, jit, objects
from graphc.backends.llvm.gemm_plan import host_plan
from graphc.backends.llvm.irutil import VOID

_LOADED: dict = {}  # symbol -> CompiledModule (kept alive: it owns the code)
VARIANTS: dict = {}  # symbol -> define_gemm arguments
_LOCK = threading.Lock()
SPEED_LEVEL = 0  # jit.compile_ir's IR optimization level for the variants (see above)
GEMM_TYPE = ir.FunctionType(VOID, gemm.ENTRY_TYPES)


def gemm_function(module: ir.Module, dtype, transpose_a, transpose_b, bias, activation,
                  accumulate) -> ir.Function:
    """Declare the GEMM variant in `module`, compiling and registering it first if needed."""
    variant = (dtype, transpose_a, transpose_b, bias, activation, accumulate)
    name = load_variant(variant)
    existing = module.globals.get(name)
    return existing if existing is not None else ir.Function(module, GEMM_TYPE, name=name)


def load_variant(variant: tuple) -> str:
    """Make the GEMM variant callable from JIT code (disk cache first); returns its symbol."""
    name = gemm.gemm_name(*variant)
    with _LOCK:
        if name not in _LOADED:
            key = repr((*variant, host_plan().tag()))  # the blocking chosen for this machine
            compiled = objects.load(key, name)
            if compiled is None:
                library = ir.Module(name=name)
                gemm.define_gemm(library, *variant)
                text = str(library)
                compiled = jit.compile_ir(text, name, speed_level=SPEED_LEVEL)
                objects.remember(key, text, jit.options_tag(SPEED_LEVEL))
            llvm.add_symbol(name, compiled.address(name))
            _LOADED[name] = compiled
            VARIANTS[name] = variant
    return name
