"""Every convolutional, pooling, recurrent and wrapper layer survives model.save / load_model:
same config, same weights, same predictions (functional models, so multi-output layers too)."""

import numpy as np
import pytest

from frontend import layers
from frontend.models import Model, load_model
from frontend.seeding import set_random_seed

IMAGES, SEQUENCES = (6, 6, 2), (5, 3)

CASES = [
    (lambda: layers.Conv1D(4, 3, padding="causal", dilation_rate=2, activation="relu"), SEQUENCES),
    (lambda: layers.Conv2D(3, (3, 2), strides=2, padding="same"), IMAGES),
    (lambda: layers.MaxPooling1D(2, padding="same"), SEQUENCES),
    (lambda: layers.MaxPooling2D((2, 3)), IMAGES),
    (lambda: layers.AveragePooling1D(3, strides=1), SEQUENCES),
    (lambda: layers.AveragePooling2D(padding="same"), IMAGES),
    (lambda: layers.GlobalAveragePooling1D(), SEQUENCES),
    (lambda: layers.GlobalAveragePooling2D(keepdims=True), IMAGES),
    (lambda: layers.GlobalMaxPooling1D(), SEQUENCES),
    (lambda: layers.GlobalMaxPooling2D(), IMAGES),
    (lambda: layers.ZeroPadding1D((1, 2)), SEQUENCES),
    (lambda: layers.ZeroPadding2D(((1, 0), (2, 1))), IMAGES),
    (lambda: layers.UpSampling1D(3), SEQUENCES),
    (lambda: layers.UpSampling2D((1, 2)), IMAGES),
    (lambda: layers.SimpleRNN(4, return_sequences=True, go_backwards=True), SEQUENCES),
    (lambda: layers.LSTM(4, return_state=True), SEQUENCES),
    (lambda: layers.GRU(4, return_sequences=True), SEQUENCES),
    (
        lambda: layers.Bidirectional(layers.LSTM(3, return_sequences=True), merge_mode="ave"),
        SEQUENCES,
    ),
    (lambda: layers.TimeDistributed(layers.Dense(2, activation="tanh")), SEQUENCES),
]


@pytest.mark.parametrize("make,shape", CASES)
def test_save_and_load_round_trip(make, shape, tmp_path):
    set_random_seed(3)
    inputs = layers.Input(shape=shape)
    layer = make()
    model = Model(inputs, layer(inputs))
    x = np.random.default_rng(0).standard_normal((2, *shape)).astype("float32")
    before = model.predict(x, verbose=0)
    model.save(tmp_path / "model.zip")
    loaded = load_model(tmp_path / "model.zip")
    after = loaded.predict(x, verbose=0)
    for a, b in zip(
        before if isinstance(before, list) else [before],
        after if isinstance(after, list) else [after],
    ):
        np.testing.assert_array_equal(a, b)
    twin = next(lay for lay in loaded.layers if type(lay) is type(layer))
    assert twin.get_config() == layer.get_config()
    for a, b in zip(twin.get_weights(), layer.get_weights()):
        np.testing.assert_array_equal(a, b)
