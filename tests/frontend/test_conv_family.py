"""Issue 12 item 2: Conv1DTranspose/Conv2DTranspose, DepthwiseConv1D/2D, SeparableConv1D/2D
(values against NumPy loops on both backends, gradients against finite differences, Keras 3
defaults, save/load, plot_model, errors naming the layer and the user's line) and the Keras 2
example's denoising autoencoder (Conv2D strides 2 down, Conv2DTranspose up) training."""

import numpy as np
import pytest

from frontend import layers
from frontend.models import Model, Sequential, load_model
from frontend.optimizers import Adam
from frontend.utils import plot_model
from tests.frontend.conftest import BACKENDS
from tests.frontend.layer_gradients import check_layer_gradients
from tests.ops.test_conv_family_ops import depthwise_reference, transpose_reference

RNG = np.random.default_rng(7)


def data(*shape):
    return RNG.standard_normal(shape).astype("float32")


def relu(x):
    return np.maximum(x, 0)


def separable_reference(x, strides, padding, dilation, weights):
    depthwise, pointwise, bias = weights
    out = depthwise_reference(x, depthwise, strides, dilation, padding)
    return out @ pointwise.reshape(-1, pointwise.shape[-1]) + bias


# (make the layer, input shape without batch, NumPy reference given (x, layer weights))
VALUE_CASES = {
    "conv2d_transpose_same": (
        lambda: layers.Conv2DTranspose(4, 3, strides=2, padding="same", activation="relu"),
        (7, 1, 3),
        lambda x, w: relu(transpose_reference(x, w[0], (2, 2), (1, 1), "same", None) + w[1]),
    ),
    "conv2d_transpose_valid_output_padding": (
        lambda: layers.Conv2DTranspose(2, (2, 3), strides=(3, 2), output_padding=(2, 0),
                                       dilation_rate=1, use_bias=False),
        (4, 5, 2),
        lambda x, w: transpose_reference(x, w[0], (3, 2), (1, 1), "valid", (2, 0)),
    ),
    "conv1d_transpose_dilated": (
        lambda: layers.Conv1DTranspose(3, 3, dilation_rate=2, bias_initializer="ones"),
        (33, 2),
        lambda x, w: transpose_reference(x, w[0], (1,), (2,), "valid", None) + w[1],
    ),
    "depthwise_conv2d": (
        lambda: layers.DepthwiseConv2D(3, strides=(1, 2), padding="same", depth_multiplier=2,
                                       bias_initializer="ones"),
        (7, 6, 3),
        lambda x, w: depthwise_reference(x, w[0], (1, 2), (1, 1), "same") + w[1],
    ),
    "depthwise_conv1d": (
        lambda: layers.DepthwiseConv1D(3, dilation_rate=2, use_bias=False),
        (7, 2),
        lambda x, w: depthwise_reference(x, w[0], (1,), (2,), "valid"),
    ),
    "separable_conv2d": (
        lambda: layers.SeparableConv2D(4, (3, 2), padding="same", depth_multiplier=2,
                                       bias_initializer="ones"),
        (5, 1, 3),
        lambda x, w: separable_reference(x, (1, 1), "same", (1, 1), w),
    ),
    "separable_conv1d": (
        lambda: layers.SeparableConv1D(3, 3, strides=2, bias_initializer="ones"),
        (33, 2),
        lambda x, w: separable_reference(x, (2,), "valid", (1,), w),
    ),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", sorted(VALUE_CASES))
def test_values_and_output_shapes_match_numpy(case, backend):
    make, shape, reference = VALUE_CASES[case]
    layer = make()
    model = Sequential([layers.Input(shape=shape), layer])
    model.compile(loss="mse", backend=backend)
    x = data(3, *shape)
    expected = reference(x.astype("float64"), [w.astype("float64") for w in layer.get_weights()])
    assert expected.shape[1:] == model.output_shape[1:]
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", sorted(VALUE_CASES))
def test_gradients_match_finite_differences(case, backend):
    make, shape, _ = VALUE_CASES[case]
    layer = make()
    layer.dtype = "float64"
    small = tuple(min(n, 7) for n in shape)  # finite differences per element: keep it small
    check_layer_gradients(layer, RNG.standard_normal((2, *small)), backend, RNG)


def test_every_layer_saves_reloads_and_is_plotted(tmp_path):
    """One model with a branch per case: predictions, configs and the drawing survive."""
    inputs = {case: layers.Input(shape=VALUE_CASES[case][1]) for case in sorted(VALUE_CASES)}
    made = {case: VALUE_CASES[case][0]() for case in inputs}
    model = Model(list(inputs.values()), [made[case](inputs[case]) for case in inputs])
    x = [data(2, *VALUE_CASES[case][1]) for case in inputs]
    model.save(tmp_path / "family.zip")
    loaded = load_model(tmp_path / "family.zip")
    for before, after in zip(model.predict(x, verbose=0), loaded.predict(x, verbose=0)):
        np.testing.assert_array_equal(after, before)
    for layer in made.values():
        twin = loaded.get_layer(layer.name)
        assert type(twin) is type(layer) and twin.get_config() == layer.get_config()
    with open(plot_model(model, to_file=str(tmp_path / "family.dot"), show_shapes=True)) as dot:
        drawing = dot.read()
    assert all(type(layer).__name__ in drawing for layer in made.values())


def test_keras3_defaults_and_weight_names():
    transpose = layers.Conv2DTranspose(8, 3).get_config()
    assert (transpose["strides"], transpose["padding"], transpose["output_padding"],
            transpose["dilation_rate"]) == ([1, 1], "valid", None, [1, 1])
    assert "groups" not in transpose
    separable = layers.SeparableConv2D(8, 3)
    separable(np.zeros((1, 5, 5, 2), "float32"))
    assert [w.name.split("/")[-1] for w in separable.weights] == [
        "depthwise_kernel", "pointwise_kernel", "bias"]
    assert separable.get_config()["pointwise_initializer"]["class_name"] == "GlorotUniform"
    depthwise = layers.DepthwiseConv1D(3)
    depthwise(np.zeros((1, 5, 2), "float32"))
    assert [w.shape for w in depthwise.weights] == [(3, 2, 1), (2,)]
    assert depthwise.get_config()["depth_multiplier"] == 1
    assert layers.Convolution2DTranspose is layers.Conv2DTranspose
    assert layers.SeparableConvolution1D is layers.SeparableConv1D


def test_bad_input_names_the_layer_the_shape_and_this_line():
    with pytest.raises(ValueError, match=r"Conv2DTranspose 'up' expects .*\(None, 5, 3\) "
                                         r"\(at .*test_conv_family.py:\d+\)"):
        layers.Conv2DTranspose(4, 3, name="up")(layers.Input(shape=(5, 3)))
    with pytest.raises(ValueError, match=r"SeparableConv1D 's' expects .*\(None, 4, 4, 2\)"):
        layers.SeparableConv1D(4, 3, name="s")(layers.Input(shape=(4, 4, 2)))
    with pytest.raises(ValueError, match=r"Conv2DTranspose: `output_padding` must be 2 ints >= 0 "
                                         r"and smaller than `strides`. Received: "
                                         r"output_padding=\(0, 2\), strides=\(2, 2\)"):
        layers.Conv2DTranspose(4, 3, strides=2, output_padding=(0, 2))
    with pytest.raises(ValueError, match=r"DepthwiseConv2D: `padding` must be 'valid' or "
                                         r"'same'. Received: padding='causal'"):
        layers.DepthwiseConv2D(3, padding="causal")
    with pytest.raises(ValueError, match=r"Conv1DTranspose: `padding` must be 'valid' or 'same'"):
        layers.Conv1DTranspose(3, 3, padding="causal")


def denoising_autoencoder():
    """The Keras 2 example's shape: Conv2D strides 2 down, Conv2DTranspose strides 2 up."""
    return Sequential([
        layers.Input(shape=(28, 28, 1)),
        layers.Conv2D(8, 3, strides=2, padding="same", activation="relu"),
        layers.Conv2D(8, 3, strides=2, padding="same", activation="relu"),
        layers.Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu"),
        layers.Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu"),
        layers.Conv2D(1, 3, padding="same", activation="sigmoid"),
    ])


def blob_images(n):
    """MNIST-sized strokes: two Gaussian blobs per 28 x 28 image on a dark background."""
    grid = np.arange(28)[:, None], np.arange(28)[None, :]
    centers = RNG.uniform(6, 22, (n, 2, 2))
    images = sum(np.exp(-((grid[0] - centers[:, b, 0, None, None]) ** 2
                          + (grid[1] - centers[:, b, 1, None, None]) ** 2) / 8) for b in (0, 1))
    return np.clip(images, 0, 1)[..., None].astype("float32")


@pytest.mark.parametrize("backend", BACKENDS)
def test_denoising_autoencoder_trains(backend):
    clean = blob_images(96)
    noisy = np.clip(clean + 0.3 * RNG.standard_normal(clean.shape), 0, 1).astype("float32")
    model = denoising_autoencoder()
    assert model.output_shape == (None, 28, 28, 1)
    model.compile(optimizer=Adam(learning_rate=0.01), loss="binary_crossentropy",
                  backend=backend)
    losses = model.fit(noisy, clean, epochs=4, batch_size=16, verbose=0).history["loss"]
    assert losses[-1] < 0.7 * losses[0], losses


@pytest.mark.parametrize(
    "make",
    [
        lambda fmt: layers.Conv2DTranspose(3, 3, strides=2, data_format=fmt),
        lambda fmt: layers.DepthwiseConv2D(3, depth_multiplier=2, data_format=fmt),
        lambda fmt: layers.SeparableConv2D(4, 3, padding="same", data_format=fmt),
    ],
)
def test_channels_first_matches_channels_last_with_the_same_weights(make):
    """Keras 1's dim_ordering='th' data: the layer transposes inside, so the result is the
    channels-last result transposed."""
    x = np.random.default_rng(0).standard_normal((2, 7, 7, 3)).astype("float32")
    last, first = make("channels_last"), make("channels_first")
    inputs_last, inputs_first = layers.Input((7, 7, 3)), layers.Input((3, 7, 7))
    out_last = Model(inputs_last, last(inputs_last)).predict(x, verbose=0)
    model_first = Model(inputs_first, first(inputs_first))
    first.set_weights(last.get_weights())
    out_first = model_first.predict(x.transpose(0, 3, 1, 2), verbose=0)
    np.testing.assert_allclose(out_first, out_last.transpose(0, 3, 1, 2), rtol=1e-5, atol=1e-5)
