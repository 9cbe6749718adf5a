"""Weights files in Keras's HDF5 layouts: `save_weights("x.weights.h5")` writes Keras 3's;
`load_weights` reads Keras 3's (also from a `.keras` file) and Keras 2's."""

from __future__ import annotations

import io
import os
import zipfile

from frontend.models.archive import expansion_limit, read_members
from frontend.models.keras_format_h5 import h5py, require_h5py, walk
from frontend.models.keras_format_save import keras_config
from frontend.models.keras_format_weights import load_keras_weights, write_keras_weights
from frontend.models.legacy_h5_weights import is_hdf5, load_legacy_weights
from graphc.files import atomic_write


def save_keras_weights(model, path) -> None:
    """Keras 3's `.weights.h5` file of `model`'s weights, atomically."""
    data = io.BytesIO()
    write_keras_weights(model, keras_config(model)["config"].get("layers", []), data)
    atomic_write(os.fspath(path), lambda f: f.write(data.getvalue()))


def is_keras_weights_source(path: str) -> bool:
    """An HDF5 file, or a zip holding Keras 3's model.weights.h5."""
    if not os.path.isfile(path):
        return False
    if is_hdf5(path):
        return True
    try:
        with zipfile.ZipFile(path) as archive:
            return "model.weights.h5" in archive.namelist()
    except zipfile.BadZipFile:
        return False


def load_keras_weights_file(model, path: str) -> None:
    """`model`'s weights from a Keras 3 .weights.h5 or .keras file, or a Keras 2 .h5 file."""
    require_h5py(f"Loading {path}")
    layers = keras_config(model)["config"].get("layers", [])
    if not is_hdf5(path):  # a Keras 3 .keras file: its weights member
        with zipfile.ZipFile(path) as archive:
            member = read_members(archive, ["model.weights.h5"], path, expansion_limit(path))
        return load_keras_weights(model, layers, member["model.weights.h5"], path)
    with h5py.File(path, "r") as h5file:
        if "layer_names" in h5file.attrs or "model_weights" in h5file:  # Keras 2's layout
            group = walk(h5file, "model_weights", path) or h5file
            return load_legacy_weights(model, group, path)
    return load_keras_weights(model, layers, path, path)
