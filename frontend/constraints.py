"""Weight constraints: a graph function applied to a weight's new value after each update."""

from __future__ import annotations

import graphc as gc
from frontend.compat import lookup
from frontend.config_objects import Configurable, object_from_dict, serialize_instance


class Constraint(Configurable):
    def __call__(self, w):
        return w


class NonNeg(Constraint):
    """Weights below zero become zero."""

    def __call__(self, w):
        return gc.relu(w)


class MaxNorm(Constraint):
    """Rescales slices along `axis` whose L2 norm exceeds `max_value`."""

    def __init__(self, max_value=2, axis=0):
        self.max_value, self.axis = max_value, axis

    def __call__(self, w):
        norms = gc.sqrt(gc.sum(gc.square(w), axis=self.axis, keepdims=True))
        desired = gc.clip(norms, 0.0, float(self.max_value))
        return w * (desired / (norms + 1e-7))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class UnitNorm(Constraint):
    """Slices along `axis` get unit L2 norm."""

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        return w / (gc.sqrt(gc.sum(gc.square(w), axis=self.axis, keepdims=True)) + 1e-7)

    def get_config(self):
        return {"axis": self.axis}


CLASSES = {"NonNeg": NonNeg, "MaxNorm": MaxNorm, "UnitNorm": UnitNorm}
NAMES = {"non_neg": NonNeg, "max_norm": MaxNorm, "unit_norm": UnitNorm}


def get(identifier):
    if (
        identifier is None
        or isinstance(identifier, Constraint)
        or (callable(identifier) and not isinstance(identifier, (str, type, dict)))
    ):
        return identifier
    if isinstance(identifier, str):
        return lookup(identifier, NAMES, "constraint")()
    if isinstance(identifier, dict):
        return object_from_dict(identifier, CLASSES, "constraint")
    raise TypeError(f"Could not interpret constraint identifier: {identifier!r}")


def serialize(constraint):
    if constraint is None:
        return None
    return serialize_instance(constraint, Constraint, "constraint")
