"""Small llvmlite helpers shared by the emitters: types, constants, loops, thread splits."""

from __future__ import annotations

import numpy as np
from llvmlite import ir

from graphc.backends.llvm.bf16 import narrow_bits, widen_bits

I1, I8, I32, I64 = ir.IntType(1), ir.IntType(8), ir.IntType(32), ir.IntType(64)
I16 = ir.IntType(16)
F32, F64 = ir.FloatType(), ir.DoubleType()
PTR = ir.PointerType()
VOID = ir.VoidType()

# How each dtype lives in registers and in memory (bools are bytes in memory, i1 in registers).
# bfloat16 computes as float32 and is stored as its upper 16 bits (bf16.py).
REG_TYPE = {"float32": F32, "float64": F64, "int32": I32, "int64": I64, "bool": I1, "bfloat16": F32,
            "int8": I8, "uint8": I8}
MEM_TYPE = {"float32": F32, "float64": F64, "int32": I32, "int64": I64, "bool": I8,
            "bfloat16": I16, "int8": I8, "uint8": I8}
ITEMSIZE = {"float32": 4, "float64": 8, "int32": 4, "int64": 8, "bool": 1, "bfloat16": 2,
            "int8": 1, "uint8": 1}
FAST = ("fast",)
COMPUTE_DTYPE = {"bfloat16": "float32"}


def is_float(dtype: str) -> bool:
    return dtype in ("float32", "float64", "bfloat16")


def c64(value: int) -> ir.Constant:
    return ir.Constant(I64, int(value))


def const(dtype: str, value) -> ir.Constant:
    """A register constant of `dtype` (floats keep their exact float32/float64 value)."""
    ty = REG_TYPE[dtype]
    if dtype == "bool":
        return ir.Constant(I1, int(bool(value)))
    if is_float(dtype):  # a bfloat16 op's constants take part in its float32 computation
        return ir.Constant(ty, float(np.asarray(value, COMPUTE_DTYPE.get(dtype, dtype))))
    return ir.Constant(ty, int(value))


def load(b: ir.IRBuilder, ptr, index, dtype: str):
    """Element `index` (i64) of a `dtype` buffer, as a register value."""
    addr = b.gep(ptr, [index], source_etype=MEM_TYPE[dtype], inbounds=True)
    value = b.load(addr, typ=MEM_TYPE[dtype])
    if dtype == "bfloat16":
        return widen_bits(b, value)
    return b.icmp_unsigned("!=", value, ir.Constant(I8, 0)) if dtype == "bool" else value


def store(b: ir.IRBuilder, value, ptr, index, dtype: str):
    addr = b.gep(ptr, [index], source_etype=MEM_TYPE[dtype], inbounds=True)
    if dtype == "bool":
        value = b.zext(value, I8)
    elif dtype == "bfloat16":
        value = narrow_bits(b, value)
    b.store(value, addr)


def for_range(b: ir.IRBuilder, lo, hi, body, carried=(), name="i"):
    """for i in [lo, hi): body(i, *carried) -> new carried values; returns the final ones."""
    pre = b.block
    head = b.append_basic_block(f"{name}.head")
    loop = b.append_basic_block(f"{name}.body")
    done = b.append_basic_block(f"{name}.end")
    b.branch(head)
    b.position_at_end(head)
    i = b.phi(I64, name=name)
    i.add_incoming(lo, pre)
    phis = []
    for value in carried:
        phi = b.phi(value.type)
        phi.add_incoming(value, pre)
        phis.append(phi)
    b.cbranch(b.icmp_signed("<", i, hi), loop, done)
    b.position_at_end(loop)
    new = body(i, *phis) if phis else body(i)
    new = list(new or ())
    nxt = b.add(i, c64(1), flags=["nsw"])
    end = b.block
    i.add_incoming(nxt, end)
    for phi, value in zip(phis, new):
        phi.add_incoming(value, end)
    b.branch(head)
    b.position_at_end(done)
    return phis


def split_range(b: ir.IRBuilder, n, tid, nthreads):
    """This thread's share [lo, hi) of range(n): contiguous, sizes differ by at most one."""
    t = b.sext(tid, I64)
    nt = b.sext(nthreads, I64)
    lo = b.sdiv(b.mul(n, t), nt)
    hi = b.sdiv(b.mul(n, b.add(t, c64(1))), nt)
    return lo, hi


def if_then(b: ir.IRBuilder, cond, body):
    with b.if_then(cond):
        body()


def declare(module: ir.Module, name: str, ret, args, var_arg=False) -> ir.Function:
    existing = module.globals.get(name)
    if existing is not None:
        return existing
    return ir.Function(module, ir.FunctionType(ret, args, var_arg=var_arg), name=name)


def intrinsic(module: ir.Module, name: str, ty, arity: int) -> ir.Function:
    """An overloaded float intrinsic such as llvm.maximum.f32 (declared with its real arity)."""
    suffix = {F32: "f32", F64: "f64"}[ty]
    return declare(module, f"{name}.{suffix}", ty, [ty] * arity)


def libm(module: ir.Module, name: str, ty, arity: int = 1) -> ir.Function:
    """A C math function (erff/erf, expm1f/expm1, ...), resolved from the process at load."""
    return declare(module, name + ("f" if ty == F32 else ""), ty, [ty] * arity)


def declare_barrier(module: ir.Module) -> ir.Function:
    """`void graphc_barrier(i32 tid, i32 nthreads)` of the thread pool (threads.py)."""
    return declare(module, "graphc_barrier", VOID, [I32, I32])


def global_buffer(b: ir.IRBuilder, name: str, dtype: str, elems: int):
    """A pointer to a 64-byte aligned, zero-initialized internal array of the builder's module
    (in .bss: costs no file size), shared by every thread that runs the kernel."""
    ty = ir.ArrayType(MEM_TYPE[dtype], max(1, elems))
    var = ir.GlobalVariable(b.module, ty, name=name)
    var.linkage = "internal"
    var.initializer = ir.Constant(ty, None)
    var.align = 64
    return b.gep(var, [c64(0), c64(0)], inbounds=True)  # the first element, as T*


def smax(b: ir.IRBuilder, x, y):
    """The larger of two signed integers."""
    return b.select(b.icmp_signed(">", x, y), x, y)


def smin(b: ir.IRBuilder, x, y):
    """The smaller of two signed integers."""
    return b.select(b.icmp_signed("<", x, y), x, y)


def ceil_div(b: ir.IRBuilder, n, d):
    """n / d rounded up, for signed n >= 0 and d > 0 (i64 values)."""
    return b.sdiv(b.add(n, b.sub(d, c64(1))), d)
