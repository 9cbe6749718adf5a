"""Elementwise ops with NumPy broadcasting: each op's rule, reference and gradient side by side."""

from __future__ import annotations

import math

import numpy as np

from graphc.ir import FLOAT_DTYPES, DtypeError
from graphc.ops import broadcast_shapes, call, defop, per_element, require_float, same_dtype
from graphc.ops.cases import A34, M34, POS34, F, In, case, with_0d
from graphc.ops.leaves import constant_node

SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805
GELU_C = math.sqrt(2.0 / math.pi)


def const(value, like):
    """A scalar constant with `like`'s dtype (used inside gradient rules)."""
    return constant_node(value, like.dtype)


def unbroadcast(g, shape):
    """Sum `g` down to `shape`: the gradient of broadcasting to g's shape (a bfloat16 `g` is
    summed in float32 and rounded once: sums do not run in bfloat16)."""
    if g.dtype == "bfloat16":
        return call("cast", unbroadcast(call("cast", g, dtype="float32"), shape), dtype=g.dtype)
    lead = g.ndim - len(shape)
    if lead:
        g = call("sum", g, axis=tuple(range(lead)), keepdims=False)
    ones = tuple(i for i, d in enumerate(shape) if d == 1 and g.shape[i] != 1)
    if ones:
        g = call("sum", g, axis=ones, keepdims=True)
    return g


def mask(cond, g):
    """g where cond holds, else 0."""
    return call("where", cond, g, const(0, g))


# ---- unary -------------------------------------------------------------------------------------


def infer_unary_float(inputs, **_):
    return inputs[0].shape, require_float(inputs[0].dtype)


def infer_unary_numeric(inputs, **_):
    if inputs[0].dtype == "bool":
        raise DtypeError("needs a numeric input, got bool")
    return inputs[0].shape, inputs[0].dtype


TRANSCENDENTAL = 10  # FLOPs per element of exp, log, tanh, ... (a polynomial and a scaling)


def unary(name, impl, vjp, cases, numeric=False, cost=1, doc=""):
    infer = infer_unary_numeric if numeric else infer_unary_float
    defop(name, infer=infer, impl=impl, vjp=vjp, fusion="elementwise", flops=per_element(cost),
          cases=with_0d(cases), doc=doc)


def _sigmoid(x):
    # Two branches so neither exp overflows.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype)


def _erf(x):
    # frompyfunc gives a Python float, not an array, for 0-d input
    return np.asarray(np.frompyfunc(math.erf, 1, 1)(x), dtype=x.dtype)


def _elu(x, alpha):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))).astype(x.dtype)


def _gelu(x, approximate):
    if approximate:
        return (0.5 * x * (1 + np.tanh(GELU_C * (x + 0.044715 * x**3)))).astype(x.dtype)
    return (0.5 * x * (1 + _erf(x / np.sqrt(2).astype(x.dtype)))).astype(x.dtype)


def vjp_gelu(g, node):
    (x,) = node.inputs
    if node.attr("approximate"):
        inner = const(GELU_C, x) * (x + const(0.044715, x) * x * x * x)
        t = call("tanh", inner)
        d_inner = const(GELU_C, x) * (const(1, x) + const(3 * 0.044715, x) * x * x)
        return (
            g
            * (
                const(0.5, x) * (const(1, x) + t)
                + const(0.5, x) * x * (const(1, x) - t * t) * d_inner
            ),
        )
    cdf = const(0.5, x) * (const(1, x) + call("erf", x * const(1 / math.sqrt(2), x)))
    pdf = call("exp", const(-0.5, x) * x * x) * const(1 / math.sqrt(2 * math.pi), x)
    return (g * (cdf + x * pdf),)


def vjp_elu(g, node):
    (x,) = node.inputs
    alpha = node.attr("alpha")
    return (call("where", call("greater", x, const(0, x)), g, g * (node + const(alpha, x))),)


def vjp_selu(g, node):
    (x,) = node.inputs
    positive = call("greater", x, const(0, x))
    return (
        call(
            "where",
            positive,
            g * const(SELU_SCALE, x),
            g * (node + const(SELU_SCALE * SELU_ALPHA, x)),
        ),
    )


def vjp_hard_sigmoid(g, node):
    (x,) = node.inputs
    inside = call("logical_and", call("greater", x, const(-3, x)), call("less", x, const(3, x)))
    return (mask(inside, g * const(1 / 6, x)),)


ONE_CASE = [case(M34)]
AWAY_CASE = [case(A34)]
POSITIVE_CASE = [case(POS34)]
T = TRANSCENDENTAL

