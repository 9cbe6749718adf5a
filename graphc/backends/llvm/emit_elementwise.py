"""Scalar emitters of the elementwise ops: one element, same semantics as graphc/ops/elementwise.py
(NaN propagation as in NumPy; exp/log/tanh/sigmoid/erf from vecmath so loops vectorize)."""

from __future__ import annotations

import math

from llvmlite import ir

from graphc.backends.llvm import vecmath
from graphc.backends.llvm.emitters import register
from graphc.backends.llvm.irutil import I1, REG_TYPE, const, intrinsic, is_float, libm
from graphc.ops.elementwise import GELU_C, SELU_ALPHA, SELU_SCALE


def c(node, value):
    return const(node.dtype, value)


def scalar(op):
    def wrap(fn):
        register(op, "scalar", fn)
        return fn

    return wrap


def unary_float(op, build):
    register(op, "scalar", lambda ctx, node, args: build(ctx.b, args[0], node, ctx))


def call(ctx, name, ty, *args):
    return ctx.b.call(intrinsic(ctx.module, name, ty, len(args)), list(args))


# ---- unary -------------------------------------------------------------------------------------


@scalar("neg")
def emit_neg(ctx, node, args):
    return ctx.b.fneg(args[0]) if is_float(node.dtype) else ctx.b.sub(c(node, 0), args[0])


@scalar("abs")
def emit_abs(ctx, node, args):
    x, b = args[0], ctx.b
    if is_float(node.dtype):
        return call(ctx, "llvm.fabs", x.type, x)
    return b.select(b.icmp_signed("<", x, c(node, 0)), b.sub(c(node, 0), x), x)


@scalar("stop_gradient")
def emit_stop_gradient(ctx, node, args):
    return args[0]


@scalar("sign")
def emit_sign(ctx, node, args):
    x, b = args[0], ctx.b
    if is_float(node.dtype):  # x - x: NaN for NaN, 0.0 for both zeros (np.sign(-0.0) is 0.0)
        neg = b.select(b.fcmp_ordered("<", x, c(node, 0)), c(node, -1), b.fsub(x, x))
        return b.select(b.fcmp_ordered(">", x, c(node, 0)), c(node, 1), neg)
    neg = b.select(b.icmp_signed("<", x, c(node, 0)), c(node, -1), c(node, 0))
    return b.select(b.icmp_signed(">", x, c(node, 0)), c(node, 1), neg)


def relu(b, x, node):
    return vecmath.emit_relu(b, x)


def softplus(b, x, node, ctx):
    # log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow, accurate for large |x|.
    e = vecmath.emit_exp(b, b.fneg(call(ctx, "llvm.fabs", x.type, x)))
    log1p = b.call(libm(ctx.module, "log1p", x.type), [e])
    return b.fadd(relu(b, x, node), log1p)


def elu(b, x, node, ctx, alpha):
    # min(x, 0) that keeps NaN (an ordered x < 0 would turn NaN into 0 and elu(nan) into 0)
    # and makes -0.0 0.0 (as np.minimum(-0.0, 0) in the reference)
    neg = b.select(b.fcmp_ordered(">=", x, c(node, 0)), c(node, 0), x)
    em1 = b.call(libm(ctx.module, "expm1", x.type), [neg])
    return b.select(b.fcmp_ordered(">", x, c(node, 0)), x, b.fmul(c(node, alpha), em1))


def hard_sigmoid(b, x, node):
    y = b.fadd(b.fdiv(x, c(node, 6)), c(node, 0.5))
    y = b.select(b.fcmp_ordered("<", y, c(node, 0)), c(node, 0), y)
    return b.select(b.fcmp_ordered(">", y, c(node, 1)), c(node, 1), y)


def gelu(b, x, node):
    half_x = b.fmul(c(node, 0.5), x)
    if node.attr("approximate"):
        cube = b.fmul(b.fmul(x, x), x)
        inner = b.fmul(c(node, GELU_C), b.fadd(x, b.fmul(c(node, 0.044715), cube)))
        return b.fmul(half_x, b.fadd(c(node, 1), vecmath.emit_tanh(b, inner)))
    erf = vecmath.emit_erf(b, b.fdiv(x, c(node, math.sqrt(2))))
    return b.fmul(half_x, b.fadd(c(node, 1), erf))


unary_float("exp", lambda b, x, n, ctx: vecmath.emit_exp(b, x))
unary_float("log", lambda b, x, n, ctx: vecmath.emit_log(b, x))
unary_float("log1p", lambda b, x, n, ctx: vecmath.emit_log1p(b, x))
unary_float("expm1", lambda b, x, n, ctx: vecmath.emit_expm1(b, x))
unary_float("sqrt", lambda b, x, n, ctx: call(ctx, "llvm.sqrt", x.type, x))
unary_float("tanh", lambda b, x, n, ctx: vecmath.emit_tanh(b, x))
unary_float("sigmoid", lambda b, x, n, ctx: vecmath.emit_sigmoid(b, x))
unary_float("erf", lambda b, x, n, ctx: vecmath.emit_erf(b, x))
# sin/cos are rare (schedules, positional codes): the C library's, one call per element.
unary_float("sin", lambda b, x, n, ctx: b.call(libm(ctx.module, "sin", x.type), [x]))
unary_float("cos", lambda b, x, n, ctx: b.call(libm(ctx.module, "cos", x.type), [x]))
unary_float("relu", lambda b, x, n, ctx: relu(b, x, n))
unary_float("softplus", softplus)
unary_float("softsign", lambda b, x, n, ctx: b.fdiv(
    x, b.fadd(c(n, 1), call(ctx, "llvm.fabs", x.type, x))))
