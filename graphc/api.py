"""The Theano-style public API: placeholders, shared variables, constants, ops as functions
and operators, and `grad`. Every function checks shapes and dtypes when it builds the node."""

from __future__ import annotations

import builtins
import numbers

import numpy as np

from graphc.ir import DtypeError, GraphError, Node, ShapeError, normalize_dtype, toposort, user_site
from graphc.ops import OPS, make_node, normalize_axes
from graphc.ops.leaves import SharedStorage, constant_node

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
    return placeholder((), dtype, name)


def vector(name=None, dtype="float32") -> Node:
    return placeholder((None,), dtype, name)


def matrix(name=None, dtype="float32") -> Node:
    return placeholder((None, None), dtype, name)


def tensor(ndim, name=None, dtype="float32") -> Node:
    return placeholder((None,) * ndim, dtype, name)


class SharedVariable(Node):
    """A node whose value lives between calls (weights, optimizer state, counters).

    The buffer is 64-byte aligned and is only ever written in place, so compiled code may keep
    a pointer to it.
    """

    __slots__ = ()

    @property
    def storage(self) -> SharedStorage:
        return self.attr("storage")

    def get_value(self) -> np.ndarray:
        return self.storage.value.copy()

    def set_value(self, value) -> None:
        value = np.asarray(value)
        current = self.storage.value
        if value.shape != current.shape:
            raise ValueError(
                f"shared {self.name!r}: new value has shape {value.shape}, expected {current.shape}"
            )
        if not np.can_cast(value.dtype, current.dtype, "same_kind"):
            raise TypeError(
                f"shared {self.name!r}: cannot store {value.dtype} into {current.dtype}"
            )
        np.copyto(current, value, casting="same_kind")


def aligned_copy(value: np.ndarray, alignment: int = 64) -> np.ndarray:
    """A C-contiguous copy of `value` whose data pointer is a multiple of `alignment`."""
    raw = np.empty(value.nbytes + alignment, dtype=np.uint8)
    start = -raw.ctypes.data % alignment
    out = raw[start : start + value.nbytes].view(value.dtype).reshape(value.shape)
    np.copyto(out, value)
    return out


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


def constant(value, dtype=None, name=None) -> Node:
    """A fixed value; Python floats become float32 unless `dtype` says otherwise."""
    if dtype is None and isinstance(value, float):
        dtype = "float32"
    return constant_node(value, dtype)


def as_node(value, like: Node | None = None) -> Node:
    """A node for `value`; Python numbers take the dtype of `like` (weak typing, as in JAX)."""
    if isinstance(value, Node):
        return value
    if isinstance(value, (bool, np.bool_)):
        return constant_node(value, "bool")
    if isinstance(value, numbers.Number) and like is not None and like.dtype != "bool":
        if isinstance(value, numbers.Integral) or like.dtype.startswith("float"):
            return constant_node(value, like.dtype)
        raise DtypeError(
            f"cannot combine the float {value} with a {like.dtype} tensor "
            f"without a cast (at {user_site()})"
        )
    if isinstance(value, (list, tuple, np.ndarray)) and like is not None:
        array = np.asarray(value)
        if array.dtype.kind == like.dtype[0] or (array.dtype.kind == "f" and like.dtype[0] == "f"):
            return constant_node(array, like.dtype)
    return constant(value)


def apply(op: str, *inputs, **attrs) -> Node:
    """Apply `op` to inputs, converting Python numbers to constants of the tensors' dtype."""
    like = next((i for i in inputs if isinstance(i, Node)), None)
    return make_node(op, [as_node(i, like) for i in inputs], attrs)


# ---- functions, one per op (plus a few compositions) ----------------------------------------

_UNARY = [
    "neg",
    "exp",
    "log",
    "log1p",
    "expm1",
    "sqrt",
    "abs",
    "sign",
    "tanh",
    "sigmoid",
    "relu",
    "softplus",
    "softsign",
    "hard_sigmoid",
    "selu",
    "square",
    "erf",
    "sin",
    "cos",
    "logical_not",
]
_BINARY = [
    "add",
    "sub",
    "mul",
    "div",
    "pow",
    "maximum",
    "minimum",
    "less",
    "less_equal",
    "greater",
    "greater_equal",
    "equal",
    "not_equal",
    "logical_and",
    "logical_or",
]


def _unary(op):
    def f(x):
        return apply(op, x)

    f.__name__ = f.__qualname__ = op
    f.__doc__ = OPS[op].doc or f"Elementwise {op}."
    return f


def _binary(op):
    def f(a, b):
        return apply(op, a, b)

    f.__name__ = f.__qualname__ = op
    f.__doc__ = OPS[op].doc or f"Elementwise {op} with NumPy broadcasting."
    return f


globals().update({op: _unary(op) for op in _UNARY})
globals().update({op: _binary(op) for op in _BINARY})
true_divide = div  # noqa: F821
eq, neq, lt, le, gt, ge = equal, not_equal, less, less_equal, greater, greater_equal  # noqa: F821


