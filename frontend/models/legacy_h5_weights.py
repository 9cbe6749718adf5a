"""Keras 2's HDF5 weights layout: a group (the file's root for `save_weights`, or
`model_weights` in a full-model file) lists its layers in the attribute `layer_names`; each
layer's group lists its datasets in `weight_names`, in the layer's weight order."""

from __future__ import annotations

import json

from frontend.models.archive import FileFormatError
from frontend.models.keras_format_h5 import stored_dataset, walk
from frontend.models.keras_format_weights import assign_layer_weights

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def is_hdf5(path: str) -> bool:
    with open(path, "rb") as f:
        return f.read(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE


def text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def json_attribute(h5file, name: str, where: str):
    if name not in h5file.attrs:
        return None
    try:
        return json.loads(text(h5file.attrs[name]))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise FileFormatError(f"{where}: attribute {name!r} is corrupt ({err})") from None


def load_legacy_weights(model, group, where: str) -> None:
    """Keras's rule for these files: the saved layers that hold weights, in `layer_names`
    order, fill the model's layers that hold weights, in order (names need not match)."""
    if "layer_names" not in group.attrs:
        raise FileFormatError(f"{where}: no Keras weights (no 'layer_names' attribute)")
    saved = [saved_layer(group, text(n), where) for n in group.attrs["layer_names"]]
    saved = [(name, datasets) for name, datasets in saved if datasets]
    weighted = [layer for layer in model.layers if layer.weights]
    if len(saved) != len(weighted):
        raise FileFormatError(
            f"{where}: layer count mismatch: the model has {len(weighted)} layers with weights "
            f"({[layer.name for layer in weighted]}), the file {len(saved)} "
            f"({[name for name, _ in saved]})"
        )
    for layer, (name, datasets) in zip(weighted, saved):
        assign_layer_weights(layer, datasets, f"{group.name.rstrip('/')}/{name}", where)


def saved_layer(group, layer_name: str, where: str) -> tuple:
    """(name, its datasets in `weight_names` order, unread) of one saved layer."""
    layer_group = walk(group, layer_name, where)
    if layer_group is None:
        raise FileFormatError(f"{where}: {group.name} lacks the group of {layer_name!r}")
    names = [text(n) for n in layer_group.attrs.get("weight_names", [])]
    missing = [n for n in names if walk(layer_group, n, where) is None]
    if missing:
        raise FileFormatError(f"{where}: layer {layer_name!r} lacks datasets {missing}")
    path = f"{layer_group.name}/"
    return layer_name, [stored_dataset(walk(layer_group, n, where), path + n, where) for n in names]
