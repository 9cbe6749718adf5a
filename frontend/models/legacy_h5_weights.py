"""Keras 2's HDF5 weights layout: a group (the file's root for `save_weights`, or
`model_weights` in a full-model file) lists its layers in the attribute `layer_names`; each
layer's group lists its datasets in `weight_names`, in the layer's weight order."""

from __future__ import annotations

import json

from frontend.models.archive import FileFormatError
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
    """Each layer's datasets in `weight_names` order, matched to the layer by name."""
    if "layer_names" not in group.attrs:
        raise FileFormatError(f"{where}: no Keras weights (no 'layer_names' attribute)")
    for layer_name in (text(n) for n in group.attrs.get("layer_names", [])):
        if layer_name not in group:
            raise FileFormatError(f"{where}: model_weights lacks the group of {layer_name!r}")
        layer_group = group[layer_name]
        names = [text(n) for n in layer_group.attrs.get("weight_names", [])]
        if not names:
            continue
        missing = [n for n in names if n not in layer_group]
        if missing:
            raise FileFormatError(f"{where}: layer {layer_name!r} lacks datasets {missing}")
        arrays = [layer_group[n][()] for n in names]
        path = f"model_weights/{layer_name}"
        assign_layer_weights(model.get_layer(layer_name), arrays, path, where)