def elu(x, alpha=1.0):
    return apply("elu", x, alpha=float(alpha))


def gelu(x, approximate=False):
    return apply("gelu", x, approximate=bool(approximate))


def where(condition, a, b):
    like = a if isinstance(a, Node) else b if isinstance(b, Node) else None
    return make_node("where", [as_node(condition), as_node(a, like), as_node(b, like)])


def clip(x, min_value, max_value):
    return apply("clip", x, lo=float(min_value), hi=float(max_value))


def cast(x, dtype):
    x = as_node(x)
    dtype = normalize_dtype(dtype)
    return x if x.dtype == dtype else apply("cast", x, dtype=dtype)


def _axes(x, axis):
    return None if axis is None else normalize_axes_or_raise(x, axis)


def normalize_axes_or_raise(x, axis):
    try:
        return normalize_axes(axis, x.ndim)
    except ShapeError as err:
        raise ShapeError(f"{err} (input shape {x.shape}, at {user_site()})") from None


def sum(x, axis=None, keepdims=False):  # noqa: A001
    return apply("sum", x, axis=_axes(as_node(x), axis), keepdims=bool(keepdims))


def mean(x, axis=None, keepdims=False):
    return apply("mean", x, axis=_axes(as_node(x), axis), keepdims=bool(keepdims))


def max(x, axis=None, keepdims=False):  # noqa: A001
    return apply("max", x, axis=_axes(as_node(x), axis), keepdims=bool(keepdims))


def min(x, axis=None, keepdims=False):  # noqa: A001
    return apply("min", x, axis=_axes(as_node(x), axis), keepdims=bool(keepdims))


def argmax(x, axis=None, keepdims=False):
    return apply("argmax", x, axis=None if axis is None else int(axis), keepdims=bool(keepdims))


def argmin(x, axis=None, keepdims=False):
    return apply("argmin", x, axis=None if axis is None else int(axis), keepdims=bool(keepdims))


def matmul(a, b, transpose_a=False, transpose_b=False):
    """op(a) @ op(b); vectors are treated as in NumPy (a row on the left, a column on the right)."""
    a, b = as_node(a), as_node(b)
    if a.ndim == 1 and b.ndim == 1:
        return sum(a * b)
    if a.ndim == 1:
        return reshape(matmul(reshape(a, (1, -1)), b, False, transpose_b), b.shape[:-2] + (-1,))
    if b.ndim == 1:
        out = matmul(a, reshape(b, (-1, 1)), transpose_a, False)
        return reshape(out, tuple(-1 if d is None else d for d in out.shape[:-1]))
    return make_node(
        "matmul", [a, b], {"transpose_a": bool(transpose_a), "transpose_b": bool(transpose_b)}
    )


dot = matmul


def transpose(x, axes=None):
    x = as_node(x)
    axes = tuple(reversed(range(x.ndim))) if axes is None else tuple(a % x.ndim for a in axes)
    return apply("transpose", x, axes=axes)


def reshape(x, shape):
    shape = (
        (shape,) if isinstance(shape, int) else tuple(-1 if d is None else int(d) for d in shape)
    )
    x = as_node(x)
    return x if x.shape == shape else apply("reshape", x, shape=shape)


def expand_dims(x, axis):
    x = as_node(x)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return apply("expand_dims", x, axis=normalize_axes(axes, x.ndim + len(axes)))


def broadcast_to(x, shape):
    return apply("broadcast_to", x, shape=tuple(int(d) for d in shape))


def concatenate(xs, axis=0):
    xs = [as_node(x) for x in xs]
    return make_node("concatenate", xs, {"axis": int(axis)})


def stack(xs, axis=0):
    return make_node("stack", [as_node(x) for x in xs], {"axis": int(axis)})


def take(x, indices, axis=0):
    return make_node("take", [as_node(x), as_node(indices)], {"axis": int(axis)})


def softmax(x, axis=-1):
    return apply("softmax", x, axis=int(axis))


def log_softmax(x, axis=-1):
    return apply("log_softmax", x, axis=int(axis))


def one_hot(indices, depth, dtype="float32"):
    return apply("one_hot", indices, depth=int(depth), dtype=normalize_dtype(dtype))


def random_uniform(key, like):
    """Uniform [0, 1) numbers shaped like `like`, a pure function of the integer `key`."""
    return make_node("random_uniform", [as_node(key), as_node(like)])


def size(x, axis=None, dtype="float32"):
    """Number of elements of `x` over `axis`, as a scalar known at run time."""
    return apply("size", x, axis=_axes(as_node(x), axis), dtype=normalize_dtype(dtype))


# ---- gradients -------------------------------------------------------------------------------


def _infer_grad(inputs, *, disconnected):
    return inputs[1].shape, inputs[1].dtype


def _no_impl(*_, **__):
    raise GraphError("grad nodes are expanded by the differentiate pass before running")


from graphc.ops import defop  # noqa: E402

defop(
    "grad",
    infer=_infer_grad,
    impl=_no_impl,
    kind="special",
    doc="d(cost)/d(wrt), expanded into gradient ops by passes.autodiff.differentiate.",
)


