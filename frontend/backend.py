"""Session-wide frontend settings: the float dtype, the fuzz factor, unique layer names, the
graphc backend models compile for; and Keras 2's `keras.backend` (`K.`) functions: the math
(K.sum, K.batch_dot, K.random_normal, ...) lives in frontend/backend_math.py, built on
frontend.ops, and loads on first use (PEP 562), as everything imports this module first.

`clear_session()` resets the name counters, so a fresh script gets `dense`, `dense_1`, ...
exactly as Keras does.
"""

from __future__ import annotations

import importlib
import re
from collections import defaultdict

import numpy as np

from frontend.compat import suggest
from frontend.image_format import (  # noqa: F401 - K.image_data_format etc.
    image_data_format,
    image_dim_ordering,
    set_image_data_format,
    set_image_dim_ordering,
)

_FLOATX = "float32"
_EPSILON = 1e-7
_NAME_COUNTS: dict[str, int] = defaultdict(int)
_DEFAULT_BACKEND = ["llvm"]


def floatx() -> str:
    """The default float dtype of layers, weights and fed data ('float32')."""
    return _FLOATX


def set_floatx(dtype: str) -> None:
    """Set the default float dtype ("float32" or "float64") of layers created afterwards."""
    global _FLOATX
    if dtype not in ("float32", "float64"):
        raise ValueError(f"floatx must be 'float32' or 'float64'. Received: dtype={dtype!r}")
    _FLOATX = dtype


def epsilon() -> float:
    """The fuzz factor used by losses and metrics (Keras's 1e-7)."""
    return _EPSILON


def set_epsilon(value: float) -> None:
    """Set the fuzz factor losses and metrics use (for graphs built afterwards)."""
    global _EPSILON
    _EPSILON = float(value)


def to_snake_case(name: str) -> str:
    """'BatchNormalization' -> 'batch_normalization' (Keras's default layer names)."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def unique_name(prefix: str) -> str:
    """'dense', then 'dense_1', 'dense_2', ... for the same prefix."""
    count = _NAME_COUNTS[prefix]
    _NAME_COUNTS[prefix] += 1
    return prefix if count == 0 else f"{prefix}_{count}"


def clear_session() -> None:
    """Forget generated names (the next Dense is called 'dense' again)."""
    _NAME_COUNTS.clear()


def default_backend() -> str:
    """The graphc backend `compile()` uses when not told otherwise, and that models which were
    not compiled predict with."""
    return _DEFAULT_BACKEND[0]


def backend() -> str:
    """`K.backend()`: the name of the backend models run on ('llvm' or 'numpy')."""
    return default_backend()


def set_default_backend(name: str) -> None:
    """Choose that backend: 'llvm' (native code, the default) or 'numpy' (the interpreter).
    Tutorial code then runs on it unchanged."""
    if name not in ("llvm", "numpy"):
        raise ValueError(f"backend must be 'llvm' or 'numpy'. Received: {name!r}")
    _DEFAULT_BACKEND[0] = name


def get_value(x):
    """`K.get_value(x)`: the value of a variable (such as `model.optimizer.lr`) as NumPy;
    plain numbers and arrays come back as they are."""
    if hasattr(x, "get_value"):
        return x.get_value()
    return x


def set_value(x, value) -> None:
    """`K.set_value(x, value)`: overwrite a variable (such as `model.optimizer.lr`) in place,
    keeping its shape and dtype, so compiled steps see the new value without recompiling."""
    if not hasattr(x, "set_value"):
        raise TypeError(
            f"K.set_value needs a variable (e.g. a layer weight or model.optimizer.lr); "
            f"received {type(x).__name__} {x!r}, which is a plain value"
        )
    current = np.asarray(x.get_value())
    x.set_value(np.asarray(value, dtype=current.dtype).reshape(current.shape))


MATH_MODULE = "frontend.backend_math"


def __getattr__(name: str):
    # K.sum, K.dot, ...: loaded on first use, since frontend.ops itself imports this module
    if not name.startswith("_"):
        module = importlib.import_module(MATH_MODULE)
        if hasattr(module, name) and not isinstance(getattr(module, name), type(importlib)):
            value = getattr(module, name)
            globals()[name] = value
            return value
        known = [n for n in dir(module) + list(globals()) if not n.startswith("_")]
        raise AttributeError(
            f"module 'frontend.backend' has no attribute {name!r}.{suggest(name, known)}"
        )
    raise AttributeError(f"module 'frontend.backend' has no attribute {name!r}")
