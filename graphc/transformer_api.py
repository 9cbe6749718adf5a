"""The public functions of the Transformer ops (graphc/ops/attention.py, normalization.py)."""

from __future__ import annotations

from graphc.ir import Node
from graphc.ops.operators import apply


def masked_softmax(x, mask=None, scale=1.0, causal=False, keyless_rows="uniform") -> Node:
    """softmax(scale * x) over the last axis, keys where the bool `mask` is False (and, when
    `causal`, keys after the query's position) counting as -1e9. A row with no key that
    counts is uniform (Keras's attention), or zeros with keyless_rows="zeros" (Keras's masked
    Softmax layer). `mask` broadcasts to x, e.g. (queries, keys) or (batch, 1, 1, keys)."""
    inputs = (x,) if mask is None else (x, mask)
    return apply("masked_softmax", *inputs, scale=float(scale), causal=bool(causal),
                 keyless_rows=keyless_rows)


def layer_norm(x, epsilon=1e-3) -> Node:
    """(x - mean) / sqrt(variance + epsilon) over the last axis, one pass per row."""
    return apply("layer_norm", x, epsilon=float(epsilon))
