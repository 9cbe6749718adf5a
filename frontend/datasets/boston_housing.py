"""Boston housing prices (506 samples, 13 features), with Keras's `load_data()`; downloaded
once from Keras's servers and checked against its checksum."""

from __future__ import annotations

import numpy as np

from frontend.datasets import keras_files as kf

URL = kf.KERAS_FOLDER + "boston_housing.npz"
FILE_HASH = "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5"


def load_data(path="boston_housing.npz", test_split=0.2, seed=113):
    """((x_train, y_train), (x_test, y_test)): samples shuffled with `seed`, the last
    `test_split` of them for testing, as Keras."""
    kf.check_test_split(test_split, "boston_housing.load_data")
    with np.load(kf.local_file(path, URL, FILE_HASH)) as f:  # plain floats: no pickles
        x, y = kf.shuffled(seed, f["x"], f["y"])
    split = int(len(x) * (1 - test_split))
    return (x[:split], y[:split]), (x[split:], y[split:])
