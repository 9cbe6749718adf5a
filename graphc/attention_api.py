"""The public function of the attention core's fused softmax (graphc/ops/attention.py)."""

from __future__ import annotations

from graphc.ir import Node
from graphc.ops.operators import apply


def masked_softmax(x, mask=None, scale=1.0, causal=False) -> Node:
    """softmax(scale * x) over the last axis, keys where the bool `mask` is False (and, when
    `causal`, keys after the query's position) counting as -1e9 and given probability 0.
    `mask` is shaped like x, like its last two axes, or (batch, 1, ..., 1, queries, keys)."""
    inputs = (x,) if mask is None else (x, mask)
    return apply("masked_softmax", *inputs, scale=float(scale), causal=bool(causal))
