"""Leaves of a graph: placeholders (inputs), shared variables (state), constants."""

from __future__ import annotations

import numpy as np

from graphc.ir import normalize_dtype
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


def constant_node(value, dtype=None, site=None):
    array = np.array(value, dtype=normalize_dtype(dtype) if dtype else None)
    if array.dtype.name not in ("float32", "float64", "int32", "int64", "bool"):
        array = array.astype("int64" if array.dtype.kind in "iu" else "float32")
    return make_node("constant", (), {"value": Literal(array)}, site=site)
