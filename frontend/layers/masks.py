"""Keras masks: a boolean (batch, time) value that travels with a layer's output and says which
time steps are real (True) and which are padding (False).

graphc nodes are immutable, so a node's mask lives in a side table keyed by the node (held
weakly, so the table never keeps a graph alive). `MaskedCalls` is the Layer's part of Keras 3's
protocol: a layer whose `call` takes `mask` receives its input's mask; a layer that
`supports_masking` attaches `compute_mask(inputs, previous_mask)` to its outputs (by default
the input's mask, unchanged); a layer that does not drops the mask, with Keras's warning.
A KerasTensor shows its node's mask as `_keras_mask`, as in Keras.
"""

from __future__ import annotations

import functools
import inspect
import warnings
import weakref

from frontend.layers.tensor import KerasTensor, flatten, map_structure

_MASKS: dict[int, tuple] = {}  # id(node) -> (weak reference to the node, its mask node)


def set_keras_mask(node, mask) -> None:
    """Attach `mask` (a boolean node, or None to clear) to `node`."""
    key = id(node)
    if mask is None:
        _MASKS.pop(key, None)
        return
    _MASKS[key] = (weakref.ref(node, lambda _ref: _MASKS.pop(key, None)), mask)


def get_keras_mask(node):
    """The mask attached to `node`, or None (also for anything that is not a node)."""
    entry = _MASKS.get(id(node))
    return entry[1] if entry is not None and entry[0]() is node else None


def symbolic_mask(tensor: KerasTensor):
    """Keras's `tensor._keras_mask`: the mask as a KerasTensor (to inspect), or None."""
    mask = get_keras_mask(tensor.node)
    return None if mask is None else KerasTensor(mask, name=f"{tensor.name}_mask")


KerasTensor._keras_mask = property(symbolic_mask)


def masks_of(inputs):
    """The masks of a structure of nodes, or None when none of them has one."""
    masks = map_structure(get_keras_mask, inputs)
    return masks if any(m is not None for m in flatten(masks)) else None


def first_mask(mask):
    """The mask of the first input (RNNs called on [x, *initial_states])."""
    return flatten(mask)[0] if mask is not None else None


@functools.cache
def positional_names(layer_class) -> tuple:
    """The names `call` binds positional arguments to (after self)."""
    parameters = inspect.signature(layer_class.call).parameters.values()
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return tuple(p.name for p in parameters if p.kind in kinds)[1:]


@functools.cache
def call_parameters(layer_class) -> frozenset:
    return frozenset(inspect.signature(layer_class.call).parameters)


class MaskedCalls:
    """Mask handling mixed into Layer (Keras 3's `supports_masking` / `compute_mask`)."""

    _supports_masking = None  # None: true when the class defines its own compute_mask

    @property
    def supports_masking(self) -> bool:
        if self._supports_masking is not None:
            return self._supports_masking
        return type(self).compute_mask is not MaskedCalls.compute_mask

    @supports_masking.setter
    def supports_masking(self, value) -> None:
        self._supports_masking = bool(value)

    def compute_mask(self, inputs, previous_mask):
        """The mask of the outputs; by default the input's mask, passed on unchanged."""
        return previous_mask

    def _pass_mask(self, inputs, rest, kwargs: dict):
        """Keras 3's rule: `call(..., mask=None)` receives the first input's mask and
        `call(query, value, query_mask=None, value_mask=None)` each named input's, unless
        given; returns the first input's mask."""
        parameters, positional = call_parameters(type(self)), positional_names(type(self))
        previous = masks_of(inputs)
        if "mask" in parameters and kwargs.get("mask") is None:
            kwargs["mask"] = previous
        bound = positional[: 1 + len(rest)]
        for name, value in [*zip(bound, (inputs, *rest)), *list(kwargs.items())]:
            key = f"{name}_mask"
            if key in parameters and key not in bound and kwargs.get(key) is None:
                kwargs[key] = masks_of(value)
        return previous

    def _attach_masks(self, inputs, outputs, previous) -> None:
        """Keras 3's _set_mask_metadata: outputs that have no mask yet get compute_mask's."""
        flat_outputs = flatten(outputs)
        if not self.supports_masking:
            if previous is not None and all(get_keras_mask(o) is None for o in flat_outputs):
                warnings.warn(
                    f"Layer '{self.name}' (of type {type(self).__name__}) was passed an input "
                    f"with a mask attached to it. However, this layer does not support masking "
                    f"and will therefore destroy the mask information. Downstream layers will "
                    f"not see the mask.",
                    stacklevel=4,
                )
            return
        if all(get_keras_mask(o) is not None for o in flat_outputs):
            return
        computed = self.compute_mask(inputs, previous)
        if computed is None:
            return
        for output, mask in zip(flat_outputs, flatten(computed)):
            if get_keras_mask(output) is None and mask is not None:
                set_keras_mask(output, mask)
