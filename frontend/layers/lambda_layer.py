"""The Lambda layer: wraps a Python function of graphc nodes.

Its function is saved as marshalled bytecode. Loading bytecode runs code from the file, so
`load_model` accepts a Lambda layer only with `safe_mode=False` (as Keras does).
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import marshal
import sys
import types

import numpy as np

import frontend
import graphc as gc
from frontend import backend, ops
from frontend.layers.base import Layer

# load_model's safe_mode holds for its own call only: a context variable, so a trusted load in
# one thread never lets an untrusted load in another run code.
_SAFE_MODE = contextvars.ContextVar("graphc_safe_mode", default=True)
UNSAFE_EVERYWHERE = {"enabled": False}  # keras.config.enable_unsafe_deserialization()


@contextlib.contextmanager
def safe_mode(enabled: bool):
    """Within the block (in this thread or task), Lambda bytecode loads only if not `enabled`."""
    token = _SAFE_MODE.set(bool(enabled))
    try:
        yield
    finally:
        _SAFE_MODE.reset(token)


def code_loading_allowed() -> bool:
    return UNSAFE_EVERYWHERE["enabled"] or not _SAFE_MODE.get()


def dump_function(fn, owner: str = "Lambda") -> dict:
    """A JSON-able record of `fn`: its bytecode, defaults, name and the Python that made it."""
    if fn.__closure__:
        names = ", ".join(fn.__code__.co_freevars)
        raise ValueError(
            f"{owner}: cannot save its function: it uses variables of an enclosing function "
            f"({names}), which bytecode does not keep. Pass them with arguments={{...}} or use "
            f"a module-level function"
        )
    code = base64.b64encode(marshal.dumps(fn.__code__)).decode("ascii")
    return {
        "bytecode": code,
        "defaults": fn.__defaults__,
        "name": fn.__name__,
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
    }


def load_function(spec: dict, custom_objects=None):
    """The function `dump_function` recorded; its globals are gc, np, ops, K, keras (the
    frontend) and custom_objects."""
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    if spec.get("python") != python:
        raise ValueError(
            f"This Lambda layer's function was saved by Python {spec.get('python')}; "
            f"its bytecode cannot be loaded by Python {python}"
        )
    code = marshal.loads(base64.b64decode(spec["bytecode"]))
    scope = {
        "gc": gc,
        "np": np,
        "ops": ops,
        "K": backend,
        "keras": frontend,
        "__builtins__": __builtins__,
        **(custom_objects or {}),
    }
    defaults = tuple(spec["defaults"]) if spec.get("defaults") else None
    return types.FunctionType(code, scope, spec.get("name"), defaults)


class Lambda(Layer):
    """`Lambda(lambda x: x * 2)`: any function of graphc nodes as a layer (no weights)."""

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Lambda: `function` must be callable. Received: function={function!r}")
        if mask is not None:
            raise ValueError("Lambda: masks are not supported")
        self.function, self.output_shape_arg = function, output_shape
        self.arguments = dict(arguments or {})

    def call(self, inputs):
        return self.function(inputs, **self.arguments)

    def get_config(self):
        return {
            **super().get_config(),
            "function": dump_function(self.function, f"Lambda layer '{self.name}'"),
            "output_shape": self.output_shape_arg,
            "arguments": self.arguments,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        spec = config.pop("function")
        if isinstance(spec, dict):
            if not code_loading_allowed():
                raise ValueError(
                    "Refusing to load a Lambda layer: its function is stored as Python bytecode, "
                    "and loading it would run code from the file. If you trust the file, pass "
                    "safe_mode=False to load_model (or call "
                    "keras.config.enable_unsafe_deserialization())."
                )
            spec = load_function(spec, custom_objects)
        return cls(spec, **config)
