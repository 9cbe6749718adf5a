"""CIFAR-100 (50,000 train / 10,000 test 32x32 colour images; 100 fine or 20 coarse
classes), with Keras's `load_data(label_mode)`: the archive Keras downloads, checked against
its checksum, extracted once into `$GRAPHC_HOME/datasets/cifar-100-python`."""

from __future__ import annotations

from frontend.datasets.cifar import as_keras_arrays, batch_file, load_batch
from frontend.datasets.files import datasets_dir, download
from frontend.datasets.keras_files import extracted

URL = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
FILE_HASH = "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7"
FOLDER = "cifar-100-python"


def load_data(label_mode="fine") -> tuple:
    """((x_train, y_train), (x_test, y_test)) as cifar10.load_data; label_mode 'fine' (100
    classes) or 'coarse' (20 superclasses)."""
    if label_mode not in ("fine", "coarse"):
        raise ValueError(f"cifar100.load_data: label_mode must be 'fine' or 'coarse'. "
                         f"Received: label_mode={label_mode!r}")
    archive = download(URL, datasets_dir() / "cifar-100-python.tar.gz", FILE_HASH)
    folder = extracted(archive, FOLDER)
    key = f"{label_mode}_labels"
    splits = [load_batch(batch_file(folder, name), key) for name in ("train", "test")]
    return tuple(as_keras_arrays([x], [y]) for x, y in splits)
