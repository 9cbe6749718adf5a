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
