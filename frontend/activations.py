"""Activations by name, as functions of graphc nodes (Keras 3 names and defaults)."""

from __future__ import annotations

import graphc as gc
from frontend.compat import lookup
from frontend.mixed_precision import float32_island
from graphc.ir import user_site


def linear(x):
    return x


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """max(x, 0) by default; Keras's leaky slope, cap and threshold when given."""
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return gc.relu(x)
    y = gc.where(x > threshold, x, negative_slope * (x - threshold) if negative_slope else 0.0)
    return y if max_value is None else gc.minimum(y, gc.as_node(float(max_value), like=x))


def leaky_relu(x, negative_slope=0.2):
    return gc.where(x > 0, x, negative_slope * x)


def relu6(x):
    return gc.clip(x, 0.0, 6.0)


def sigmoid(x):
    return gc.sigmoid(x)


def tanh(x):
    return gc.tanh(x)


def softmax(x, axis=-1):
    return gc.softmax(float32_island(x), axis=axis)  # sums: float32 under mixed_bfloat16


def log_softmax(x, axis=-1):
    return gc.log_softmax(float32_island(x), axis=axis)


def softplus(x):
    return gc.softplus(x)


def softsign(x):
    return gc.softsign(x)


def hard_sigmoid(x):
    return gc.hard_sigmoid(x)


def elu(x, alpha=1.0):
    return gc.elu(x, alpha)


def selu(x):
    return gc.selu(x)


def gelu(x, approximate=False):
    return gc.gelu(x, approximate)


def silu(x):
    return x * gc.sigmoid(x)


def exponential(x):
    return gc.exp(x)


def hard_silu(x):
    return x * gc.hard_sigmoid(x)


def hard_tanh(x):
    return gc.clip(x, -1.0, 1.0)


def log_sigmoid(x):
    return -gc.softplus(-x)


def mish(x):
    return x * gc.tanh(gc.softplus(x))


def celu(x, alpha=1.0):
    return gc.maximum(x, 0.0) + gc.minimum(alpha * gc.expm1(x / alpha), 0.0)


def tanh_shrink(x):
    return x - gc.tanh(x)


def squareplus(x, b=4):
    return (x + gc.sqrt(x * x + float(b))) * 0.5


def soft_shrink(x, threshold=0.5):
    return gc.where(x > threshold, x - threshold, gc.where(x < -threshold, x + threshold, x * 0.0))


def hard_shrink(x, threshold=0.5):
    return gc.where(gc.abs(x) > threshold, x, x * 0.0)


swish = silu
hard_swish = hard_silu

ACTIVATIONS = {
    "linear": linear,
    "relu": relu,
    "leaky_relu": leaky_relu,
    "relu6": relu6,
    "sigmoid": sigmoid,
    "tanh": tanh,
    "softmax": softmax,
    "log_softmax": log_softmax,
    "softplus": softplus,
    "softsign": softsign,
    "hard_sigmoid": hard_sigmoid,
    "elu": elu,
    "selu": selu,
    "gelu": gelu,
    "silu": silu,
    "swish": swish,
    "exponential": exponential,
    "hard_silu": hard_silu,
    "hard_swish": hard_swish,
    "hard_tanh": hard_tanh,
    "log_sigmoid": log_sigmoid,
    "mish": mish,
    "celu": celu,
    "tanh_shrink": tanh_shrink,
    "squareplus": squareplus,
    "soft_shrink": soft_shrink,
    "hard_shrink": hard_shrink,
}
ALIASES = ("swish", "hard_swish")  # saved under the names they alias
_CANONICAL = {fn: name for name, fn in ACTIVATIONS.items() if name not in ALIASES}


def get(identifier, owner: str = "activations.get"):
    """An activation function from a name, a callable or None (linear); `owner` (the layer)
    and the user's line name a misspelt name's error."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        try:
            return lookup(identifier, ACTIVATIONS, "activation")
        except ValueError as err:
            raise ValueError(f"{owner}: {err} (at {user_site()})") from None
    if isinstance(identifier, dict):
        return get(identifier.get("config", identifier.get("class_name")))
    if callable(identifier):
        return identifier
    raise TypeError(f"Could not interpret activation identifier: {identifier!r}")


def serialize(fn) -> str:
    """The name an activation is saved under (its Keras name, or the function's name)."""
    if fn in _CANONICAL:
        return _CANONICAL[fn]
    name = getattr(fn, "__name__", None)
    if name is None or name == "<lambda>":
        raise ValueError(
            f"Cannot serialize the activation {fn!r}: use a named function and "
            f"pass it in custom_objects when loading"
        )
    return name


def deserialize(name, custom_objects=None):
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    return get(name)
