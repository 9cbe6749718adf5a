"""GEMM variants as a library: each variant of gemm.define_gemm is compiled once per process in
a module of its own (disk-cached like any module) and its symbol registered with LLVM, so the
modules of compiled functions only declare and call it. A function's module then stays small
(its kernels and entry), and every later function reuses the same GEMM code.
"""

from __future__ import annotations

import threading

import llvmlite.binding as llvm
from llvmlite import ir

from graphc.backends.llvm import gemm, jit, objects
from graphc.backends.llvm.irutil import I32, I64, PTR, VOID

_LOADED: dict = {}  # symbol -> CompiledModule (kept alive: it owns the code)
VARIANTS: dict = {}  # symbol -> define_gemm arguments
_LOCK = threading.Lock()
GEMM_TYPE = ir.FunctionType(VOID, [I32, I32, I64, I64, I64, PTR, I64, PTR, I64, PTR, I64, PTR,
                                   PTR])


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
            compiled = objects.load(repr(variant), name)
            if compiled is None:
                library = ir.Module(name=name)
                gemm.define_gemm(library, *variant)
                text = str(library)
                compiled = jit.compile_ir(text, name)
                objects.remember(repr(variant), text)
            llvm.add_symbol(name, compiled.address(name))
            _LOADED[name] = compiled
            VARIANTS[name] = variant
    return name


def loaded_variants() -> dict:
    """{symbol: CompiledModule} of the GEMM variants this process has loaded."""
    return dict(_LOADED)
