"""The public function of the blocked attention op (graphc/ops/flash_attention.py)."""

from __future__ import annotations

from graphc.ops.movement import axis_slice
from graphc.ops.operators import apply


def flash_attention(q, k, v, mask=None, scale=1.0, causal=False, return_lse=False):
    """softmax(scale * q k^T) v for q (batch, heads, Lq, Dk), k (batch, heads, Lk, Dk),
    v (batch, heads, Lk, Dv), over the keys where the bool `mask` (broadcasting to
    (batch, heads, Lq, Lk)) holds and, when `causal`, key <= query; a query with no key gets
    the mean of all values (as Keras, and masked_softmax then matmul). The (Lq, Lk) scores
    are never held. With `return_lse`, also each query's logsumexp of its scaled scores
    (log(Lk) with no key)."""
    inputs = (q, k, v) if mask is None else (q, k, v, mask)
    packed = apply("flash_attention", *inputs, scale=float(scale), causal=bool(causal))
    dv = packed.shape[-1] - 1
    context = apply("getitem", packed, index=axis_slice(3, 0, dv))
    if not return_lse:
        return context
    return context, apply("getitem", packed, index=(("slice", None, None, None),) * 3 +
                          (("int", dv),))

