"""Keras-style optimizers with Keras 3 defaults and update formulas, expressed as graph
updates applied inside the one compiled training step."""

from __future__ import annotations

from frontend.compat import lookup
from frontend.optimizers import schedules
from frontend.optimizers.algorithms import SGD, Adadelta, Adagrad, Adam, Adamax, Nadam, RMSprop
from frontend.optimizers.base import Optimizer

CLASSES = {c.__name__: c for c in (SGD, RMSprop, Adagrad, Adadelta, Adam, Adamax, Nadam)}
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
        cls = lookup(identifier["class_name"], CLASSES | NAMES, "optimizer")
        return cls.from_config(identifier.get("config", {}))
    raise TypeError(f"Could not interpret optimizer identifier: {identifier!r}")


def serialize(optimizer: Optimizer) -> dict:
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


__all__ = [
    "Optimizer",
    "SGD",
    "RMSprop",
    "Adagrad",
    "Adadelta",
    "Adam",
    "Adamax",
    "Nadam",
    "schedules",
    "get",
    "serialize",
]