unary("neg", np.negative, lambda g, n: (-g,), ONE_CASE, numeric=True)
unary("abs", np.abs, lambda g, n: (g * call("sign", n.inputs[0]),), AWAY_CASE, numeric=True)
unary("sign", np.sign, lambda g, n: (None,), AWAY_CASE, numeric=True,
      doc="Gradient is zero almost everywhere.")
# no vjp: autodiff treats what lies beyond it as constant (passes/autodiff.py)
unary("stop_gradient", np.copy, None, [case(M34, grad=False)], numeric=True,
      doc="The value of x; gradients do not flow through it.")
unary("exp", np.exp, lambda g, n: (g * n,), ONE_CASE, cost=T)
unary("log", np.log, lambda g, n: (g / n.inputs[0],), POSITIVE_CASE, cost=T)
unary("log1p", np.log1p, lambda g, n: (g / (const(1, n) + n.inputs[0]),), POSITIVE_CASE, cost=T,
      doc="log(1 + x), accurate for tiny x.")
unary("expm1", np.expm1, lambda g, n: (g * (n + const(1, n)),), ONE_CASE, cost=T,
      doc="exp(x) - 1, accurate for tiny x.")
unary("sqrt", np.sqrt, lambda g, n: (g * const(0.5, n) / n,), POSITIVE_CASE, cost=T)
unary("tanh", np.tanh, lambda g, n: (g * (const(1, n) - n * n),), ONE_CASE, cost=T)
unary("sigmoid", _sigmoid, lambda g, n: (g * n * (const(1, n) - n),), ONE_CASE, cost=T)
unary(
    "relu",
    lambda x: np.maximum(x, 0).astype(x.dtype),
    lambda g, n: (mask(call("greater", n.inputs[0], const(0, n)), g),),
    AWAY_CASE,
)
unary(
    "softplus",
    lambda x: np.logaddexp(np.zeros_like(x), x),
    lambda g, n: (g * call("sigmoid", n.inputs[0]),),
    ONE_CASE,
    cost=T,
)
unary(
    "softsign",
    lambda x: x / (1 + np.abs(x)),
    lambda g, n: (g / call("square", const(1, n) + call("abs", n.inputs[0])),),
    ONE_CASE,
)
unary(
    "hard_sigmoid",
    lambda x: np.clip(x / 6 + 0.5, 0, 1).astype(x.dtype),
    vjp_hard_sigmoid,
    AWAY_CASE,
    doc="Keras 3: relu6(x + 3) / 6.",
)
unary("square", np.square, lambda g, n: (g * const(2, n) * n.inputs[0],), ONE_CASE, numeric=True)
unary(
    "erf",
    _erf,
    lambda g, n: (
        g * const(2 / math.sqrt(math.pi), n) * call("exp", -(n.inputs[0] * n.inputs[0])),
    ),
    ONE_CASE,
    cost=T,
)
unary("sin", np.sin, lambda g, n: (g * call("cos", n.inputs[0]),), ONE_CASE)
unary("cos", np.cos, lambda g, n: (-(g * call("sin", n.inputs[0])),), ONE_CASE)
unary("elu", _elu, vjp_elu, [case(A34, alpha=1.0), case(A34, alpha=0.5)], cost=T)
unary("selu", lambda x: (SELU_SCALE * _elu(x, SELU_ALPHA)).astype(x.dtype), vjp_selu, AWAY_CASE,
      cost=T)
unary(
    "gelu",
    _gelu,
    vjp_gelu,
    [case(M34, approximate=False), case(M34, approximate=True)],
    cost=T,
    doc="approximate=False is the exact erf form (Keras's default).",
)


def infer_cast(inputs, *, dtype):
    return inputs[0].shape, dtype


def vjp_cast(g, node):
    x = node.inputs[0]
    if x.dtype not in FLOAT_DTYPES or node.dtype not in FLOAT_DTYPES:
        return (None,)
    return (call("cast", g, dtype=x.dtype),)


defop(
    "cast",
    infer=infer_cast,
    impl=lambda x, *, dtype: x.astype(dtype),
    vjp=vjp_cast,
    fusion="elementwise",
    cases=with_0d([
        case(M34, dtype="float64"),
        case(In((3, 4), "int", "int32"), dtype="float64", grad=False),
        case(M34, dtype="float32", grad=False),
        case(M34, dtype="int32", grad=False),
    ]),
)


def infer_clip(inputs, *, lo, hi):
    return inputs[0].shape, require_float(inputs[0].dtype)


def vjp_clip(g, node):
    x = node.inputs[0]
    lo, hi = node.attr("lo"), node.attr("hi")
    inside = call(
        "logical_and", call("greater_equal", x, const(lo, x)), call("less_equal", x, const(hi, x))
    )
    return (mask(inside, g),)


