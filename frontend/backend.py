"""Session-wide frontend settings: the float dtype, the fuzz factor, unique layer names.

`clear_session()` resets the name counters, so a fresh script gets `dense`, `dense_1`, ...
exactly as Keras does.
"""

from __future__ import annotations

import re
from collections import defaultdict

_FLOATX = "float32"
_EPSILON = 1e-7
_NAME_COUNTS: dict[str, int] = defaultdict(int)
_DEFAULT_BACKEND = ["llvm"]


def floatx() -> str:
    """The default float dtype of layers, weights and fed data ('float32')."""
    return _FLOATX


def set_floatx(dtype: str) -> None:
    global _FLOATX
    if dtype not in ("float32", "float64"):
        raise ValueError(f"floatx must be 'float32' or 'float64'. Received: dtype={dtype!r}")
    _FLOATX = dtype


def epsilon() -> float:
    """The fuzz factor used by losses and metrics (Keras's 1e-7)."""
    return _EPSILON


def set_epsilon(value: float) -> None:
    global _EPSILON
    _EPSILON = float(value)


def to_snake_case(name: str) -> str:
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
    """The graphc backend used by models that were not compiled (e.g. predict before compile)."""
    return _DEFAULT_BACKEND[0]


def set_default_backend(name: str) -> None:
    """Choose that backend: 'llvm' (native code, the default) or 'numpy' (the interpreter)."""
    if name not in ("llvm", "numpy"):
        raise ValueError(f"backend must be 'llvm' or 'numpy'. Received: {name!r}")
    _DEFAULT_BACKEND[0] = name


def image_data_format() -> str:
    """Where image layers expect channels: 'channels_last' (Keras's default)."""
    return "channels_last"
