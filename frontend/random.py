"""Keras 3's `keras.random` for graphc: uniform, normal, truncated_normal, randint, dropout and
`SeedGenerator`, built on graphc's counter-based `random_uniform` (a pure function of an
integer key and the element index), so the numbers are the same on every backend.

`seed` may be None (a fresh stream of the global seed, see frontend.utils.set_random_seed),
an int (the same numbers on every call, as in Keras) or a SeedGenerator (a new stream per
draw; inside a compiled training step the numbers also change every step). Outside a graph
the functions return NumPy arrays; inside a layer call, loss or train step they return nodes.
"""

from __future__ import annotations

import numpy as np

import graphc as gc
from frontend import backend, seeding
from frontend.layers.tensor import KerasTensor
from frontend.ops.convert import RuntimeSize, float_operand
from frontend.ops.creation import filled
from frontend.ops.dispatch import building_graph
from frontend.random_math import cos_turns, log_positive
from graphc.ir import Node, user_site

SECOND_STREAM = 1 << 31  # added to a key for an independent second uniform draw
TRUNCATED_TRIES = 4  # normal candidates per element (all four beyond 2 sigma: p ~ 4e-6)


class SeedGenerator:
    """A source of random streams: each draw (each random call that takes it) gets its own.

    Example: `self.seed_generator = frontend.random.SeedGenerator(1337)` in a layer's
    `__init__`, then `frontend.random.normal(shape, seed=self.seed_generator)` in `call`.
    """

    def __init__(self, seed=None, name=None, **kwargs):
        if seed is not None and (not isinstance(seed, (int, np.integer)) or isinstance(seed, bool)):
            raise TypeError(f"SeedGenerator: seed must be an int or None. Received: seed={seed!r}")
        if kwargs:
            raise TypeError(f"SeedGenerator got unexpected arguments: {', '.join(kwargs)}")
        self.seed = None if seed is None else int(seed)
        self.name = name or backend.unique_name("seed_generator")
        self._draws = 0

    def next_key(self) -> Node:
        """The int64 key node of the next draw."""
        if self.seed is None:
            return seeding.dropout_key(seeding.new_layer_id())
        stream = (self.seed + self._draws) % (1 << 12)
        self._draws += 1
        return seeding.dropout_key(stream, self.seed)

    def get_config(self) -> dict:
        return {"seed": self.seed, "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _key(seed, fn: str) -> Node:
    if isinstance(seed, SeedGenerator):
        return seed.next_key()
    if seed is None:
        return seeding.dropout_key(seeding.new_layer_id())
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return gc.constant(np.int64(seeding.seed_key(int(seed))))
    raise TypeError(
        f"random.{fn}: seed must be None, an int or a SeedGenerator. Received: seed={seed!r} "
        f"(at {user_site()})"
    )


def _float_dtype(dtype, fn: str) -> str:
    dtype = gc.ir.normalize_dtype(dtype or backend.floatx())
    if not dtype.startswith("float"):
        raise ValueError(f"random.{fn}: dtype must be a float dtype. Received: dtype={dtype!r}")
    return dtype


def _result(node: Node, shape):
    """`node` inside a graph; its value now (NumPy) outside one."""
    dynamic = not isinstance(shape, (int, np.integer)) and any(
        isinstance(d, RuntimeSize) for d in shape
    )
    if building_graph() or dynamic:
        return node
    return gc.function([], node, backend="numpy")()


def _uniform01(key: Node, shape, dtype: str, fn: str) -> Node:
    return gc.random_uniform(key, filled(shape, 0, dtype, f"random.{fn}"))


def _standard_normal(key: Node, shape, dtype: str, fn: str) -> Node:
    """Box-Muller on two independent uniform streams of `key`, with log and cos built from
    exactly rounded operations (frontend/random_math.py) so all backends agree bit for bit."""
    u1 = _uniform01(key, shape, dtype, fn)
    u2 = _uniform01(key + SECOND_STREAM, shape, dtype, fn)
    radius = gc.sqrt(-2.0 * log_positive(1.0 - u1))  # 1 - u1 lies in (0, 1]
    return radius * cos_turns(u2)


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Numbers uniform in [minval, maxval)."""
    dtype = _float_dtype(dtype, "uniform")
    u = _uniform01(_key(seed, "uniform"), shape, dtype, "uniform")
    return _result(u * (maxval - minval) + minval, shape)


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Normally distributed numbers."""
    dtype = _float_dtype(dtype, "normal")
    z = _standard_normal(_key(seed, "normal"), shape, dtype, "normal")
    return _result(z * stddev + mean, shape)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Normal numbers redrawn when beyond two standard deviations (the first of four
    candidates within them; the rare element with none is clipped to +-2)."""
    dtype = _float_dtype(dtype, "truncated_normal")
    key = _key(seed, "truncated_normal")
    candidates = [
        _standard_normal(key + (2 * i) * SECOND_STREAM + i, shape, dtype, "truncated_normal")
        for i in range(TRUNCATED_TRIES)
    ]
    z = gc.clip(candidates[-1], -2.0, 2.0)
    for candidate in reversed(candidates[:-1]):
        z = gc.where(gc.abs(candidate) <= 2.0, candidate, z)
    return _result(z * stddev + mean, shape)


def randint(shape, minval, maxval, dtype="int32", seed=None):
    """Integers uniform in [minval, maxval)."""
    dtype = gc.ir.normalize_dtype(dtype)
    if not dtype.startswith("int"):
        raise ValueError(f"random.randint: dtype must be an int dtype. Received: dtype={dtype!r}")
    u = _uniform01(_key(seed, "randint"), shape, "float64", "randint")
    return _result(gc.cast(u * float(maxval - minval), dtype) + int(minval), shape)


def categorical(logits, num_samples, dtype="int32", seed=None):
    """`num_samples` class indices per row of `logits` (batch, classes), drawn with
    probabilities softmax(logits), by the Gumbel-max trick on exactly rounded logs."""
    if isinstance(logits, KerasTensor):
        raise TypeError(
            f"random.categorical on the symbolic tensor {logits.name}: draw from the "
            f"predictions' values (model.predict) or inside a layer's call (at {user_site()})"
        )
    given, logits = logits, float_operand(logits)
    if logits.ndim != 2:
        raise ValueError(f"random.categorical: logits must be (batch, classes). Received: "
                         f"shape {logits.shape} (at {user_site()})")
    batch = logits.shape[0] if logits.shape[0] is not None else RuntimeSize(logits, 0)
    shape = (batch, int(num_samples), logits.shape[1])
    u = _uniform01(_key(seed, "categorical"), shape, logits.dtype, "categorical")
    exponential = gc.maximum(-log_positive(1.0 - u), 2.0**-26)  # > 0, so its log exists
    scores = gc.expand_dims(logits, 1) - log_positive(exponential)
    out = gc.cast(gc.argmax(scores, axis=-1), dtype)
    return out if isinstance(given, Node) else _result(out, shape)


def dropout(inputs, rate, noise_shape=None, seed=None):
    """`inputs` with a fraction `rate` of elements zeroed and the rest scaled by 1/(1-rate)."""
    if isinstance(inputs, KerasTensor):
        raise TypeError(
            f"random.dropout on the symbolic tensor {inputs.name}: use layers.Dropout(rate) "
            f"in a functional model (at {user_site()})"
        )
    if not 0 <= rate < 1:
        raise ValueError(f"random.dropout: rate must be in [0, 1). Received: rate={rate!r}")
    x = float_operand(inputs)
    shape = noise_shape if noise_shape is not None else tuple(x.shape)
    if noise_shape is None and None in shape:
        shape = tuple(RuntimeSize(x, i) if d is None else d for i, d in enumerate(shape))
    keep = _uniform01(_key(seed, "dropout"), shape, x.dtype, "dropout") >= rate
    out = gc.where(keep, x / (1.0 - rate), gc.as_node(0.0, like=x))
    return out if isinstance(inputs, Node) else _result(out, shape)


def shuffle(x, axis=0, seed=None):
    """Refused: a permutation is not an elementwise function of a counter."""
    raise NotImplementedError(
        f"random.shuffle is not supported by graphc (its random numbers are elementwise). "
        f"Shuffle NumPy data with np.random.default_rng(seed).permutation, or pass "
        f"shuffle=True to fit. Received: x of shape {tuple(getattr(x, 'shape', np.shape(x)))} "
        f"(at {user_site()})"
    )


REFUSED = {
    "gamma": "graphc draws uniform, normal, truncated_normal, randint and categorical numbers",
    "beta": "graphc draws uniform, normal, truncated_normal, randint and categorical numbers",
    "binomial": "sum ops.cast(random.uniform(...) < p, 'float32') over `counts` draws instead",
}


def __getattr__(name: str):
    # keras.random names graphc lacks say why
    if name in REFUSED:
        raise AttributeError(f"frontend.random.{name} is not supported: {REFUSED[name]}")
    raise AttributeError(f"module 'frontend.random' has no attribute {name!r}")
