"""The Theano-style public API: placeholders, shared variables, constants, ops as functions,
`grad`, and `.eval` on nodes. Every function checks shapes and dtypes when it builds the node.

Operators and methods on nodes (`a + b`, `x.sum()`, ...) come with the op table
(graphc/ops/operators.py); the functions they share are re-exported here.
"""

from __future__ import annotations

import numpy as np

from graphc.function import function
from graphc.ir import Node, ShapeError, normalize_dtype, user_site
from graphc.ops import make_node, normalize_axes
from graphc.ops.grad import grad  # noqa: F401 (gc.grad)
from graphc.ops.leaves import SharedStorage, SharedVariable, aligned_copy  # noqa: F401
from graphc.ops.operators import (  # noqa: F401 (public as gc.sum, gc.reshape, ...)
    apply,
    argmax,
    argmin,
    as_node,
    cast,
    constant,
    matmul,
    max,
    mean,
    min,
    reduction_axes,
    reshape,
    sum,
    transpose,
)

# ---- leaves ------------------------------------------------------------------------------------


def placeholder(shape, dtype="float32", name=None) -> Node:
    """A symbolic input. `None` in `shape` marks a dimension known only at run time.

    Example: `x = gc.placeholder((None, 784), name="x")`
    """
    shape = tuple(None if d is None else int(d) for d in shape)
    if any(d is not None and d < 0 for d in shape):
        raise ShapeError(f"placeholder {name!r}: negative dimension in {shape} (at {user_site()})")
    dtype = normalize_dtype(dtype)
    return make_node("placeholder", (), {"shape": shape, "dtype": dtype}, name=name)


def scalar(name=None, dtype="float32") -> Node:
    """A 0-d placeholder."""
    return placeholder((), dtype, name)


def vector(name=None, dtype="float32") -> Node:
    """A 1-d placeholder of any length."""
    return placeholder((None,), dtype, name)


def matrix(name=None, dtype="float32") -> Node:
    """A 2-d placeholder of any shape."""
    return placeholder((None, None), dtype, name)


def tensor(ndim, name=None, dtype="float32") -> Node:
    """An `ndim`-d placeholder of any shape."""
    return placeholder((None,) * ndim, dtype, name)


def shared(value, name=None, dtype=None) -> SharedVariable:
    """Mutable state. Example: `W = gc.shared(np.zeros((784, 10), "float32"), name="W")`."""
    array = np.asarray(value, dtype=dtype)
    if (
        array.dtype == np.float64
        and dtype is None
        and not isinstance(value, (np.ndarray, np.generic))
    ):
        array = array.astype("float32")  # Python floats default to float32, like Theano's floatX
    normalize_dtype(array.dtype)
    storage = SharedStorage(aligned_copy(array), name)
    node = make_node("shared", (), {"storage": storage}, name=name)
    return SharedVariable(
        node.op, node.inputs, node.attr_dict, node.shape, node.dtype, name=name, site=node.site
    )


# ---- elementwise functions, one per op -----------------------------------------------------------


def neg(x) -> Node:
    """Elementwise -x."""
    return apply("neg", x)


def exp(x) -> Node:
    """Elementwise e**x."""
    return apply("exp", x)


def log(x) -> Node:
    """Elementwise natural logarithm."""
    return apply("log", x)


def log1p(x) -> Node:
    """Elementwise log(1 + x), accurate for tiny x."""
    return apply("log1p", x)


def expm1(x) -> Node:
    """Elementwise e**x - 1, accurate for tiny x."""
    return apply("expm1", x)


def sqrt(x) -> Node:
    """Elementwise square root."""
    return apply("sqrt", x)


def abs(x) -> Node:  # noqa: A001
    """Elementwise |x|."""
    return apply("abs", x)


def sign(x) -> Node:
    """Elementwise -1, 0 or 1 by the sign of x (gradient zero almost everywhere)."""
    return apply("sign", x)


def stop_gradient(x) -> Node:
    """x itself, as a constant to `grad`: no gradient flows through it (Theano's
    disconnected_grad, Keras's ops.stop_gradient)."""
    return apply("stop_gradient", x)


def tanh(x) -> Node:
    """Elementwise hyperbolic tangent."""
    return apply("tanh", x)


def sigmoid(x) -> Node:
    """Elementwise 1 / (1 + e**-x)."""
    return apply("sigmoid", x)


def relu(x) -> Node:
    """Elementwise max(x, 0)."""
    return apply("relu", x)


def softplus(x) -> Node:
    """Elementwise log(1 + e**x)."""
    return apply("softplus", x)


def softsign(x) -> Node:
    """Elementwise x / (1 + |x|)."""
    return apply("softsign", x)


def hard_sigmoid(x) -> Node:
    """Elementwise hard sigmoid as in Keras 3: relu6(x + 3) / 6."""
    return apply("hard_sigmoid", x)


def selu(x) -> Node:
    """Elementwise scaled exponential linear unit."""
    return apply("selu", x)


def square(x) -> Node:
    """Elementwise x * x."""
    return apply("square", x)


def erf(x) -> Node:
    """Elementwise error function erf(x)."""
    return apply("erf", x)


def sin(x) -> Node:
    """Elementwise sine."""
    return apply("sin", x)


def cos(x) -> Node:
    """Elementwise cosine."""
    return apply("cos", x)


def logical_not(x) -> Node:
    """Elementwise boolean not."""
    return apply("logical_not", x)


def add(a, b) -> Node:
    """Elementwise a + b, with NumPy broadcasting."""
    return apply("add", a, b)


