"""What the attention layers share about masks: any mask as booleans, and checks of masks
against the scores they mask. The masked softmax itself is one graphc op
(`gc.masked_softmax`: Keras 3's semantics, causality by index, one kernel)."""

from __future__ import annotations

import graphc as gc
from graphc.ir import user_site


def as_bool_mask(mask):
    """A mask of any dtype as booleans (nonzero keeps, as Keras's `mask > 0.5` for 0/1)."""
    mask = gc.as_node(mask)
    return mask if mask.dtype == "bool" else gc.greater(gc.cast(mask, "float32"), 0.5)


def check_mask(layer, mask, wanted: tuple, what: str) -> None:
    """A ValueError naming the layer unless `mask` broadcasts to `wanted` from the right and has
    at most len(wanted) axes (None sizes match anything)."""
    shape = tuple(mask.shape)
    fits = len(shape) <= len(wanted) and all(
        m in (1, None) or w is None or m == w for m, w in zip(reversed(shape), reversed(wanted))
    )
    if not fits:
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': `{what}` must broadcast to {wanted}. "
            f"Received: {what}.shape={shape} (at {user_site()})"
        )


def flash_applies(heads, dropout: float, training) -> bool:
    """Whether `gc.flash_attention` (blocked, the (T, S) scores never held) serves an attention
    on (batch, heads, length, dim) q, k, v: no dropout to draw on the probabilities (rate 0 or
    not training; else the masked-softmax path draws it) and known lengths and head dims (its
    gradient is sliced by them)."""
    q, k, v = heads
    known = None not in (q.shape[2], k.shape[2], q.shape[3], v.shape[3])
    return known and (dropout == 0 or not training)
