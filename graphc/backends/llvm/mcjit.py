"""LLVM IR text -> native code in this process (llvmlite MCJIT), with an on-disk object cache.

The machinery behind jit.compile_ir (see jit.py for the pipeline and the GRAPHC_DEBUG levels),
without the thread-pool runtime: threads.py compiles the runtime itself through this module,
and jit.py, above both, links the runtime into modules that call it.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import sys
import threading
import time
from pathlib import Path

import llvmlite.binding as llvm

from graphc.backends.llvm import cache, parallel_compile, part_aliases

_LOCK = threading.RLock()  # LLVM's global context is not safe to use from two threads at once
_LLVM_CALLS = llvm.ffi.lib._lock  # llvmlite's own lock around each LLVM call (also lookups)


def _before_fork() -> None:
    # No fork() in the middle of a compile, nor of any LLVM call in another thread: the child
    # would inherit LLVM's state half-changed, or llvmlite's lock held by no thread, forever.
    _LOCK.acquire()
    _LLVM_CALLS.__enter__()


def _after_fork() -> None:
    _LLVM_CALLS.__exit__(None, None, None)
    _LOCK.release()


os.register_at_fork(before=_before_fork, after_in_parent=_after_fork, after_in_child=_after_fork)


@functools.cache
def _initialize() -> None:
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()


@functools.cache
def host_cpu() -> tuple[str, str]:
    """(CPU name, feature string) code is generated for. The feature string is trusted over the
    name (under a hypervisor the name can be an older model); on AVX-512 hosts 512-bit vectors
    are preferred by the auto-vectorizer (`-prefer-256-bit`)."""
    _initialize()
    features = llvm.get_host_cpu_features().flatten()
    if "+avx512f" in features.split(","):
        features += ",-prefer-256-bit"
    return llvm.get_host_cpu_name(), features


@functools.cache
def host_target_machine() -> llvm.TargetMachine:
    """Target machine for this host: O3, default relocation model, JIT code model."""
    return _new_target_machine()


def _new_target_machine() -> llvm.TargetMachine:
    # An execution engine takes ownership of (and frees) its target machine: each gets its own.
    cpu, features = host_cpu()
    target = llvm.Target.from_default_triple()
    return target.create_target_machine(cpu=cpu, features=features, opt=3, reloc="default",
                                        codemodel="jitdefault", jit=True)


def debug_level(debug: int | None = None) -> int:
    """The debug level in force: `debug` when given, else int(GRAPHC_DEBUG) (0 when unset)."""
    if debug is not None:
        return int(debug)
    raw = os.environ.get("GRAPHC_DEBUG", "").strip()
    if not raw:
        return 0
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"GRAPHC_DEBUG must be an integer 0-3; received {raw!r}") from None


class CompiledModule:
    """Native code of one LLVM module; keeps its execution engine (and so the code) alive."""

    def __init__(self, name: str, engine: llvm.ExecutionEngine, seconds: float,
                 from_cache: bool, optimized_ir: str | None):
        self.name = name
        self.seconds = seconds
        self.from_cache = from_cache
        self.optimized_ir = optimized_ir
        self._engine = engine

    def address(self, symbol: str) -> int:
        """Address of a function or global variable defined by this module."""
        addr = self._engine.get_function_address(symbol)
        if not addr:
            addr = self._engine.get_global_value_address(symbol)
        if not addr:
            raise KeyError(f"symbol {symbol!r} is not defined by compiled module {self.name!r}")
        return addr

    def __repr__(self) -> str:
        how = "cached" if self.from_cache else "compiled"
        return f"<CompiledModule {self.name!r} {how} in {self.seconds * 1e3:.1f} ms>"


def options_tag(speed_level: int = 3) -> str:
    """What the disk cache key adds for these compile settings ("" for the default, O3)."""
    if speed_level not in (0, 1, 2, 3):
        raise ValueError(f"compile_ir: speed_level must be 0, 1, 2 or 3; received {speed_level!r}")
    return "" if speed_level == 3 else f"speed_level={speed_level}"


def compile_module(ir_text: str, name: str, debug: int | None = None,
                   speed_level: int = 3, parts: list | None = None) -> CompiledModule:
    """jit.compile_ir without linking the thread-pool runtime: the IR must not call it.
    `parts`: the same module as several that link together (emit.ModuleText.parts), compiled
    at once in processes of their own when the disk cache misses (parallel_compile.py)."""
    options = options_tag(speed_level)
    level = debug_level(debug)
    with _LOCK:
        start = time.perf_counter()
        compiled = _load_or_compile(ir_text, name, level, start, speed_level, options, parts)
    if level >= 1:
        how = "loaded from cache" if compiled.from_cache else "compiled"
        print(f"graphc: {name}: {how} in {compiled.seconds * 1e3:.1f} ms", file=sys.stderr)
    return compiled


def assembly_of(ir_text: str, name: str, speed_level: int = 3) -> str:
    """The assembly compile_module makes of `ir_text` (the same IR passes and code generator),
    to read (gc.view shows each kernel's); nothing is loaded or cached."""
    with _LOCK:
        module = _parse_and_optimize(ir_text, name, speed_level)
        return host_target_machine().emit_assembly(module)


def _load_or_compile(ir_text: str, name: str, level: int, start: float, speed_level: int,
                     options: str, parts: list | None = None) -> CompiledModule:
    cpu, features = host_cpu()
    key = cache.cache_key(ir_text, cpu, features, options)
    if level < 2:  # higher levels want the optimized IR, which only a real compile produces
        payload = cache.load(key)
        if payload is not None:
            engine = _engine_from_object(payload)
            return CompiledModule(name, engine, time.perf_counter() - start, True, None)
    if parts is not None and len(parts) > 1 and level < 2:  # dumps want the whole module
        payload, optimized_ir = _compile_parts(parts, name, speed_level, options), None
    else:
        module = _parse_and_optimize(ir_text, name, speed_level)
        optimized_ir = str(module)
        payload = host_target_machine().emit_object(module)
        if level >= 2:
            _dump(name, ".ll", optimized_ir)
        if level >= 3:
            _dump(name, ".s", host_target_machine().emit_assembly(module))
    cache.store(key, payload)
    engine = _engine_from_object(payload)
    return CompiledModule(name, engine, time.perf_counter() - start, False, optimized_ir)


def _compile_parts(parts: list, name: str, speed_level: int, options: str) -> bytes:
    """The parts' objects, each from the disk cache under its own IR's key (new code reuses
    the kernels it did not change), a missing part that copies another under other names as
    a thunk calling it (part_aliases), the other missing ones compiled at once by the
    compiling processes, the largest first, and cached each under its key."""
    cpu, features = host_cpu()
    keys = [cache.cache_key(part, cpu, features, options) for part in parts]
    found = [cache.load(key) for key in keys]
    missing = [k for k, code in enumerate(found) if code is None]
    for k, original in part_aliases.duplicates(parts, missing).items():
        thunk = part_aliases.thunk_ir(parts[k], parts[original])
        found[k] = cached_object(thunk, name, speed_level, options)
    missing = sorted((k for k, code in enumerate(found) if code is None),
                     key=lambda k: -len(parts[k]))
    codes = compile_pulled([parts[k] for k in missing],
                           lambda text: object_code(text, name, speed_level), name)
    for k, code in zip(missing, codes):
        found[k] = code
        cache.store(keys[k], code)
    return parallel_compile.pack(found)


def cached_object(ir_text: str, name: str, speed_level: int, options: str) -> bytes:
    """The object of `ir_text` from the disk cache, else compiled here and cached."""
    cpu, features = host_cpu()
    key = cache.cache_key(ir_text, cpu, features, options)
    code = cache.load(key)
    if code is None:
        code = object_code(ir_text, name, speed_level)
        cache.store(key, code)
    return code


def compile_pulled(items: list, compile_one, name: str) -> list:
    """[compile_one(item) for item in items], at once by the compiling processes, each taking
    the next item when done with one (parallel_compile; _before_fork keeps the children's
    LLVM unlocked)."""
    with _LOCK:
        return parallel_compile.compile_pulled(items, compile_one, name,
                                               parallel_compile.processes())


def object_code(ir_text: str, name: str, speed_level: int = 3,
                strength_reduction: bool = True) -> bytes:
    """The object file of `ir_text` (no disk cache). strength_reduction=False skips the code
    generator's loop strength reduction: for IR whose addressing is blocked by hand (the GEMM
    library), where it took ~half of the code generation for no measurable speed."""
    with _LOCK, _strength_reduction(strength_reduction):
        return host_target_machine().emit_object(_parse_and_optimize(ir_text, name, speed_level))


@contextlib.contextmanager
def _strength_reduction(enabled: bool):
    """LLVM reads -disable-lsr (a process-wide option) when it builds each code generator
    pipeline: set for this compile only, under _LOCK, and always restored."""
    if enabled:
        yield
        return
    llvm.set_option("graphc", "-disable-lsr=true")
    try:
        yield
    finally:
        llvm.set_option("graphc", "-disable-lsr=false")


def _parse_and_optimize(ir_text: str, name: str, speed_level: int = 3) -> llvm.ModuleRef:
    _initialize()
    tm = host_target_machine()
    try:
        module = llvm.parse_assembly(ir_text)
        module.verify()
    except RuntimeError as err:
        raise RuntimeError(f"graphc: LLVM rejected the IR of module {name!r}: {err}") from None
    module.triple = tm.triple
    module.data_layout = str(tm.target_data)
    if speed_level > 0:
        _optimize(module, tm, speed_level)
    return module


def _optimize(module: llvm.ModuleRef, tm: llvm.TargetMachine, speed_level: int = 3) -> None:
    pto = llvm.create_pipeline_tuning_options(speed_level=speed_level)
    pto.loop_vectorization = True
    pto.slp_vectorization = True
    pto.loop_unrolling = True
    pto.loop_interleaving = True
    builder = llvm.create_pass_builder(tm, pto)
    builder.getModulePassManager().run(module, builder)


def load_object(payload: bytes, name: str) -> CompiledModule:
    """Object code (e.g. from the disk cache) as a loaded module; its symbols must be registered."""
    start = time.perf_counter()
    with _LOCK:
        engine = _engine_from_object(payload)
    return CompiledModule(name, engine, time.perf_counter() - start, True, None)


def _engine_from_object(payload: bytes) -> llvm.ExecutionEngine:
    tm = _new_target_machine()
    holder = llvm.parse_assembly("")
    holder.triple = tm.triple
    holder.data_layout = str(tm.target_data)
    engine = llvm.create_mcjit_compiler(holder, tm)
    for code in parallel_compile.unpack(payload):  # parts of one module link to each other
        engine.add_object_file(llvm.ObjectFileRef.from_data(code))
    engine.finalize_object()
    return engine


def _dump(name: str, suffix: str, text: str) -> None:
    directory = os.environ.get("GRAPHC_DEBUG_DIR")
    if not directory:
        print(f"; ---- graphc {name}{suffix} ----\n{text}", file=sys.stderr)
        return
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name) or "module"
    path = Path(directory).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    (path / (safe + suffix)).write_text(text)
