"""Fashion-MNIST (Zalando, MIT license), with Keras's `load_data()`.

The four gzipped IDX files are downloaded once into `$GRAPHC_HOME/datasets/fashion-mnist`
and each is checked against its SHA-256. There is no packaged sample: without a network and
a cached copy, `load_data()` raises DownloadError.

Labels: 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt,
7 Sneaker, 8 Bag, 9 Ankle boot.
"""

from __future__ import annotations

from frontend.datasets.files import (
    DownloadError,
    datasets_dir,
    download,
    load_idx_split,
    where_to_put,
)

BASE_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
FILE_SHA256 = {  # as Keras publishes them
    "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",  # noqa: E501
    "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",  # noqa: E501
    "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
}
CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


def load_data() -> tuple:
    """Load Fashion-MNIST as ((x_train, y_train), (x_test, y_test)), uint8 arrays.

    x_train is (60000, 28, 28), y_train (60000,), x_test (10000, 28, 28), y_test (10000,).
    Example:
        (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    """
    folder = datasets_dir("fashion-mnist")
    try:
        for name, sha256 in FILE_SHA256.items():
            download(BASE_URL + name, folder / name, sha256)
    except DownloadError as err:
        hint = where_to_put(folder, FILE_SHA256)
        raise DownloadError(f"{err}; {hint} (from {BASE_URL})", err.reason) from None
    return load_idx_split(folder)