def grad(cost, wrt, disconnected="raise"):
    """Symbolic gradient of a scalar `cost` with respect to `wrt` (a node, or a list, tuple or
    dict of nodes); returns the same structure. The gradient graph is built by the
    `differentiate` pass, so functions show it as its own stage.

    disconnected: 'raise' (default) when cost does not depend on a wrt, or 'zeros'.
    Example: `gW, gb = gc.grad(loss, [W, b])`
    """
    if isinstance(wrt, dict):
        return dict(zip(wrt, grad(cost, list(wrt.values()), disconnected)))
    if isinstance(wrt, (list, tuple)):
        return type(wrt)(grad(cost, w, disconnected) for w in wrt)
    if not isinstance(cost, Node) or cost.shape != ():
        shape = getattr(cost, "shape", None)
        raise ShapeError(f"grad: cost must be a scalar node, got shape {shape} (at {user_site()})")
    if cost.dtype not in ("float32", "float64") or wrt.dtype not in ("float32", "float64"):
        raise DtypeError(
            f"grad: needs float cost and wrt, got {cost.dtype} and {wrt.dtype} (at {user_site()})"
        )
    if disconnected not in ("raise", "zeros"):
        raise ValueError(f"grad: disconnected must be 'raise' or 'zeros', got {disconnected!r}")
    if disconnected == "raise" and not any(n is wrt for n in toposort([cost])):
        label = wrt.name or repr(wrt)
        raise GraphError(
            f"grad: the cost does not depend on {label}; pass disconnected='zeros' "
            f"to get zeros (at {user_site()})"
        )
    return make_node("grad", [cost, wrt], {"disconnected": disconnected})


# ---- operators and methods on nodes ------------------------------------------------------------


builtins_sum = builtins.sum  # this module defines its own `sum`


def _index(x: Node, key) -> tuple:
    """A Python index (basic indexing only) as the hashable form the getitem op stores."""
    key = key if isinstance(key, tuple) else (key,)
    if builtins_sum(k is Ellipsis for k in key) > 1:
        raise IndexError("an index can only have a single ellipsis")
    taken = builtins_sum(1 for k in key if k is not None and k is not Ellipsis)
    out = []
    for k in key:
        if k is Ellipsis:
            out.extend([("slice", None, None, None)] * (x.ndim - taken))
        elif k is None:
            out.append(("newaxis",))
        elif isinstance(k, slice):
            out.append(("slice", k.start, k.stop, k.step))
        elif isinstance(k, (int, np.integer)):
            out.append(("int", int(k)))
        else:
            raise IndexError(
                f"graphc supports basic indexing (ints, slices, None, ...); got "
                f"{type(k).__name__}: use gc.take for gathers (at {user_site()})"
            )
    return tuple(out)


def _getitem(x, key):
    return make_node("getitem", [x], {"index": _index(x, key)})


def _eval(x, feed=None):
    """Evaluate with the NumPy interpreter: `y.eval({x: value})`."""
    from graphc.function import function

    feed = feed or {}
    return function(list(feed), x, backend="numpy")(*feed.values())


_METHODS = {
    "__add__": lambda a, b: apply("add", a, b),
    "__radd__": lambda a, b: apply("add", b, a),
    "__sub__": lambda a, b: apply("sub", a, b),
    "__rsub__": lambda a, b: apply("sub", b, a),
    "__mul__": lambda a, b: apply("mul", a, b),
    "__rmul__": lambda a, b: apply("mul", b, a),
    "__truediv__": lambda a, b: apply("div", a, b),
    "__rtruediv__": lambda a, b: apply("div", b, a),
    "__pow__": lambda a, b: apply("pow", a, b),
    "__rpow__": lambda a, b: apply("pow", b, a),
    "__matmul__": lambda a, b: matmul(a, b),
    "__rmatmul__": lambda a, b: matmul(b, a),
    "__neg__": lambda a: apply("neg", a),
    "__abs__": lambda a: apply("abs", a),
    "__lt__": lambda a, b: apply("less", a, b),
    "__le__": lambda a, b: apply("less_equal", a, b),
    "__gt__": lambda a, b: apply("greater", a, b),
    "__ge__": lambda a, b: apply("greater_equal", a, b),
    "__invert__": lambda a: apply("logical_not", a),
    "__and__": lambda a, b: apply("logical_and", a, b),
    "__or__": lambda a, b: apply("logical_or", a, b),
    "__getitem__": _getitem,
    "sum": sum,
    "mean": mean,
    "max": max,
    "min": min,
    "argmax": argmax,
    "argmin": argmin,
    "reshape": lambda x, *shape: reshape(x, shape[0] if len(shape) == 1 else shape),
    "transpose": lambda x, *axes: transpose(x, axes or None),
    "astype": cast,
    "eval": _eval,
    "T": property(lambda x: transpose(x)),
}
for _name, _method in _METHODS.items():
    setattr(Node, _name, _method)
