"""Leaves of a graph: placeholders (inputs), shared variables (state), constants.

`SharedVariable` and `aligned_copy` live here so backends can bind shared state without the
public API."""

from __future__ import annotations

import numpy as np

from graphc.ir import DTYPES, Node, normalize_dtype
from graphc.ops import defop, make_node


class Literal:
    """A constant's value, hashable by content so equal constants can be merged."""

    __slots__ = ("value", "_key")

    def __init__(self, value: np.ndarray):
        self.value = value
        self.value.flags.writeable = False
        self._key = (value.dtype.str, value.shape, value.tobytes())

    def __hash__(self):
        return hash(self._key)

    def __eq__(self, other):
        return isinstance(other, Literal) and self._key == other._key

    def __repr__(self):
        if self.value.size <= 4:
            return repr(self.value.tolist())
        return f"array{self.value.shape}"


class SharedStorage:
    """The mutable value behind a shared variable; nodes refer to it by identity."""

    def __init__(self, value: np.ndarray, name: str | None):
        self.value = value
        self.name = name

    def __repr__(self):
        return f"shared:{self.name or hex(id(self))}"


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


def _no_impl(*_, **__):
    raise RuntimeError("leaves are bound by the executor, not computed")


def infer_placeholder(inputs, *, shape, dtype):
    return shape, dtype


def infer_shared(inputs, *, storage):
    return storage.value.shape, storage.value.dtype.name


def infer_constant(inputs, *, value):
    return value.value.shape, value.value.dtype.name


defop(
    "placeholder",
    infer=infer_placeholder,
    impl=_no_impl,
    fusion="leaf",
    doc="A function input, bound at call time.",
)
defop(
    "shared",
    infer=infer_shared,
    impl=_no_impl,
    fusion="leaf",
    doc="Mutable state kept between calls (weights, optimizer slots).",
)
defop(
    "constant",
    infer=infer_constant,
    impl=lambda *, value: value.value,
    fusion="leaf",
    doc="A value fixed when the graph is built.",
)


def leaf_value(node: Node) -> np.ndarray:
    """The value a constant or shared leaf holds now (placeholders have none until a call)."""
    if node.op == "constant":
        return node.attr("value").value
    if node.op == "shared":
        return node.attr("storage").value
    raise KeyError(f"{node!r} holds no value of its own: only constants and shared variables do")


def constant_node(value, dtype=None, site=None):
    array = np.array(value, dtype=normalize_dtype(dtype) if dtype else None)
    if array.dtype.name not in DTYPES:
        array = array.astype("int64" if array.dtype.kind in "iu" else "float32")
    return make_node("constant", (), {"value": Literal(array)}, site=site)
