"""MNIST handwritten digits, with Keras's `load_data()`.

The standard `mnist.npz` (60,000 train / 10,000 test digits) is downloaded once into
`$GRAPHC_HOME/datasets` and checked against its SHA-256. Without a network and without a
cached copy, `load_data()` says so in one line and returns the 5,000 real digits shipped in
this package (4,000 train / 1,000 test), so examples run anywhere; the first time in a process
it also says where the full set can be put by hand.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from frontend.datasets.files import (
    PACKAGED_DATA,
    DatasetError,
    DownloadError,
    datasets_dir,
    download,
    load_idx_split,
    where_to_put,
)

URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
SAMPLE_DIR = PACKAGED_DATA / "mnist-5k"
sample_explained = False  # the how-to-get-the-full-set note is printed once per process


def load_data(path: str = "mnist.npz") -> tuple:
    """Load MNIST as ((x_train, y_train), (x_test, y_test)), uint8 arrays.

    Args:
        path: a file name inside `$GRAPHC_HOME/datasets` (downloaded there if missing), the
            path of an existing `.npz` with x_train/y_train/x_test/y_test, or a directory
            holding the four IDX files (`train-images-idx3-ubyte[.gz]`, ...).
    Returns:
        x_train (n, 28, 28) uint8, y_train (n,) uint8, and the same for the test split.
    Example:
        (x_train, y_train), (x_test, y_test) = mnist.load_data()
    """
    given = Path(path).expanduser()
    if given.is_dir():
        return load_idx_split(given)
    if given.is_absolute() or given.is_file():
        return load_npz(given)
    try:
        return load_npz(download(URL, datasets_dir() / given, SHA256))
    except DownloadError as err:
        notice = f"graphc: MNIST not downloaded ({err.reason}); using the offline sample"
        print(notice, file=sys.stderr)
        explain_sample(given.name)
        return load_sample()


def explain_sample(file_name: str) -> None:
    """Once per process: the sample's sizes (code written for 60000/10000 will not fit) and how
    to install the full set."""
    global sample_explained
    if sample_explained:
        return
    sample_explained = True
    print(
        "graphc: the offline MNIST sample has 4,000 train / 1,000 test digits (the full set: "
        f"60,000 / 10,000); {where_to_put(datasets_dir(), {file_name: SHA256})} "
        f"(from {URL}), or GRAPHC_OFFLINE=1 to skip the download",
        file=sys.stderr,
    )


def load_sample() -> tuple:
    """The packaged sample: 4,000 train and 1,000 test real MNIST digits (500 per class)."""
    return load_idx_split(SAMPLE_DIR)


def load_npz(path: Path) -> tuple:
    if not path.is_file():
        raise DatasetError(f"no such file: {path}")
    with np.load(path, allow_pickle=False) as f:
        missing = {"x_train", "y_train", "x_test", "y_test"} - set(f.files)
        if missing:
            raise DatasetError(f"{path} lacks {', '.join(sorted(missing))}")
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])
