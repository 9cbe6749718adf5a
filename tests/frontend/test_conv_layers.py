"""Convolution, pooling, padding and upsampling layers: Keras's output shapes, values against
direct NumPy loops, Keras 1 names, configs that round-trip, and errors naming the layer."""

import warnings

import numpy as np
import pytest

from frontend import layers
from frontend.layers import deserialize, serialize
from frontend.seeding import set_random_seed
from tests.ops.test_conv_ops import direct_conv, direct_pool, keras_conv_length, keras_pool_length

RNG = np.random.default_rng(3)


@pytest.fixture(autouse=True)
def seeded():
    set_random_seed(1)


def data(*shape):
    return RNG.standard_normal(shape).astype("float32")


# ---- shapes and values --------------------------------------------------------------------------


@pytest.mark.parametrize("padding", ["valid", "same", "causal"])
@pytest.mark.parametrize("strides,dilation", [(1, 1), (2, 1), (1, 2)])
def test_conv1d_matches_direct_loops_and_keras_length(padding, strides, dilation):
    x = data(2, 11, 3)
    layer = layers.Conv1D(
        4, 3, strides=strides, padding=padding, dilation_rate=dilation, activation="relu"
    )
    y = layer(x)
    kernel, bias = layer.get_weights()
    pad = {"valid": (0, 0), "causal": (2 * dilation, 0)}.get(padding)
    if padding == "same":
        total = max(
            (keras_conv_length(11, 3, strides, dilation, "same") - 1) * strides
            + 2 * dilation
            + 1
            - 11,
            0,
        )
        pad = (total // 2, total - total // 2)
    expected = np.maximum(direct_conv(x, kernel, (strides,), (dilation,), (pad,)) + bias, 0)
    assert y.shape == (2, keras_conv_length(11, 3, strides, dilation, padding), 4)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_conv2d_shape_and_values(padding):
    x = data(2, 7, 6, 2)
    layer = layers.Conv2D(3, (3, 2), strides=(2, 1), padding=padding, use_bias=False)
    y = layer(x)
    (kernel,) = layer.get_weights()
    pads = ((1, 1), (0, 1)) if padding == "same" else ((0, 0), (0, 0))
    assert y.shape == (
        2,
        keras_conv_length(7, 3, 2, 1, padding),
        keras_conv_length(6, 2, 1, 1, padding),
        3,
    )
    np.testing.assert_allclose(
        y, direct_conv(x, kernel, (2, 1), (1, 1), pads), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize(
    "cls,kind", [(layers.MaxPooling2D, "max"), (layers.AveragePooling2D, "avg")]
)
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_pooling_2d(cls, kind, padding):
    x = data(2, 7, 6, 3)
    y = cls((3, 2), strides=2, padding=padding)(x)
    pads = ((1, 1), (0, 0)) if padding == "same" else ((0, 0), (0, 0))
    assert y.shape == (
        2,
        keras_pool_length(7, 3, 2, padding),
        keras_pool_length(6, 2, 2, padding),
        3,
    )
    np.testing.assert_allclose(y, direct_pool(x, kind, (3, 2), (2, 2), pads), rtol=1e-6)


def test_pooling_1d_defaults_and_global_pooling():
    x = data(2, 9, 4)
    assert layers.MaxPooling1D()(x).shape == (2, 4, 4)
    assert layers.AveragePooling1D(3, padding="same")(x).shape == (2, 3, 4)
    np.testing.assert_allclose(layers.GlobalAveragePooling1D()(x), x.mean(axis=1), rtol=1e-6)
    np.testing.assert_allclose(
        layers.GlobalMaxPooling1D(keepdims=True)(x), x.max(axis=1, keepdims=True)
    )
    images = data(2, 5, 4, 3)
    np.testing.assert_allclose(
        layers.GlobalAveragePooling2D()(images), images.mean(axis=(1, 2)), rtol=1e-6
    )
    np.testing.assert_allclose(layers.GlobalMaxPool2D()(images), images.max(axis=(1, 2)))


def test_zero_padding_and_upsampling():
    x, images = data(2, 3, 2), data(1, 2, 3, 2)
    np.testing.assert_array_equal(
        layers.ZeroPadding1D((1, 2))(x), np.pad(x, ((0, 0), (1, 2), (0, 0)))
    )
    np.testing.assert_array_equal(
        layers.ZeroPadding2D(((1, 0), (2, 1)))(images),
        np.pad(images, ((0, 0), (1, 0), (2, 1), (0, 0))),
    )
    assert layers.ZeroPadding2D(2)(images).shape == (1, 6, 7, 2)
    assert layers.ZeroPadding2D((1, 3))(images).shape == (1, 4, 9, 2)
    np.testing.assert_array_equal(layers.UpSampling1D(3)(x), x.repeat(3, axis=1))
    np.testing.assert_array_equal(
        layers.UpSampling2D((2, 3))(images), images.repeat(2, axis=1).repeat(3, axis=2)
    )


# ---- Keras 1 names ---------------------------------------------------------------------------


def test_keras1_convolution_names_warn_and_mean_the_same():
    with pytest.warns(DeprecationWarning, match="nb_filter"):
        old = layers.Convolution1D(
            nb_filter=8,
            filter_length=5,
            border_mode="same",
            subsample_length=2,
            input_dim=3,
            input_length=40,
        )
    new = layers.Conv1D(8, 5, strides=2, padding="same", input_shape=(40, 3))
    assert {k: v for k, v in old.get_config().items() if k != "name"} == {
        k: v for k, v in new.get_config().items() if k != "name"
    }
    assert old._batch_input_shape == (None, 40, 3)
    with pytest.warns(DeprecationWarning, match="subsample"):
        conv2 = layers.Convolution2D(nb_filter=4, nb_row=3, nb_col=2, subsample=(2, 2))
    assert conv2.kernel_size == (3, 2) and conv2.strides == (2, 2)
    with pytest.warns(DeprecationWarning, match="pool_length"):
        pool = layers.MaxPooling1D(pool_length=3, stride=1, border_mode="same")
    assert pool.pool_size == (3,) and pool.strides == (1,) and pool.padding == "same"


# ---- configs ------------------------------------------------------------------------------------

LAYER_CASES = [
    (lambda: layers.Conv1D(4, 3, padding="causal", dilation_rate=2, activation="relu"), (2, 9, 3)),
    (lambda: layers.Conv2D(4, 3, strides=2, padding="same", use_bias=False), (2, 8, 8, 2)),
    (lambda: layers.MaxPooling1D(3, 2, "same"), (2, 9, 3)),
    (lambda: layers.MaxPooling2D((2, 3)), (2, 6, 6, 2)),
    (lambda: layers.AveragePooling1D(2), (2, 9, 3)),
    (lambda: layers.AveragePooling2D(2, padding="same"), (2, 5, 5, 2)),
    (lambda: layers.GlobalAveragePooling1D(), (2, 9, 3)),
    (lambda: layers.GlobalAveragePooling2D(keepdims=True), (2, 5, 5, 2)),
    (lambda: layers.GlobalMaxPooling1D(), (2, 9, 3)),
    (lambda: layers.GlobalMaxPooling2D(), (2, 5, 5, 2)),
    (lambda: layers.ZeroPadding1D(2), (2, 9, 3)),
    (lambda: layers.ZeroPadding2D(((1, 2), (0, 1))), (2, 5, 5, 2)),
    (lambda: layers.UpSampling1D(2), (2, 9, 3)),
    (lambda: layers.UpSampling2D((2, 1)), (2, 5, 5, 2)),
]


@pytest.mark.parametrize("make,shape", LAYER_CASES)
def test_config_round_trip_gives_the_same_layer(make, shape):
    layer = make()
    x = data(*shape)
    y = layer(x)
    clone = deserialize(serialize(layer))
    assert type(clone) is type(layer) and clone.get_config() == layer.get_config()
    clone(x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone(x), y)


# ---- errors -------------------------------------------------------------------------------------


def test_errors_name_the_layer_and_what_it_received():
    with pytest.raises(ValueError, match="Conv2D.*channels_last.*channels_first.*channels_mid"):
        layers.Conv2D(4, 3, data_format="channels_middle")
    with pytest.raises(ValueError, match="Conv1D.*filters.*Received: filters=0"):
        layers.Conv1D(0, 3)
    with pytest.raises(ValueError, match="Conv2D.*padding.*causal"):
        layers.Conv2D(4, 3, padding="causal")
    with pytest.raises(ValueError, match="Conv2D 'conv.*expects inputs"):
        layers.Conv2D(4, 3)(data(2, 5, 5))
    with pytest.raises(TypeError, match="kernel_size"):
        layers.Conv1D(4, kernel_sise=3)


def test_keras1_warnings_point_at_the_callers_line():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        layers.MaxPooling2D(border_mode="same")
    assert caught and caught[0].filename == __file__
