"""Keras 1 convolution arguments: `Convolution2D(32, 3, 3)` is a 3x3 kernel, border_mode,
subsample, dim_ordering='th' and channels-first inputs such as (1, 28, 28), which graphc runs
by transposing inside the layer; results equal the channels-last model's on both backends."""

import warnings

import numpy as np
import pytest

import frontend as keras
from frontend import config, layers
from frontend.models import Sequential
from tests.frontend.conftest import BACKENDS

RNG = np.random.default_rng(5)


@pytest.fixture(autouse=True)
def quiet_and_channels_last():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield
    config.set_image_data_format("channels_last")


def test_positional_nb_row_nb_col_is_the_kernel_not_the_strides():
    with pytest.warns(DeprecationWarning, match="nb_row, nb_col"):
        layer = layers.Convolution2D(32, 3, 3)
    assert (layer.kernel_size, layer.strides, layer.name) == ((3, 3), (1, 1), "conv2d")
    layer = layers.Convolution2D(8, 5, 3, border_mode="same", subsample=(2, 2), activation="relu")
    assert (layer.kernel_size, layer.strides, layer.padding) == ((5, 3), (2, 2), "same")
    keyword = layers.Convolution2D(nb_filter=8, nb_row=2, nb_col=4)
    assert (keyword.filters, keyword.kernel_size) == (8, (2, 4))
    assert layers.Convolution2D(8, (3, 3), 2).strides == (2, 2)  # Keras 3's alias reading
    assert layers.Conv2D(8, 3, 3).strides == (3, 3)  # Keras 3's Conv2D is unchanged


def test_both_nb_row_and_kernel_size_is_an_error():
    with pytest.raises(TypeError, match="both nb_row"):
        layers.Convolution2D(8, 3, kernel_size=3)


def test_convolution1d_and_maxpooling_keras1_positional_forms():
    conv = layers.Convolution1D(6, 4, border_mode="same", subsample_length=2)
    assert (conv.filters, conv.kernel_size, conv.padding, conv.strides) == (6, (4,), "same", (2,))
    pool = layers.MaxPooling2D((2, 2), (1, 1), "same")
    assert (pool.pool_size, pool.strides, pool.padding) == ((2, 2), (1, 1), "same")
    pool = layers.MaxPooling2D(pool_size=(3, 3), strides=(2, 2), border_mode="valid")
    assert pool.padding == "valid"


def keras1_cnn(dim_ordering, shape):
    model = Sequential()
    model.add(layers.Convolution2D(3, 3, 3, border_mode="same", input_shape=shape,
                                   dim_ordering=dim_ordering, activation="relu"))
    model.add(layers.MaxPooling2D(pool_size=(2, 2), dim_ordering=dim_ordering))
    model.add(layers.Convolution2D(2, 2, 2, subsample=(2, 2), dim_ordering=dim_ordering))
    model.add(layers.GlobalAveragePooling2D(dim_ordering=dim_ordering))
    model.add(layers.Dense(2, activation="softmax"))
    return model


@pytest.mark.parametrize("backend", BACKENDS)
def test_channels_first_model_equals_the_channels_last_one(backend):
    x_first = RNG.random((6, 1, 8, 8)).astype("float32")
    y = np.array([0, 1, 0, 1, 1, 0])
    first, last = keras1_cnn("th", (1, 8, 8)), keras1_cnn("tf", (8, 8, 1))
    last.set_weights(first.get_weights())
    assert first.output_shape == (None, 2)
    assert first.layers[0].output_shape == (None, 3, 8, 8)
    x_last = x_first.transpose(0, 2, 3, 1)
    np.testing.assert_allclose(first.predict(x_first, verbose=0), last.predict(x_last, verbose=0),
                               rtol=1e-5, atol=1e-6)
    for model in (first, last):
        model.compile("sgd", "sparse_categorical_crossentropy", backend=backend)
    first.fit(x_first, y, epochs=2, batch_size=3, shuffle=False, verbose=0)
    last.fit(x_last, y, epochs=2, batch_size=3, shuffle=False, verbose=0)
    for a, b in zip(first.get_weights(), last.get_weights()):  # same gradients, same updates
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_image_dim_ordering_th_makes_channels_first_the_default():
    keras.backend.set_image_dim_ordering("th")
    assert (config.image_data_format(), keras.backend.image_dim_ordering()) == (
        "channels_first", "th")
    model = Sequential([layers.Conv2D(4, (3, 3), input_shape=(1, 6, 6)),
                        layers.MaxPooling2D(), layers.Flatten()])
    assert model.output_shape == (None, 4 * 2 * 2)
    config.set_image_data_format("channels_last")
    assert keras.backend.image_dim_ordering() == "tf"


def test_channels_first_zero_padding_and_upsampling_keep_the_layout():
    x = RNG.random((2, 3, 4, 5)).astype("float32")
    padded = layers.ZeroPadding2D((1, 2), data_format="channels_first")(x)
    assert np.asarray(padded).shape == (2, 3, 6, 9)
    upsampled = layers.UpSampling2D(2, data_format="channels_first")(x)
    np.testing.assert_array_equal(np.asarray(upsampled), x.repeat(2, axis=2).repeat(2, axis=3))


def test_convolution2d_config_round_trips():
    layer = layers.Convolution2D(4, 3, 3, dim_ordering="th", subsample=(2, 2))
    clone = layers.deserialize(layers.serialize(layer))
    assert (clone.kernel_size, clone.strides, clone.data_format) == (
        (3, 3), (2, 2), "channels_first")


def test_bad_formats_name_the_layer_and_the_value():
    with pytest.raises(ValueError, match=r"Conv2D: `data_format` .*'channels_middle'"):
        layers.Conv2D(4, 3, data_format="channels_middle")
    with pytest.raises(ValueError, match="set_image_data_format.*'nchw'"):
        config.set_image_data_format("nchw")
    with pytest.raises(ValueError, match=r"channels, rows, cols"):
        layers.Conv2D(4, 3, data_format="channels_first")(np.zeros((1, 5, 5), "float32"))
