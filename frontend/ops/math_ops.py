"""keras.ops' elementwise functions: arithmetic, comparisons, logic and unary math.

Each is a function of graphc nodes registered by `op` (frontend/ops/dispatch.py), so it also
runs on NumPy arrays and on symbolic KerasTensors. Operands meet in one dtype first
(frontend/ops/convert.py): `x_int / 2` is floatx, `x_f32 + 1` stays float32.
"""

from __future__ import annotations

import math

import numpy as np

import graphc as gc
from frontend import backend
from frontend.ops.convert import float_operand, operands, to_node
from frontend.ops.dispatch import op
from graphc.ir import user_site

BINARY = ("x1", "x2")


def _binary(name: str, build, doc: str, floats=False):
    """The public two-operand op `name`: `build(a, b)` on operands of one dtype."""

    def fn(x1, x2):
        a, b = operands(x1, x2)
        if floats and not a.dtype.startswith("float"):
            a, b = gc.cast(a, backend.floatx()), gc.cast(b, backend.floatx())
        return build(a, b)

    fn.__name__, fn.__qualname__, fn.__doc__ = name, name, doc
    return op(name, tensors=BINARY)(fn)


def _unary(name: str, build, doc: str, floats=True):
    """The public one-operand op `name` (ints become floatx first when `floats`)."""

    def fn(x):
        return build(float_operand(x) if floats else to_node(x))

    fn.__name__, fn.__qualname__, fn.__doc__ = name, name, doc
    return op(name)(fn)


def _floor(x):
    if not x.dtype.startswith("float"):
        return x
    truncated = gc.cast(gc.cast(x, "int64"), x.dtype)  # rounds toward zero, as astype does
    return truncated - gc.cast(truncated > x, x.dtype)


def _floor_divide(a, b):
    if a.dtype.startswith("float"):
        return _floor(a / b)
    wide = gc.cast(a, "float64") / gc.cast(b, "float64")
    return gc.cast(_floor(wide), a.dtype)


add = _binary("add", gc.add, "x1 + x2, with broadcasting.")
subtract = _binary("subtract", gc.sub, "x1 - x2, with broadcasting.")
multiply = _binary("multiply", gc.mul, "x1 * x2, with broadcasting.")
divide = _binary("divide", gc.div, "x1 / x2 (ints are divided as floatx).", floats=True)
true_divide = _binary("true_divide", gc.div, "x1 / x2, as divide.", floats=True)
floor_divide = _binary("floor_divide", _floor_divide, "x1 // x2 (rounded toward -inf).")
mod = _binary("mod", lambda a, b: a - _floor_divide(a, b) * b, "x1 % x2, the sign of x2.")
power = _binary("power", gc.pow, "x1 ** x2 (ints are raised as floatx).", floats=True)
maximum = _binary("maximum", gc.maximum, "Elementwise larger of x1 and x2.")
minimum = _binary("minimum", gc.minimum, "Elementwise smaller of x1 and x2.")
equal = _binary("equal", gc.equal, "x1 == x2, a bool tensor.")
not_equal = _binary("not_equal", gc.not_equal, "x1 != x2, a bool tensor.")
greater = _binary("greater", gc.greater, "x1 > x2, a bool tensor.")
greater_equal = _binary("greater_equal", gc.greater_equal, "x1 >= x2, a bool tensor.")
less = _binary("less", gc.less, "x1 < x2, a bool tensor.")
less_equal = _binary("less_equal", gc.less_equal, "x1 <= x2, a bool tensor.")


def _logical(build):
    return lambda a, b: build(gc.cast(a, "bool"), gc.cast(b, "bool"))


logical_and = _binary("logical_and", _logical(gc.logical_and), "Elementwise x1 and x2.")
logical_or = _binary("logical_or", _logical(gc.logical_or), "Elementwise x1 or x2.")
logical_xor = _binary("logical_xor", _logical(gc.not_equal), "Elementwise x1 xor x2.")
logical_not = _unary(
    "logical_not", lambda x: gc.logical_not(gc.cast(x, "bool")), "Elementwise not x.", False
)