unary_float("hard_sigmoid", lambda b, x, n, ctx: hard_sigmoid(b, x, n))
unary_float("elu", lambda b, x, n, ctx: elu(b, x, n, ctx, n.attr("alpha")))
unary_float("selu", lambda b, x, n, ctx: b.fmul(c(n, SELU_SCALE), elu(b, x, n, ctx, SELU_ALPHA)))
unary_float("gelu", lambda b, x, n, ctx: gelu(b, x, n))


@scalar("square")
def emit_square(ctx, node, args):
    x = args[0]
    return ctx.b.fmul(x, x) if is_float(node.dtype) else ctx.b.mul(x, x)


@scalar("clip")
def emit_clip(ctx, node, args):
    b, x = ctx.b, args[0]
    lo, hi = c(node, node.attr("lo")), c(node, node.attr("hi"))
    x = b.select(b.fcmp_ordered("<", x, lo), lo, x)
    return b.select(b.fcmp_ordered(">", x, hi), hi, x)


@scalar("cast")
def emit_cast(ctx, node, args):
    return cast(ctx.b, args[0], node.inputs[0].dtype, node.dtype)


def cast(b, x, src: str, dst: str):
    """NumPy's astype: floats truncate toward zero into ints; anything nonzero is True."""
    if src == dst:
        return x
    ty = REG_TYPE[dst]
    if dst == "bool":
        zero = const(src, 0)
        return b.fcmp_unordered("!=", x, zero) if is_float(src) else b.icmp_unsigned("!=", x, zero)
    if src == "bool":
        return b.uitofp(x, ty) if is_float(dst) else b.zext(x, ty)
    if is_float(src) and is_float(dst):  # bfloat16 is float32 in registers, rounded by its op
        if x.type == ty:
            return x
        return b.fpext(x, ty) if dst == "float64" else b.fptrunc(x, ty)
    if is_float(src):
        return float_to_int(b, x, src, dst)
    if is_float(dst):
        return b.sitofp(x, ty)
    return b.sext(x, ty) if dst == "int64" else b.trunc(x, ty)


def float_to_int(b, x, src: str, dst: str):
    """Truncation toward zero; NaN and values out of range give the integer minimum, as
    NumPy's astype on x86 does (LLVM's fptosi leaves them undefined)."""
    limit = float(1 << (REG_TYPE[dst].width - 1))
    fits = b.and_(b.fcmp_ordered(">=", x, const(src, -limit)),
                  b.fcmp_ordered("<", x, const(src, limit)))
    return b.select(fits, b.fptosi(x, REG_TYPE[dst]), const(dst, -limit))


# ---- binary ------------------------------------------------------------------------------------

FLOAT_BINARY = {"add": "fadd", "sub": "fsub", "mul": "fmul", "div": "fdiv"}
INT_BINARY = {"add": "add", "sub": "sub", "mul": "mul"}


def arithmetic(op):
    def emit(ctx, node, args):
        if is_float(node.dtype):
            return getattr(ctx.b, FLOAT_BINARY[op])(*args)
        return getattr(ctx.b, INT_BINARY[op])(*args)

    register(op, "scalar", emit)


for _op in FLOAT_BINARY:
    arithmetic(_op)


@scalar("pow")
def emit_pow(ctx, node, args):
    return call(ctx, "llvm.pow", args[0].type, *args)


def extreme(op, cmp):
    def emit(ctx, node, args):
        a, b = args
        if is_float(node.dtype):  # as np.maximum/np.minimum: NaN wins, a tie gives b (-0.0, 0.0)
            a_nan = ctx.b.fcmp_unordered("uno", a, a)
            return ctx.b.select(ctx.b.fcmp_ordered(cmp, a, b), a, ctx.b.select(a_nan, a, b))
        return ctx.b.select(ctx.b.icmp_signed(cmp, a, b), a, b)

    register(op, "scalar", emit)


extreme("maximum", ">")
extreme("minimum", "<")

COMPARISONS = {"less": "<", "less_equal": "<=", "greater": ">", "greater_equal": ">=",
               "equal": "==", "not_equal": "!="}


def comparison(op, pred):
    def emit(ctx, node, args):
        dtype = node.inputs[0].dtype
        if is_float(dtype):  # NaN compares unequal to everything, as in NumPy
            fcmp = ctx.b.fcmp_unordered if pred == "!=" else ctx.b.fcmp_ordered
            return fcmp(pred, *args)
        if dtype == "bool":
            return ctx.b.icmp_unsigned(pred, *args)
        return ctx.b.icmp_signed(pred, *args)

    register(op, "scalar", emit)


for _op, _pred in COMPARISONS.items():
    comparison(_op, _pred)

register("logical_and", "scalar", lambda ctx, node, args: ctx.b.and_(*args))
register("logical_or", "scalar", lambda ctx, node, args: ctx.b.or_(*args))
register("logical_not", "scalar", lambda ctx, node, args: ctx.b.xor(args[0], ir.Constant(I1, 1)))
register("where", "scalar", lambda ctx, node, args: ctx.b.select(*args))

__all__ = ["cast"]
