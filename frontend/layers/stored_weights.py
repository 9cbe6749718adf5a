"""While a saved model is rebuilt, each weight a layer creates must have the shape of an array
the file stores, checked before the weight is allocated: a config edited to declare
`units=10**9` fails at once, naming the file and the weight, instead of asking for gigabytes.
Shapes are matched as a multiset, so the order in which layers build does not matter."""

from __future__ import annotations

import collections
import contextlib
import contextvars
import math

import numpy as np

# (how many arrays of each shape are still unclaimed, the file's name) while a model loads
_STORED = contextvars.ContextVar("stored_weight_shapes", default=None)


@contextlib.contextmanager
def weights_must_match(shapes, source: str):
    """Within the block, every weight created must claim one of `shapes` (from `source`)."""
    token = _STORED.set((collections.Counter(tuple(s) for s in shapes), source))
    try:
        yield
    finally:
        _STORED.reset(token)


class StoredWeightMismatch(ValueError):
    """A weight the config declares that the file does not store (the message names it)."""


def claim_stored_weight(shape: tuple, dtype: str, weight_name: str) -> None:
    """Nothing outside `weights_must_match`; inside it, a ValueError unless the file stores an
    unclaimed array of this shape."""
    active = _STORED.get()
    if active is None:
        return
    unclaimed, source = active
    if unclaimed[shape] > 0:
        unclaimed[shape] -= 1
        return
    size = math.prod(shape) * np.dtype(dtype).itemsize
    raise StoredWeightMismatch(
        f"{source}: the config declares weight {weight_name!r} of shape {shape} "
        f"({size:,} bytes), but the file stores no (further) array of that shape (it stores "
        f"{sorted(unclaimed.elements())}): the config or the weights were edited or come "
        f"from different models; refused before allocating it"
    )
