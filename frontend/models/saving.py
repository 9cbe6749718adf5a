"""Saving and loading models and weights, safely.

`model.save(path)` writes one zip archive (read back by frontend/models/loading.py) holding
    metadata.json      format name and version, graphc/numpy/Python versions, date, backend
    config.json        the model's class and config, and its compile settings
    model.weights.npz  the weights in `model.weights` order (plus their names)
    optimizer.npz      the optimizer's state (iterations, learning rate, slots), once it exists
It is written to a temporary file in the same folder and renamed over `path`, so a crash
never leaves a half-written model. Loading (frontend/models/archive.py, loading.py) checks every
declared size before reading or allocating, never unpickles and refuses Lambda layers (whose
functions are bytecode) unless `safe_mode=False`.

`save_weights(path)` writes only the .npz part (any file name; '.weights.npz' is suggested),
or Keras 3's HDF5 layout for a name ending '.weights.h5'. `save(path, format="keras3")`
writes Keras 3's `.keras` file instead (frontend/models/keras_format_save.py).
"""

from __future__ import annotations

import datetime
import io
import json
import os
import platform
import warnings
import zipfile

import numpy as np

import graphc
from frontend.models.archive import FileFormatError, read_weights_file
from frontend.models.compile_config import compile_config
from frontend.models.keras_format_save import save_keras_model
from frontend.models.keras_format_weights_file import (
    is_keras_weights_source,
    load_keras_weights_file,
    save_keras_weights,
)
from frontend.models.serialization import model_to_dict
from graphc.files import atomic_write

FORMAT = "graphc.frontend.model"
FORMAT_VERSION = 1


def arrays_to_npz(arrays, names) -> bytes:
    buffer = io.BytesIO()
    entries = {f"w{i:04d}": np.asarray(a) for i, a in enumerate(arrays)}
    np.savez(buffer, names=np.array(list(names), dtype=np.str_), **entries)
    return buffer.getvalue()


def metadata(model) -> dict:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "graphc_version": graphc.__version__,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "date_saved": datetime.datetime.now().isoformat(timespec="seconds"),
        "backend": getattr(model, "backend_name", None),
        "class_name": type(model).__name__,
    }


def check_target(path: str, overwrite: bool, warn_h5=True) -> str:
    path = os.fspath(path)
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    if warn_h5 and path.endswith((".h5", ".hdf5")):
        warnings.warn(
            f"{path}: graphc writes its own zip format (JSON config + NumPy weights), "
            f"not HDF5, whatever the extension; '.keras' is the usual name",
            UserWarning,
            stacklevel=4,
        )
    return path


def save_model(model, filepath, overwrite=True, include_optimizer=True, format=None) -> None:  # noqa: A002
    """Write `model` as one zip archive (see the module docstring), atomically; with
    format="keras3", as Keras 3's `.keras` file (frontend/models/keras_format_save.py)."""
    if format not in (None, "graphc", "keras3"):
        raise ValueError(f"save: format must be None, 'graphc' or 'keras3'; received {format!r}")
    if format == "keras3":
        return save_keras_model(model, check_target(filepath, overwrite, warn_h5=False))
    path = check_target(filepath, overwrite)
    config = {**model_to_dict(model), "compile_config": compile_config(model)}
    members = {
        "metadata.json": json.dumps(metadata(model), indent=1).encode(),
        "config.json": json.dumps(config, indent=1).encode(),
        "model.weights.npz": arrays_to_npz(model.get_weights(), [w.name for w in model.weights]),
    }
    optimizer = getattr(model, "optimizer", None) if getattr(model, "compiled", False) else None
    if include_optimizer and optimizer is not None and optimizer.built:
        members["optimizer.npz"] = arrays_to_npz(
            [v.get_value() for v in optimizer.variables], [v.name for v in optimizer.variables]
        )

    def write(f):
        with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in members.items():
                archive.writestr(name, data)

    atomic_write(path, write)


def assign_weights(model, arrays, names, source: str) -> None:
    weights = model.weights
    if len(arrays) != len(weights):
        raise FileFormatError(
            f"{source} holds {len(arrays)} weight arrays but model '{model.name}' "
            f"has {len(weights)} weights ({', '.join(w.name for w in weights)})"
        )
    for i, (var, value) in enumerate(zip(weights, arrays)):
        if tuple(value.shape) != tuple(var.shape):
            saved = names[i] if names else f"array {i}"
            raise FileFormatError(
                f"{source}: weight {var.name!r} of model '{model.name}' has shape "
                f"{var.shape}, but the file's {saved!r} has shape {value.shape}"
            )
    for var, value in zip(weights, arrays):
        var.set_value(value.astype(var.dtype))


def save_weights(model, filepath, overwrite=True) -> None:
    """NumPy .npz weights, or Keras 3's layout for a name ending '.weights.h5' (as Keras)."""
    if os.fspath(filepath).endswith(".weights.h5"):
        return save_keras_weights(model, check_target(filepath, overwrite, warn_h5=False))
    path = check_target(filepath, overwrite)
    data = arrays_to_npz(model.get_weights(), [w.name for w in model.weights])
    atomic_write(path, lambda f: f.write(data))


def load_weights(model, filepath) -> None:
    """Weights from `save_weights` output or from a whole saved model (also Keras's)."""
    path = os.fspath(filepath)
    if is_keras_weights_source(path):
        return load_keras_weights_file(model, path)
    arrays, names = read_weights_file(path)
    assign_weights(model, arrays, names, path)
