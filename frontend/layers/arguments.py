"""Checks of layer arguments shared by several layers; each error names the layer, the argument
and what it received."""

from __future__ import annotations

import numpy as np

from graphc.ir import user_site


def positive_int(value, name: str, owner: str) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(
            f"{owner}: `{name}` must be a positive integer. Received: {name}={value!r} "
            f"(at {user_site()})"
        )
    return int(value)


def int_tuple(value, rank: int, name: str, owner: str) -> tuple:
    values = (value,) * rank if isinstance(value, (int, np.integer)) else tuple(value)
    if len(values) != rank or not all(isinstance(v, (int, np.integer)) and v > 0 for v in values):
        raise ValueError(
            f"{owner}: `{name}` must be an int or {rank} ints > 0. Received: {name}={value!r}"
        )
    return tuple(int(v) for v in values)
