"""`pad_sequences` (Keras's `keras.utils.pad_sequences`, also
`frontend.preprocessing.sequence.pad_sequences`): lists of sequences of different lengths as
one (samples, maxlen, ...) array, padded and truncated at the start or the end."""

from __future__ import annotations

import numpy as np


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre",
                  value=0.0):
    """Pad (and truncate) each sequence to `maxlen` (default: the longest).

    Args:
        sequences: a list of sequences (lists or arrays; items may be vectors).
        padding, truncating: 'pre' (at the start, Keras's default) or 'post' (at the end).
        value: the padding value. dtype: of the result ('int32' as Keras).
    Example: `pad_sequences([[1, 2], [3]], maxlen=3)` -> [[0, 1, 2], [0, 0, 3]]
    """
    _check_sides(padding=padding, truncating=truncating)
    if not hasattr(sequences, "__len__"):
        raise ValueError(
            f"pad_sequences: `sequences` must be a list of sequences. Received: "
            f"{type(sequences).__name__}"
        )
    lengths, item_shape = _lengths_and_item_shape(sequences)
    maxlen = int(max(lengths, default=0) if maxlen is None else maxlen)
    if isinstance(value, str) and np.dtype(dtype).kind not in "OUS":
        raise ValueError(
            f"pad_sequences: `dtype` {dtype} is not compatible with `value`'s type "
            f"{type(value).__name__}; pass dtype=object for string padding"
        )
    out = np.full((len(sequences), maxlen) + item_shape, value, dtype=dtype)
    for row, sequence in enumerate(sequences):
        kept = _truncated(sequence, maxlen, truncating)
        if not len(kept):
            continue
        kept = np.asarray(kept, dtype=dtype)
        if kept.shape[1:] != item_shape:
            raise ValueError(
                f"pad_sequences: the items of sequence {row} have shape {kept.shape[1:]}, "
                f"the first non-empty sequence's have {item_shape}"
            )
        if padding == "post":
            out[row, : len(kept)] = kept
        else:
            out[row, maxlen - len(kept) :] = kept
    return out


def _check_sides(**sides) -> None:
    for name, given in sides.items():
        if given not in ("pre", "post"):
            raise ValueError(
                f"pad_sequences: `{name}` must be 'pre' or 'post'. Received: {name}={given!r}"
            )


def _lengths_and_item_shape(sequences) -> tuple[list, tuple]:
    lengths, item_shape = [], None
    for index, sequence in enumerate(sequences):
        if not hasattr(sequence, "__len__"):
            raise ValueError(
                f"pad_sequences: `sequences` must be a list of sequences; item {index} is "
                f"{sequence!r} ({type(sequence).__name__})"
            )
        lengths.append(len(sequence))
        if item_shape is None and len(sequence):
            item_shape = np.asarray(sequence).shape[1:]
    return lengths, item_shape or ()


def _truncated(sequence, maxlen: int, truncating: str):
    if maxlen == 0:
        return sequence[:0]
    return sequence[-maxlen:] if truncating == "pre" else sequence[:maxlen]
