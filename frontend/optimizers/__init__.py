"""Keras-style optimizers with Keras 3 defaults and update formulas, expressed as graph
updates applied inside the one compiled training step."""

from __future__ import annotations

from frontend.compat import lookup
from frontend.config_objects import by_name, object_from_dict, serialize_object
from frontend.optimizers import schedules
from frontend.optimizers.algorithms import SGD, Adadelta, Adagrad, Adam, Adamax, Nadam, RMSprop
from frontend.optimizers.base import Optimizer
from frontend.optimizers.factored import Adafactor
from frontend.optimizers.ftrl import Ftrl
from frontend.optimizers.moment_variants import AdamW, Lamb, Lion

CLASSES = by_name(
    SGD, RMSprop, Adagrad, Adadelta, Adam, Adamax, Nadam, AdamW, Lion, Lamb, Ftrl, Adafactor
)
NAMES = {name.lower(): cls for name, cls in CLASSES.items()}


def get(identifier) -> Optimizer:
    """An optimizer from a name ('adam'), a class, an instance or a config dict. Unknown names
    raise a ValueError suggesting the closest known one."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        return lookup(identifier, NAMES, "optimizer")()
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    if isinstance(identifier, dict):
        return object_from_dict(identifier, CLASSES | NAMES, "optimizer")
    raise TypeError(f"Could not interpret optimizer identifier: {identifier!r}")


def serialize(optimizer: Optimizer) -> dict:
    return serialize_object(optimizer)


__all__ = [
    "Optimizer",
    "SGD",
    "RMSprop",
    "Adagrad",
    "Adadelta",
    "Adam",
    "Adamax",
    "Nadam",
    "AdamW",
    "Lion",
    "Lamb",
    "Ftrl",
    "Adafactor",
    "schedules",
    "get",
    "serialize",
]
