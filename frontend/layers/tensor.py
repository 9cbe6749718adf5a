"""Symbolic tensors of the functional API and the record of each layer call.

`Input(shape=(784,))` returns a `KerasTensor`: a graphc node (built with training=False) plus
its history, the (layer, call index, output index) that produced it. Calling a layer on
KerasTensors adds a `CallRecord`; a functional `Model` replays those records on fresh graphc
placeholders with training=True or False.

`CallContext` collects what a call produces besides its outputs while a training graph is
built: state updates (BatchNormalization's moving averages) and extra losses.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import numpy as np

from graphc.ir import Node, user_site


class KerasTensor:
    """A symbolic value in a functional model: `.shape` (batch dim None), `.dtype`, `.name`.
    Math on it (`x + 1`, `x[:, 0]`, ops.mean(x)) adds op layers to the model."""

    def __init__(self, node: Node, history=None, name=None):
        self.node = node
        self.history = history  # (layer, call_index, tensor_index)
        self.name = name or node.name

    @property
    def shape(self) -> tuple:
        return self.node.shape

    @property
    def dtype(self) -> str:
        return self.node.dtype

    @property
    def ndim(self) -> int:
        return len(self.node.shape)

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"

    def __bool__(self):
        raise TypeError("A symbolic KerasTensor has no truth value")

    def _no_value(self, *_, **__):  # NumPy 2's __array__ also gets dtype= and copy=
        raise TypeError(
            f"{self!r} is symbolic: it has no value until the model runs, so it cannot become "
            f"a NumPy array or number. Use it as the input of layers or frontend.ops / "
            f"frontend.backend functions, or call model.predict for values (at {user_site()})"
        )

    __int__ = __float__ = __array__ = _no_value

    # Math operators (`x + y`, `x[:, 0]`, ...) are installed by frontend/ops/tensor_operators.py:
    # each becomes an op layer. NumPy defers to them instead of looping over a KerasTensor.
    __array_ufunc__ = None


class EagerArray(np.ndarray):
    """What a layer called on arrays returns: a NumPy array that also has Keras's tensor
    method `numpy()` (scripts print `layer(x).numpy()`)."""

    def numpy(self) -> np.ndarray:
        return np.asarray(self)


@dataclass
class CallRecord:
    """One call of a layer on KerasTensors: `inputs` keeps the structure it was called with
    (a tensor or a list of tensors), `outputs` is a flat list."""

    layer: object
    inputs: object
    outputs: list
    kwargs: dict = field(default_factory=dict)

    @property
    def input_tensors(self) -> list:
        return flatten(self.inputs)


def flatten(structure) -> list:
    if isinstance(structure, (list, tuple)):
        return [x for item in structure for x in flatten(item)]
    if isinstance(structure, dict):
        return [x for key in structure for x in flatten(structure[key])]
    return [structure]


def map_structure(fn, structure):
    if isinstance(structure, (list, tuple)):
        return type(structure)(map_structure(fn, s) for s in structure)
    if isinstance(structure, dict):
        return {k: map_structure(fn, v) for k, v in structure.items()}
    return fn(structure)


def is_symbolic(structure) -> bool:
    items = flatten(structure)
    return bool(items) and all(isinstance(x, KerasTensor) for x in items)


def has_nodes(structure) -> bool:
    return any(isinstance(x, Node) for x in flatten(structure))


# ---- what a call produces besides outputs ----------------------------------------------------


@dataclass
class CallContext:
    training: bool = False
    eager: bool = False  # a layer called on arrays: state assignments apply right away
    updates: list = field(default_factory=list)  # (shared variable, new value) pairs
    losses: list = field(default_factory=list)  # scalar nodes added to the training loss


_CONTEXTS: list[CallContext] = []


@contextlib.contextmanager
def call_context(training: bool, eager: bool = False):
    """Collect state updates and losses of the layer calls made inside the block."""
    ctx = CallContext(training=training, eager=eager)
    _CONTEXTS.append(ctx)
    try:
        yield ctx
    finally:
        _CONTEXTS.pop()


def current_context() -> CallContext | None:
    return _CONTEXTS[-1] if _CONTEXTS else None
