"""CIFAR-10 (50,000 train / 10,000 test 32x32 colour images, 10 classes), with Keras's
`load_data()`: the archive Keras downloads, checked against its checksum, extracted once
into `$GRAPHC_HOME/datasets/cifar-10-batches-py`."""

from __future__ import annotations

from frontend.datasets.cifar import as_keras_arrays, batch_file, load_batch
from frontend.datasets.files import datasets_dir, download
from frontend.datasets.keras_files import extracted

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
FILE_HASH = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
FOLDER = "cifar-10-batches-py"


def load_data() -> tuple:
    """((x_train, y_train), (x_test, y_test)): uint8 images (n, 32, 32, 3) (channels first
    when image_data_format() says so) and uint8 labels (n, 1)."""
    archive = download(URL, datasets_dir() / "cifar-10-python.tar.gz", FILE_HASH)
    folder = extracted(archive, FOLDER)
    train = [load_batch(batch_file(folder, f"data_batch_{i}")) for i in range(1, 6)]
    test = load_batch(batch_file(folder, "test_batch"))
    x_train, y_train = as_keras_arrays([x for x, _ in train], [y for _, y in train])
    return (x_train, y_train), as_keras_arrays([test[0]], [test[1]])