defop(
    "clip",
    infer=infer_clip,
    impl=lambda x, *, lo, hi: np.clip(x, lo, hi).astype(x.dtype),
    vjp=vjp_clip,
    fusion="elementwise",
    cases=with_0d([case(A34, lo=-0.5, hi=0.5)]),
    doc="Bounds are static attributes.",
)


# ---- binary ------------------------------------------------------------------------------------


def infer_binary(inputs, **_):
    dtype = same_dtype(inputs)
    if dtype == "bool":
        raise DtypeError("arithmetic needs numeric inputs, got bool")
    return broadcast_shapes(*(i.shape for i in inputs)), dtype


def infer_binary_float(inputs, **_):
    shape, dtype = infer_binary(inputs)
    return shape, require_float(dtype)


def both(g, node, ga, gb):
    a, b = node.inputs
    return (
        None if ga is None else unbroadcast(ga, a.shape),
        None if gb is None else unbroadcast(gb, b.shape),
    )


def vjp_pow(g, node):
    a, b = node.inputs
    ga = g * b * call("pow", a, b - const(1, b))
    gb = None if b.op == "constant" else g * node * call("log", a)
    return both(g, node, ga, gb)


def vjp_winner(a_wins_when):
    """maximum/minimum: the gradient goes to the input that wins (to a on ties)."""

    def vjp(g, node):
        a_wins = call(a_wins_when, *node.inputs)
        return both(g, node, mask(a_wins, g), mask(call("logical_not", a_wins), g))

    return vjp


def binary(name, impl, vjp, cases, infer=infer_binary, cost=1):
    defop(name, infer=infer, impl=impl, vjp=vjp, fusion="elementwise", flops=per_element(cost),
          cases=with_0d(cases))


binary("add", np.add, lambda g, n: both(g, n, g, g),
       [case(M34, F((4,))), case(F((3, 1)), F((1, 4)))])
binary("sub", np.subtract, lambda g, n: both(g, n, g, -g),
       [case(M34, F((3, 1))), case(F(()), F((2, 3)))])
binary("mul", np.multiply, lambda g, n: both(g, n, g * n.inputs[1], g * n.inputs[0]),
       [case(F((2, 3, 4)), F((3, 1)))])
binary(
    "div",
    np.divide,
    lambda g, n: both(g, n, g / n.inputs[1], -(g * n) / n.inputs[1]),
    [case(M34, In((4,), "positive")), case(F(()), In((3,), "positive"))],
    infer=infer_binary_float,
)
binary("pow", np.power, vjp_pow, [case(POS34, M34), case(POS34, F(()))],
       infer=infer_binary_float, cost=TRANSCENDENTAL)
binary("maximum", np.maximum, vjp_winner("greater_equal"), [case(M34, F((4,)))])
binary("minimum", np.minimum, vjp_winner("less_equal"), [case(M34, F((3, 1)))])


# ---- comparisons and logic (bool results, no gradient) ---------------------------------------


def infer_compare(inputs, **_):
    same_dtype(inputs)
    return broadcast_shapes(*(i.shape for i in inputs)), "bool"


def infer_logic(inputs, **_):
    if any(i.dtype != "bool" for i in inputs):
        raise DtypeError("logical ops need bool inputs")
    return broadcast_shapes(*(i.shape for i in inputs)), "bool"


for _name, _impl in (
    ("less", np.less),
    ("less_equal", np.less_equal),
    ("greater", np.greater),
    ("greater_equal", np.greater_equal),
    ("equal", np.equal),
    ("not_equal", np.not_equal),
):
    defop(_name, infer=infer_compare, impl=_impl, fusion="elementwise",
          cases=with_0d([case(M34, F((4,)), grad=False)]))
B34 = In((3, 4), "bool", "bool")
for _name, _impl, _cases in (
    ("logical_and", np.logical_and, [case(B34, In((4,), "bool", "bool"), grad=False)]),
    ("logical_or", np.logical_or, [case(B34, In((3, 1), "bool", "bool"), grad=False)]),
    ("logical_not", np.logical_not, [case(B34, grad=False)]),
):
    defop(_name, infer=infer_logic, impl=_impl, fusion="elementwise", cases=with_0d(_cases))


def infer_where(inputs, **_):
    cond, a, b = inputs
    if cond.dtype != "bool":
        raise DtypeError(f"where needs a bool condition, got {cond.dtype}")
    return broadcast_shapes(cond.shape, a.shape, b.shape), same_dtype((a, b))


def vjp_where(g, node):
    cond, a, b = node.inputs
    zero = const(0, g)
    return (
        None,
        unbroadcast(call("where", cond, g, zero), a.shape),
        unbroadcast(call("where", cond, zero, g), b.shape),
    )


defop("where", infer=infer_where, impl=np.where, vjp=vjp_where, fusion="elementwise",
      cases=with_0d([case(B34, M34, F((4,)))]))
