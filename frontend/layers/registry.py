"""The layer registry (class name -> class, for from_config and load_model) and the keyword
check every layer shares: an unknown keyword is a TypeError that suggests the closest valid
name (Keras 1 spellings are renamed before, by frontend/legacy_names.py)."""

from __future__ import annotations

import contextlib
import inspect

from frontend.compat import reject_unknown, signature_names, suggest

LAYERS: dict[str, type] = {}

# Keywords every layer accepts besides its own (Keras 2/3 base-layer arguments).
BASE_KWARGS = {
    "input_shape",
    "input_dim",
    "batch_input_shape",
    "batch_size",
    "weights",
    "activity_regularizer",
}


def register_layer(cls=None, *, name=None):
    """Register a layer class for `from_config`/`load_model` (done automatically for every
    Layer subclass; use it to register under another name)."""

    def add(c):
        LAYERS[name or c.__name__] = c
        return c

    return add if cls is None else add(cls)


def get_layer_class(class_name: str, custom_objects=None) -> type:
    if custom_objects and class_name in custom_objects:
        return custom_objects[class_name]
    if class_name not in LAYERS:
        raise ValueError(
            f"Unknown layer class {class_name!r}.{suggest(class_name, LAYERS)} If "
            f"it is a custom layer, pass it in custom_objects={{'{class_name}': ...}}"
        )
    return LAYERS[class_name]


def serialize(layer) -> dict:
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def deserialize(config: dict, custom_objects=None):
    """A layer from `{"class_name": ..., "config": ...}` (classes that take custom_objects in
    from_config, such as Lambda and models, receive them)."""
    cls = get_layer_class(config["class_name"], custom_objects)
    with config_location(f"layer {config['config'].get('name')!r} ({config['class_name']})"):
        if "custom_objects" in inspect.signature(cls.from_config).parameters:
            return cls.from_config(config["config"], custom_objects=custom_objects)
        return cls.from_config(config["config"])


@contextlib.contextmanager
def config_location(where: str):
    """Mark an error raised inside with `where` (the innermost mark wins) as its
    `config_location`, so that load_model can say which layer of a saved config failed."""
    try:
        yield
    except Exception as err:
        if not hasattr(err, "config_location"):
            err.config_location = where
        raise


def check_keywords(layer_cls, kwargs: dict, base_init) -> None:
    """TypeError for a keyword that neither the layer nor the base class takes, suggesting the
    closest valid one (`unit` -> `units`); `base_init` is Layer.__init__."""
    unknown = {k: v for k, v in kwargs.items() if k not in BASE_KWARGS}
    if unknown:
        valid = BASE_KWARGS | signature_names(layer_cls.__init__, base_init)
        reject_unknown(unknown, valid, layer_cls.__name__)
