"""Weight regularizers: a penalty graph added to the training loss."""

from __future__ import annotations

import graphc as gc
from frontend.compat import lookup
from frontend.config_objects import Configurable, object_from_dict, serialize_instance


class Regularizer(Configurable):
    def __call__(self, x):
        raise NotImplementedError


class L1L2(Regularizer):
    """l1 * sum(|x|) + l2 * sum(x**2)."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1, self.l2 = float(l1), float(l2)

    def __call__(self, x):
        penalty = None
        if self.l1:
            penalty = self.l1 * gc.sum(gc.abs(x))
        if self.l2:
            term = self.l2 * gc.sum(gc.square(x))
            penalty = term if penalty is None else penalty + term
        return penalty if penalty is not None else gc.sum(x * 0.0)

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    def __init__(self, l1=0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    def __init__(self, l2=0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


def l1(l1=0.01):
    return L1(l1)


def l2(l2=0.01):
    return L2(l2)


def l1_l2(l1=0.01, l2=0.01):
    return L1L2(l1, l2)


CLASSES = {"L1": L1, "L2": L2, "L1L2": L1L2}
NAMES = {"l1": L1, "l2": L2, "l1_l2": lambda: L1L2(0.01, 0.01)}


def get(identifier):
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, str):
        return lookup(identifier, NAMES, "regularizer")()
    if isinstance(identifier, dict):
        return object_from_dict(identifier, CLASSES, "regularizer")
    if callable(identifier):
        return identifier
    raise TypeError(f"Could not interpret regularizer identifier: {identifier!r}")


def serialize(reg):
    return None if reg is None else serialize_instance(reg, Regularizer, "regularizer")
