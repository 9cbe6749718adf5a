"""Random state of the frontend: one NumPy generator (initial weights, shuffling) and the
dropout keys. `set_random_seed(s)` resets all of it, so a run repeats exactly and gives the
same numbers on every backend (dropout masks come from graphc's counter-based random op).

A dropout mask is `random_uniform(key)` with key = base(seed) + layer id * 2**32 + step, where
`step` is a shared int64 counter that every training function increments. Masks are drawn for
the global batch: a DataParallel rank's shard starts its numbers at its first row's
(`set_first_row`), so 2 ranks of B/2 rows draw what 1 process of B rows does.
"""

from __future__ import annotations

import numpy as np

import graphc as gc

_STATE: dict = {}
LAYER_BITS = 32  # layer ids sit above the 32-bit step counter in the key


def _base_key(seed: int) -> int:
    # 19 bits of the seed above 12 bits of layer id and 32 bits of step: distinct streams
    # that stay below 2**63 (a positive int64).
    return (int(seed) * 0x9E3779B1 & 0x7FFFF) << 44


def seed_key(seed: int) -> int:
    """The int64 key of a fixed int seed (random.normal(..., seed=42))."""
    return _base_key(seed)


def _init(seed: int | None) -> None:
    _STATE["rng"] = np.random.default_rng(seed)
    base = _base_key(seed if seed is not None else np.random.SeedSequence().entropy % (1 << 31))
    if "base" not in _STATE:
        _STATE["base"] = gc.shared(np.int64(base), name="dropout_seed")
        _STATE["step"] = gc.shared(np.int64(0), name="dropout_step")
        _STATE["first_row"] = gc.shared(np.int64(0), name="shard_first_row")
    _STATE["base"].set_value(np.int64(base))
    _STATE["step"].set_value(np.int64(0))
    _STATE["next_layer_id"] = 1


def set_random_seed(seed: int) -> None:
    """Seed initial weights, shuffling and dropout so runs repeat exactly on any backend.

    Example: `frontend.utils.set_random_seed(1337)`
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"set_random_seed expects an integer. Received: seed={seed!r}")
    np.random.seed(int(seed) % (1 << 32))
    _init(int(seed))


def rng() -> np.random.Generator:
    """The generator behind initializers and shuffling."""
    if not _STATE:
        _init(None)
    return _STATE["rng"]


def new_layer_id() -> int:
    """A small integer that separates one dropout layer's random stream from another's."""
    if not _STATE:
        _init(None)
    layer_id = _STATE["next_layer_id"]
    _STATE["next_layer_id"] += 1
    return layer_id % (1 << 12)


def layer_id_for(seed: int | None) -> int:
    """A dropout layer's id: from its own `seed` if it has one, else the next free id."""
    return new_layer_id() if seed is None else int(seed) % (1 << 12)


def step_counter():
    """The shared int64 step counter (training functions add 1 to it each call)."""
    if not _STATE:
        _init(None)
    return _STATE["step"]


def dropout_key(layer_id: int, seed: int | None = None):
    """An int64 scalar graph node, different for every layer and every training step; from
    `seed` instead of the global seed when given (a generator seeded on its own)."""
    if not _STATE:
        _init(None)
    offset = gc.constant(np.int64(layer_id << LAYER_BITS))
    base = _STATE["base"] if seed is None else gc.constant(np.int64(_base_key(seed)))
    return base + offset + _STATE["step"]


def set_first_row(row: int) -> None:
    """The global batch row this process's batch starts at (its DataParallel shard's)."""
    step_counter()
    _STATE["first_row"].set_value(np.int64(row))


def uniform_rows(key, like):
    """`gc.random_uniform(key, like)` for a batch-first `like`, numbered from this process's
    first global row: a shard draws its rows' numbers of the global batch's draw."""
    step_counter()
    rest = tuple(like.shape[1:])
    per_row = (gc.constant(np.int64(np.prod(rest, dtype=np.int64))) if None not in rest else
               gc.size(like, axis=tuple(range(1, like.ndim)), dtype="int64"))
    return gc.random_uniform(key, like, _STATE["first_row"] * per_row)