negative = _unary("negative", gc.neg, "Elementwise -x.", floats=False)
absolute = _unary("absolute", gc.abs, "Elementwise |x|.", floats=False)
abs = absolute  # noqa: A001 (keras.ops.abs)
square = _unary("square", gc.square, "Elementwise x * x.", floats=False)
sign = _unary("sign", gc.sign, "Elementwise -1, 0 or 1.", floats=False)
sqrt = _unary("sqrt", gc.sqrt, "Elementwise square root.")
rsqrt = _unary("rsqrt", lambda x: 1.0 / gc.sqrt(x), "Elementwise 1 / sqrt(x).")
reciprocal = _unary("reciprocal", lambda x: 1.0 / x, "Elementwise 1 / x.")
exp = _unary("exp", gc.exp, "Elementwise e**x.")
log = _unary("log", gc.log, "Elementwise natural logarithm.")
log1p = _unary("log1p", gc.log1p, "Elementwise log(1 + x).")
expm1 = _unary("expm1", gc.expm1, "Elementwise e**x - 1.")
sin = _unary("sin", gc.sin, "Elementwise sine.")
cos = _unary("cos", gc.cos, "Elementwise cosine.")
tan = _unary("tan", lambda x: gc.sin(x) / gc.cos(x), "Elementwise tangent.")
tanh = _unary("tanh", gc.tanh, "Elementwise hyperbolic tangent.")
erf = _unary("erf", gc.erf, "Elementwise error function.")
log2 = _unary("log2", lambda x: gc.log(x) / math.log(2.0), "Elementwise base-2 logarithm.")
log10 = _unary("log10", lambda x: gc.log(x) / math.log(10.0), "Elementwise base-10 logarithm.")
isnan = _unary("isnan", lambda x: gc.not_equal(x, x), "True where x is NaN.")
isinf = _unary("isinf", lambda x: gc.equal(gc.abs(x), math.inf), "True where x is +-inf.")
isfinite = _unary(
    "isfinite", lambda x: gc.less(gc.abs(x), math.inf), "True where x is finite (not NaN or inf)."
)
floor = _unary("floor", _floor, "Elementwise largest integer <= x (no gradient).", False)
ceil = _unary("ceil", lambda x: -_floor(-x), "Elementwise smallest integer >= x.", False)


@op("nan_to_num")
def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    """`x` with NaN, +inf and -inf replaced (by default by 0 and the dtype's extremes)."""
    x = float_operand(x)
    top = np.finfo(x.dtype).max
    x = gc.where(gc.not_equal(x, x), gc.as_node(float(nan), like=x), x)
    x = gc.where(gc.equal(x, math.inf), gc.as_node(top if posinf is None else posinf, like=x), x)
    low = -top if neginf is None else neginf
    return gc.where(gc.equal(x, -math.inf), gc.as_node(float(low), like=x), x)


@op("round")
def round(x, decimals=0):  # noqa: A001 (keras.ops.round)
    """`x` rounded to `decimals` places, halves to even (as numpy.round)."""
    x = to_node(x)
    if not x.dtype.startswith("float"):
        return x
    scale = 10.0**decimals
    scaled = x * scale if decimals else x
    nearest = _floor(scaled + 0.5)
    odd = gc.equal(nearest - 2.0 * _floor(nearest * 0.5), 1.0)
    tie = gc.equal(nearest - scaled, 0.5)
    rounded = gc.where(gc.logical_and(tie, odd), nearest - 1.0, nearest)
    return rounded / scale if decimals else rounded


@op("clip")
def clip(x, x_min, x_max):
    """`x` limited to [x_min, x_max] (numbers)."""
    x = to_node(x)
    for name, bound in (("x_min", x_min), ("x_max", x_max)):
        if not isinstance(bound, (int, float)):
            raise TypeError(
                f"ops.clip: {name} must be a number. Received: {name}={bound!r}; for tensor "
                f"bounds use ops.minimum(ops.maximum(x, low), high) (at {user_site()})"
            )
    if x.dtype.startswith("float"):
        return gc.clip(x, x_min, x_max)
    return gc.minimum(gc.maximum(x, int(x_min)), int(x_max))


@op("where", tensors=("condition", "x1", "x2"))
def where(condition, x1=None, x2=None):
    """`x1` where `condition` holds, else `x2` (the one-argument form is refused)."""
    if x1 is None or x2 is None:
        raise ValueError(
            f"ops.where(condition) without x1 and x2 returns indices of data-dependent length, "
            f"which a static graph cannot hold; pass both x1 and x2 (at {user_site()})"
        )
    a, b = operands(x1, x2)
    return gc.where(gc.cast(to_node(condition), "bool"), a, b)
