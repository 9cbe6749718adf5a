"""Math operators on symbolic KerasTensors (Keras 3 allows them while a functional model is
built): `x + y`, `2 - x`, `-x`, `x @ w`, `x[:, 0]`, `x < 0`, ... Each is the frontend.ops
function of the same meaning, so it becomes an op layer of the model.

As in Keras 3, `!=` is ops.not_equal but `==` keeps Python's identity meaning (so tensors can
be looked up in lists): use ops.equal.
"""

from __future__ import annotations

from frontend.layers.tensor import KerasTensor
from frontend.ops import linalg, math_ops, shape_ops


def _swapped(fn):
    return lambda a, b: fn(b, a)


OPERATORS = {
    "__add__": math_ops.add,
    "__radd__": _swapped(math_ops.add),
    "__sub__": math_ops.subtract,
    "__rsub__": _swapped(math_ops.subtract),
    "__mul__": math_ops.multiply,
    "__rmul__": _swapped(math_ops.multiply),
    "__truediv__": math_ops.true_divide,
    "__rtruediv__": _swapped(math_ops.true_divide),
    "__floordiv__": math_ops.floor_divide,
    "__rfloordiv__": _swapped(math_ops.floor_divide),
    "__mod__": math_ops.mod,
    "__rmod__": _swapped(math_ops.mod),
    "__pow__": math_ops.power,
    "__rpow__": _swapped(math_ops.power),
    "__matmul__": linalg.matmul,
    "__rmatmul__": _swapped(linalg.matmul),
    "__neg__": math_ops.negative,
    "__abs__": math_ops.absolute,
    "__lt__": math_ops.less,
    "__le__": math_ops.less_equal,
    "__gt__": math_ops.greater,
    "__ge__": math_ops.greater_equal,
    "__invert__": math_ops.logical_not,
    "__and__": math_ops.logical_and,
    "__rand__": _swapped(math_ops.logical_and),
    "__or__": math_ops.logical_or,
    "__ror__": _swapped(math_ops.logical_or),
    "__xor__": math_ops.logical_xor,
    "__rxor__": _swapped(math_ops.logical_xor),
    "__ne__": math_ops.not_equal,
    "__round__": lambda x, ndigits=None: math_ops.round(x, ndigits or 0),
    "reshape": shape_ops.reshape,
    "squeeze": shape_ops.squeeze,
    "__getitem__": shape_ops.getitem,
}


def install() -> None:
    """Put the operators on KerasTensor (done once, when frontend.ops is imported)."""
    for name, fn in OPERATORS.items():
        setattr(KerasTensor, name, fn)
