"""How a Layer finds what it holds and how it was made: the layers in its attributes
(directly or in lists, tuples and dicts), its constructor's arguments (Keras 3's automatic
config of custom classes); and two steps of a call: keyword tensors of a functional call
become inputs, flat results take the structure of the outputs."""

from __future__ import annotations

import functools
import inspect
import json

from frontend.layers.tensor import KerasTensor, flatten, is_symbolic
from graphc.ir import user_site


def init_arguments(cls, args, kwargs) -> dict | None:
    """The constructor's arguments by name, or None when they are not all JSON values."""
    try:
        bound = inspect.signature(cls.__init__).bind(None, *args, **kwargs).arguments
    except TypeError:
        return None  # __init__ raises its own, clearer error next
    params = inspect.signature(cls.__init__).parameters
    named = {}
    for key, value in list(bound.items())[1:]:
        kind = params[key].kind
        if kind == inspect.Parameter.VAR_POSITIONAL:
            if value:
                return None
            continue
        named.update(value if kind == inspect.Parameter.VAR_KEYWORD else {key: value})
    try:
        json.dumps(named)
    except (TypeError, ValueError):
        return None
    return named


def auto_config(layer) -> dict:
    """Keras 3's automatic config of a custom class: the arguments its constructor was
    called with, when they are plain JSON values; otherwise it must define get_config."""
    if layer._init_arguments is None:
        raise NotImplementedError(
            f"{type(layer).__name__} was constructed with arguments that are not plain "
            f"JSON values, so it needs a get_config() method returning them (and, if "
            f"needed, a from_config classmethod) to be saved"
        )
    return dict(layer._init_arguments)


def layers_in(value, kind: type) -> list:
    """The instances of `kind` in value, or in its (nested) lists, tuples and dict values."""
    if isinstance(value, kind):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [layer for item in value for layer in layers_in(item, kind)]
    return []


def marks_built(build):
    """`build` that also sets `built`, so a layer built by hand is not built again."""

    @functools.wraps(build)
    def build_and_mark(self, *args, **kwargs):
        result = build(self, *args, **kwargs)
        self.built = True
        self._build_input_shape = args[0] if args else kwargs.get("input_shape")
        return result

    return build_and_mark


def unique(items) -> list:
    seen, out = set(), []
    for item in items:
        if id(item) not in seen:
            seen.add(id(item))
            out.append(item)
    return out


def fold_symbolic_keywords(layer, inputs, kwargs):
    """Keras 2's rule for KerasTensors given as keywords: `initial_state=[h, c]` becomes
    the list input `[x, h, c]` (the functional graph records tensors only as inputs)."""
    kwargs = dict(kwargs)
    state = kwargs.pop("initial_state", None)
    if state is not None and is_symbolic(state):
        inputs = [inputs, *flatten(state)]
    elif state is not None:
        kwargs["initial_state"] = state
    for key, value in kwargs.items():
        if any(isinstance(t, KerasTensor) for t in flatten(value)):
            raise TypeError(
                f"Layer '{layer.name}' ({type(layer).__name__}) got KerasTensors in its "
                f"keyword argument `{key}`; a functional model passes tensors as the "
                f"layer's inputs only: call it on a list of tensors instead "
                f"(at {user_site()})"
            )
    return inputs, kwargs


def restructure(outputs, flat_values):
    """`flat_values` arranged like `outputs` (a node or a list/tuple of nodes)."""
    if isinstance(outputs, (list, tuple)):
        return type(outputs)(flat_values)
    return flat_values[0]