def sub(a, b) -> Node:
    """Elementwise a - b, with NumPy broadcasting."""
    return apply("sub", a, b)


def mul(a, b) -> Node:
    """Elementwise a * b, with NumPy broadcasting."""
    return apply("mul", a, b)


def div(a, b) -> Node:
    """Elementwise a / b, with NumPy broadcasting."""
    return apply("div", a, b)


def pow(a, b) -> Node:  # noqa: A001
    """Elementwise a ** b, with NumPy broadcasting."""
    return apply("pow", a, b)


def maximum(a, b) -> Node:
    """Elementwise larger of a and b, with NumPy broadcasting."""
    return apply("maximum", a, b)


def minimum(a, b) -> Node:
    """Elementwise smaller of a and b, with NumPy broadcasting."""
    return apply("minimum", a, b)


def less(a, b) -> Node:
    """Elementwise a < b, with NumPy broadcasting."""
    return apply("less", a, b)


def less_equal(a, b) -> Node:
    """Elementwise a <= b, with NumPy broadcasting."""
    return apply("less_equal", a, b)


def greater(a, b) -> Node:
    """Elementwise a > b, with NumPy broadcasting."""
    return apply("greater", a, b)


def greater_equal(a, b) -> Node:
    """Elementwise a >= b, with NumPy broadcasting."""
    return apply("greater_equal", a, b)


def equal(a, b) -> Node:
    """Elementwise a == b, with NumPy broadcasting."""
    return apply("equal", a, b)


def not_equal(a, b) -> Node:
    """Elementwise a != b, with NumPy broadcasting."""
    return apply("not_equal", a, b)


def logical_and(a, b) -> Node:
    """Elementwise boolean a and b, with NumPy broadcasting."""
    return apply("logical_and", a, b)


def logical_or(a, b) -> Node:
    """Elementwise boolean a or b, with NumPy broadcasting."""
    return apply("logical_or", a, b)


eq, neq, lt, le, gt, ge = equal, not_equal, less, less_equal, greater, greater_equal


def elu(x, alpha=1.0) -> Node:
    """Exponential linear unit: x if x > 0 else alpha * (e**x - 1)."""
    return apply("elu", x, alpha=float(alpha))


def gelu(x, approximate=False) -> Node:
    """Gaussian error linear unit (the tanh approximation when `approximate`)."""
    return apply("gelu", x, approximate=bool(approximate))


def where(condition, a, b) -> Node:
    """`a` where `condition` holds, else `b`, as numpy.where."""
    like = a if isinstance(a, Node) else b if isinstance(b, Node) else None
    return make_node("where", [as_node(condition), as_node(a, like), as_node(b, like)])


def clip(x, min_value, max_value) -> Node:
    """`x` limited to [min_value, max_value]."""
    return apply("clip", x, lo=float(min_value), hi=float(max_value))


# ---- shapes, gathers, softmax --------------------------------------------------------------------

dot = matmul


def expand_dims(x, axis) -> Node:
    """`x` with new axes of length 1 at `axis` (an int or a tuple), as numpy.expand_dims."""
    x = as_node(x)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return apply("expand_dims", x, axis=normalize_axes(axes, x.ndim + len(axes)))


def broadcast_to(x, shape) -> Node:
    """`x` broadcast to `shape`, as numpy.broadcast_to."""
    return apply("broadcast_to", x, shape=tuple(int(d) for d in shape))


def concatenate(xs, axis=0) -> Node:
    """The nodes `xs` joined along an existing axis."""
    return make_node("concatenate", [as_node(x) for x in xs], {"axis": int(axis)})


def stack(xs, axis=0) -> Node:
    """The nodes `xs` joined along a new axis."""
    return make_node("stack", [as_node(x) for x in xs], {"axis": int(axis)})


def take(x, indices, axis=0) -> Node:
    """Elements of `x` at integer `indices` along `axis`, as numpy.take."""
    return make_node("take", [as_node(x), as_node(indices)], {"axis": int(axis)})


def softmax(x, axis=-1) -> Node:
    """e**x normalised to sum to 1 along `axis`."""
    return apply("softmax", x, axis=int(axis))


def log_softmax(x, axis=-1) -> Node:
    """log(softmax(x)), computed stably."""
    return apply("log_softmax", x, axis=int(axis))


def one_hot(indices, depth, dtype="float32") -> Node:
    """Integer `indices` as one-hot rows of length `depth`."""
    return apply("one_hot", indices, depth=int(depth), dtype=normalize_dtype(dtype))


def random_uniform(key, like, offset=None) -> Node:
    """Uniform [0, 1) numbers shaped like `like`, a pure function of the integer `key`;
    `offset` (an integer scalar) starts them that many numbers into the stream."""
    inputs = [as_node(key), as_node(like)] + ([] if offset is None else [as_node(offset)])
    return make_node("random_uniform", inputs)


def size(x, axis=None, dtype="float32") -> Node:
    """Number of elements of `x` over `axis`, as a scalar known at run time."""
    return apply("size", x, axis=reduction_axes(as_node(x), axis), dtype=normalize_dtype(dtype))


# ---- evaluation --------------------------------------------------------------------------------


def _evaluate(x: Node, feed=None):
    """Evaluate with the NumPy interpreter: `y.eval({x: value})`."""
    feed = feed or {}
    return function(list(feed), x, backend="numpy")(*feed.values())


Node.eval = _evaluate  # needs the passes, so it is installed here, above them, not by the op table
