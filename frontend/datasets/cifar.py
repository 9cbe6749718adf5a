"""Reading the CIFAR-10/100 'python version' batches (pickled dicts) safely: only the NumPy
array reconstruction those files need is allowed, so a tampered file cannot run code."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from frontend import config
from frontend.datasets.files import DatasetError

ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


class ArraysOnly(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in ALLOWED:
            raise DatasetError(f"CIFAR batch refers to {module}.{name}, which a CIFAR file "
                               f"never does; refusing to load it")
        return super().find_class(module, name)


def load_batch(fpath, label_key="labels") -> tuple:
    """(data (n, 3, 32, 32) uint8, labels list) from one CIFAR batch file, as Keras."""
    with open(fpath, "rb") as f:
        batch = ArraysOnly(f, encoding="bytes").load()
    batch = {k.decode("utf8") if isinstance(k, bytes) else k: v for k, v in batch.items()}
    if "data" not in batch or label_key not in batch:
        raise DatasetError(f"{fpath} lacks 'data' or '{label_key}'")
    data = np.asarray(batch["data"], dtype=np.uint8)
    return data.reshape(data.shape[0], 3, 32, 32), batch[label_key]


def as_keras_arrays(x_parts, y_parts) -> tuple:
    """(x, y): images in the session's image_data_format, labels as (n, 1) uint8."""
    x = np.concatenate(x_parts)
    y = np.concatenate([np.asarray(y, dtype=np.uint8) for y in y_parts]).reshape(-1, 1)
    if config.image_data_format() == "channels_last":
        x = x.transpose(0, 2, 3, 1)
    return x, y


def batch_file(folder: Path, name: str) -> Path:
    path = folder / name
    if not path.is_file():
        raise DatasetError(f"{folder} has no {name}")
    return path
