"""bfloat16 in llvm registers and memory: a float32 in registers, its upper 16 bits in memory.

Rounding float32 to bfloat16 is integer arithmetic (nearest even; NaN becomes the quiet NaN of
its sign; denormals kept), exactly graphc.bfloat16.round_bits and ml_dtypes. The hardware
conversion (vcvtneps2bf16) is not used for values: it flushes denormals to zero, which would
break the bit-for-bit agreement with the interpreter. The integer form vectorizes to a handful
of AVX-512 integer instructions per 16 values, and runs on every CPU.
"""

from __future__ import annotations

from llvmlite import ir

I16, I32 = ir.IntType(16), ir.IntType(32)
F32 = ir.FloatType()


def _splat(like, value: int, ty=I32):
    """`value` as a constant of `like`'s shape (a scalar or a vector of `ty`)."""
    if isinstance(like.type, ir.VectorType):
        return ir.Constant(ir.VectorType(ty, like.type.count), [value] * like.type.count)
    return ir.Constant(ty, value)


def _int_type(like, ty):
    return ir.VectorType(ty, like.type.count) if isinstance(like.type, ir.VectorType) else ty


def rounded_bits(b: ir.IRBuilder, x):
    """float32 (or <n x float>) -> the bfloat16 bit patterns in the low 16 bits of an i32."""
    bits = b.bitcast(x, _int_type(x, I32))
    odd = b.and_(b.lshr(bits, _splat(bits, 16)), _splat(bits, 1))
    rounded = b.lshr(b.add(b.add(bits, _splat(bits, 0x7FFF)), odd), _splat(bits, 16))
    sign = b.and_(b.lshr(bits, _splat(bits, 16)), _splat(bits, 0x8000))
    quiet_nan = b.or_(sign, _splat(bits, 0x7FC0))
    return b.select(b.fcmp_unordered("uno", x, x), quiet_nan, rounded)


def round_to_bfloat16(b: ir.IRBuilder, x):
    """float32 -> float32 holding the nearest bfloat16 (what a bfloat16 register value is)."""
    return widen_bits(b, rounded_bits(b, x))


def widen_bits(b: ir.IRBuilder, bits):
    """bfloat16 bit patterns (i16 or the low half of an i32, scalar or vector) -> float32."""
    wide = b.zext(bits, _int_type(bits, I32)) if bits.type in (I16,) or (
        isinstance(bits.type, ir.VectorType) and bits.type.element == I16) else bits
    return b.bitcast(b.shl(wide, _splat(wide, 16)), _int_type(wide, F32))


def narrow_bits(b: ir.IRBuilder, x):
    """A float32 value -> its bfloat16 bits as i16 (rounded to nearest even)."""
    return b.trunc(rounded_bits(b, x), _int_type(x, I16))
