"""Utilities: seeding, label encoding, model diagrams, batch sources (Sequence, PyDataset)."""

from __future__ import annotations

import numpy as np

from frontend.backend import clear_session
from frontend.compat import refuse_unsupported, reject_unknown, signature_names
from frontend.seeding import set_random_seed
from frontend.utils.batch_data import pack_x_y_sample_weight, unpack_x_y_sample_weight
from frontend.utils.downloads import get_file
from frontend.utils.padding import pad_sequences
from frontend.utils.progbar import Progbar
from frontend.utils.sequence import PyDataset, Sequence
from graphc import viz


def to_categorical(y, num_classes=None, dtype="float32") -> np.ndarray:
    """One-hot encode integer class labels: shape (n,) or (n, 1) -> (n, num_classes)."""
    y = np.asarray(y)
    if y.dtype.kind == "f":
        if not np.all(np.mod(y, 1) == 0):
            raise ValueError(
                "to_categorical expects integer class labels; received fractional values"
            )
        y = y.astype(np.int64)
    if y.ndim >= 2 and y.shape[-1] == 1:
        y = y.reshape(y.shape[:-1])
    if y.size and y.min() < 0:
        raise ValueError(f"to_categorical: labels must be >= 0. Received: min label {y.min()}")
    num_classes = int(num_classes if num_classes is not None else (y.max() + 1 if y.size else 0))
    if y.size and y.max() >= num_classes:
        raise ValueError(f"to_categorical: label {y.max()} does not fit num_classes={num_classes}")
    out = np.zeros(y.shape + (num_classes,), dtype=dtype)
    np.put_along_axis(out, y[..., None], 1, axis=-1)
    return out


def normalize(x, axis=-1, order=2) -> np.ndarray:
    """x divided by its `order`-norm along `axis` (zero vectors stay zero)."""
    x = np.asarray(x)
    norm = np.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    return x / np.where(norm == 0, 1, norm)


def plot_model(
    model,
    to_file="model.png",
    show_shapes=False,
    show_dtype=False,
    show_layer_names=True,
    rankdir="TB",
    expand_nested=False,
    dpi=96,
    show_layer_activations=False,
    show_trainable=False,
    **kwargs,
):
    """Draw the model's layer graph to `to_file` (with graphviz, via graphc.viz).

    Each layer is one box; `show_shapes` adds input/output shapes, `show_dtype` dtypes,
    `show_layer_activations` activations, `show_trainable` a trainable mark; nested models
    are drawn as one box (`expand_nested=True` is refused, not ignored). Returns the path
    written (the .dot file instead when graphviz is missing).

    Example: `plot_model(model, to_file="model.png", show_shapes=True)`
    """
    refuse_unsupported("plot_model", expand_nested=expand_nested)
    if kwargs:
        reject_unknown(kwargs, signature_names(plot_model), "plot_model")
    return viz.draw_layers(
        model.layer_records(),
        to_file,
        show_shapes=show_shapes,
        show_dtype=show_dtype,
        show_layer_names=show_layer_names,
        rankdir=rankdir,
        dpi=dpi,
        show_layer_activations=show_layer_activations,
        show_trainable=show_trainable,
    )


# Keras 1/2 scripts reach the same functions as `keras.utils.np_utils.to_categorical` and
# `keras.utils.vis_utils.plot_model`.
from frontend.utils import np_utils, vis_utils  # noqa: E402 - needs the functions above

__all__ = [
    "np_utils",
    "vis_utils",
    "to_categorical",
    "normalize",
    "set_random_seed",
    "clear_session",
    "plot_model",
    "Progbar",
    "pad_sequences",
    "PyDataset",
    "Sequence",
    "get_file",
    "pack_x_y_sample_weight",
    "unpack_x_y_sample_weight",
]
