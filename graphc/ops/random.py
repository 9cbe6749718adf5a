"""Counter-based random numbers: a pure function of (key, element index).

Every element is `hash(key, flat index)`, so any backend, any thread split and any order of
evaluation gives bit-identical numbers. The hash is two rounds of Chris Wellons' 32-bit
'lowbias32' integer mix; its top 24 bits become a float in [0, 1), exact in float32.
"""

from __future__ import annotations

import numpy as np

from graphc.ir import DtypeError
from graphc.ops import defop, dims_like_input, require_float
from graphc.ops.cases import In, case

GOLDEN = 0x9E3779B9


def lowbias32(x: np.ndarray) -> np.ndarray:
    """The integer mix, on uint32 arrays (wrapping multiplication)."""
    x = x ^ (x >> np.uint32(16))
    x = x * np.uint32(0x7FEB352D)
    x = x ^ (x >> np.uint32(15))
    x = x * np.uint32(0x846CA68B)
    return x ^ (x >> np.uint32(16))


def stream_key(key: int) -> np.uint32:
    """Fold a 64-bit key into the 32-bit stream constant."""
    key = int(key) & 0xFFFFFFFFFFFFFFFF
    lo, hi = np.uint32(key & 0xFFFFFFFF), np.uint32(key >> 32)
    return lowbias32(lo ^ lowbias32(hi + np.uint32(GOLDEN)))


def uniform_bits(key: int, size: int, offset: int = 0) -> np.ndarray:
    """The 32-bit hash of every index offset..offset+size-1 under `key`."""
    s = stream_key(key)
    index = np.arange(size, dtype=np.uint32) + np.uint32(int(offset) & 0xFFFFFFFF)
    return lowbias32(lowbias32(index + s) ^ s)


def infer_random_uniform(inputs):
    key, like, *offset = inputs  # offset: the index of the first number (a shard's share)
    for what, node in (("key", key), *(("offset", o) for o in offset)):
        if node.dtype not in ("int32", "int64") or node.shape != ():
            raise DtypeError(f"random_uniform needs a scalar integer {what}, got {node.shape} "
                             f"{node.dtype}")
    return like.shape, require_float(like.dtype)


def impl_random_uniform(key, like, offset=0):
    with np.errstate(over="ignore"):
        bits = uniform_bits(int(key), like.size, offset)
    scale = np.asarray(2.0**-24, dtype=like.dtype)
    return ((bits >> np.uint32(8)).astype(like.dtype) * scale).reshape(like.shape)


defop(
    "random_uniform",
    infer=infer_random_uniform,
    impl=impl_random_uniform,
    fusion="random",
    shape_only=(1,),
    dims=dims_like_input(1),
    cases=[case(In((), "key", "int64"), In((3, 4), "like"), grad=False),
           case(In((), "key", "int64"), In((3, 4), "like"), In((), "key", "int64"), grad=False)],
    doc="Uniform [0, 1) numbers shaped like the second input, from an integer key.",
)
