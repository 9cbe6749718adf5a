"""Issue 12 item 3: RepeatVector, Permute, Cropping1D/2D, PReLU, Rescaling, Normalization,
CategoryEncoding (values against NumPy on both backends, gradients against finite
differences, save/load, plot_model) and the training-only noise layers GaussianNoise,
GaussianDropout, SpatialDropout1D/2D (identity at inference, their statistics, both backends
drawing the same numbers)."""

import numpy as np
import pytest

import graphc as gc
from frontend import layers
from frontend.models import Model, load_model
from frontend.utils import plot_model
from tests.frontend.conftest import BACKENDS, llvm_available
from tests.frontend.layer_gradients import check_layer_gradients

RNG = np.random.default_rng(5)


def data(*shape):
    return RNG.standard_normal(shape).astype("float32")


def prelu_reference(x, alpha):
    return np.where(x > 0, x, alpha * x)


def crop(x, *pairs):
    index = tuple(slice(a, x.shape[i + 1] - b) for i, (a, b) in enumerate(pairs))
    return x[(slice(None),) + index]


# (make the layer, input shape without batch, NumPy reference given (x, layer weights))
VALUE_CASES = {
    "repeat_vector": (
        lambda: layers.RepeatVector(3), (4,), lambda x, w: np.repeat(x[:, None], 3, 1)
    ),
    "permute": (
        lambda: layers.Permute((3, 1, 2)), (2, 3, 4), lambda x, w: x.transpose(0, 3, 1, 2)
    ),
    "cropping1d": (lambda: layers.Cropping1D((1, 2)), (6, 3), lambda x, w: crop(x, (1, 2))),
    "cropping2d": (
        lambda: layers.Cropping2D(((1, 0), (0, 2))),
        (4, 5, 2),
        lambda x, w: crop(x, (1, 0), (0, 2)),
    ),
    "cropping2d_channels_first": (
        lambda: layers.Cropping2D(1, data_format="channels_first"),
        (2, 4, 5),
        lambda x, w: x[:, :, 1:-1, 1:-1],
    ),
    "prelu": (
        lambda: layers.PReLU(alpha_initializer="random_normal", shared_axes=[1]),
        (3, 4),
        lambda x, w: prelu_reference(x, w[0]),
    ),
    "rescaling": (lambda: layers.Rescaling(0.5, offset=-1.0), (3,), lambda x, w: x * 0.5 - 1),
    "normalization_given": (
        lambda: layers.Normalization(mean=[1.0, 2.0, 3.0], variance=[4.0, 1.0, 0.25]),
        (2, 3),
        lambda x, w: (x - [1.0, 2.0, 3.0]) / np.sqrt([4.0, 1.0, 0.25]),
    ),
    "normalization_inverted": (
        lambda: layers.Normalization(mean=2.0, variance=9.0, invert=True),
        (3,),
        lambda x, w: x * 3.0 + 2.0,
    ),
}


def build_model(make, shape, dtype="float32"):
    inputs = layers.Input(shape=shape, dtype=dtype)
    layer = make()
    return Model(inputs, layer(inputs)), layer


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", sorted(VALUE_CASES))
def test_values_match_numpy(case, backend):
    make, shape, reference = VALUE_CASES[case]
    model, layer = build_model(make, shape)
    x = data(2, *shape)
    model.compile(loss="mse", backend=backend)
    got = model.predict(x, verbose=0)
    expected = reference(x.astype("float64"), layer.get_weights())
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "case", ["repeat_vector", "permute", "cropping2d", "prelu", "normalization_given"]
)
def test_gradients_match_finite_differences(case, backend):
    make, shape, _ = VALUE_CASES[case]
    layer = make()
    layer.dtype = "float64"
    check_layer_gradients(layer, RNG.standard_normal((2, *shape)), backend, RNG)


@pytest.mark.parametrize("case", sorted(VALUE_CASES))
def test_save_load_and_plot(case, tmp_path):
    make, shape, _ = VALUE_CASES[case]
    model, layer = build_model(make, shape)
    x = data(2, *shape)
    model.save(tmp_path / "m.zip")
    loaded = load_model(tmp_path / "m.zip")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    twin = loaded.layers[-1]
    assert type(twin) is type(layer) and twin.get_config() == layer.get_config()
    drawn = plot_model(model, to_file=str(tmp_path / "m.dot"), show_shapes=True)
    with open(drawn) as picture:
        assert type(layer).__name__ in picture.read()


# ---- Normalization.adapt and CategoryEncoding --------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_normalization_adapt_per_feature_and_reload(backend, tmp_path):
    samples = RNG.standard_normal((50, 4, 3)) * [1.0, 2.0, 5.0] + [0.0, 1.0, -3.0]
    inputs = layers.Input(shape=(4, 3))
    norm = layers.Normalization(axis=-1)
    model = Model(inputs, norm(inputs))
    norm.adapt(samples)
    assert [w.shape for w in norm.weights] == [(1, 3), (1, 3)]
    model.compile(loss="mse", backend=backend)
    got = model.predict(samples.astype("float32"), verbose=0)
    np.testing.assert_allclose(got.reshape(-1, 3).mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(got.reshape(-1, 3).std(0), 1, rtol=1e-4)
    model.save(tmp_path / "m.zip")
    np.testing.assert_array_equal(load_model(tmp_path / "m.zip").predict(samples[:3], verbose=0),
                                  model.predict(samples[:3], verbose=0))


def test_normalization_adapt_over_several_kept_axes():
    samples = RNG.standard_normal((40, 2, 3))
    norm = layers.Normalization(axis=(1, 2))
    norm.adapt(samples)
    np.testing.assert_allclose(norm(samples), (samples - samples.mean(0)) / samples.std(0),
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("mode", ["one_hot", "multi_hot", "count"])
def test_category_encoding_matches_numpy(mode, backend):
    tokens = np.array([[0, 1, 1], [3, 3, 2]], dtype="int32")
    shape = (1,) if mode == "one_hot" else (3,)
    x = tokens[:, :1] if mode == "one_hot" else tokens
    inputs = layers.Input(shape=shape, dtype="int32")
    model = Model(inputs, layers.CategoryEncoding(num_tokens=4, output_mode=mode)(inputs))
    model.compile(loss="mse", backend=backend)
    counts = np.stack([np.bincount(row, minlength=4) for row in x]).astype("float32")
    expected = {"one_hot": counts, "multi_hot": np.minimum(counts, 1), "count": counts}[mode]
    np.testing.assert_array_equal(model.predict(x, verbose=0), expected)


def test_category_encoding_count_weights_and_rank_one_inputs():
    layer = layers.CategoryEncoding(num_tokens=3, output_mode="count")
    weights = np.array([[0.5, 2.0], [1.0, 1.0]], dtype="float32")
    np.testing.assert_allclose(layer(np.array([[0, 0], [2, 1]]), count_weights=weights),
                               [[2.5, 0, 0], [0, 1, 1]])
    np.testing.assert_array_equal(layers.CategoryEncoding(3, "one_hot")(np.array([2, 0])),
                                  [[0, 0, 1], [1, 0, 0]])


# ---- training-only noise ---------------------------------------------------------------------

NOISE = {
    "gaussian_noise": lambda: layers.GaussianNoise(0.5, seed=3),
    "gaussian_dropout": lambda: layers.GaussianDropout(0.3, seed=3),
    "spatial_dropout1d": lambda: layers.SpatialDropout1D(0.4, seed=3),
    "spatial_dropout2d": lambda: layers.SpatialDropout2D(0.4, seed=3),
}


def noise_input(case):
    return np.ones((400, 6, 5, 8) if case.endswith("2d") else (400, 30, 8), "float32")


def training_output(layer, x, backend):
    node = gc.placeholder((None,) + x.shape[1:], "float32", name="x")
    return gc.function([node], layer(node, training=True), backend=backend)(x)


@pytest.mark.parametrize("case", sorted(NOISE))
def test_noise_is_identity_at_inference_and_round_trips(case):
    layer = NOISE[case]()
    x = noise_input(case)[:2]
    np.testing.assert_array_equal(layer(x), x)
    twin = type(layer).from_config(layer.get_config())
    assert twin.get_config() == layer.get_config()


@pytest.mark.parametrize("case", sorted(NOISE))
def test_noise_statistics_and_backends_agree(case):
    layer = NOISE[case]()
    x = noise_input(case)
    got = training_output(layer, x, "numpy")
    if llvm_available():
        np.testing.assert_allclose(training_output(layer, x, "llvm"), got, rtol=1e-5, atol=1e-5)
    if case == "gaussian_noise":
        assert abs((got - x).mean()) < 0.01 and abs((got - x).std() - 0.5) < 0.01
    elif case == "gaussian_dropout":
        assert abs(got.mean() - 1) < 0.01 and abs(got.std() - np.sqrt(0.3 / 0.7)) < 0.01
    else:  # a whole channel is dropped or kept, kept ones scaled by 1 / (1 - rate)
        per_channel = got.reshape(len(got), -1, got.shape[-1])
        assert (per_channel == per_channel[:, :1]).all()
        assert set(np.unique(got)) <= {0.0, np.float32(1 / 0.6)}
        assert abs((got == 0).mean() - 0.4) < 0.03


def test_spatial_dropout2d_channels_first_drops_maps():
    layer = layers.SpatialDropout2D(0.5, data_format="channels_first", seed=1)
    got = training_output(layer, np.ones((50, 4, 3, 3), "float32"), "numpy")
    maps = got.reshape(50, 4, 9)
    assert (maps == maps[:, :, :1]).all() and 0 < (got == 0).mean() < 1


def test_bad_arguments_name_the_layer():
    with pytest.raises(ValueError, match="Permute: `dims`"):
        layers.Permute((1, 3))
    with pytest.raises(ValueError, match="GaussianDropout: `rate`"):
        layers.GaussianDropout(1.5)
    with pytest.raises(ValueError, match="Cropping1D: `cropping`"):
        layers.Cropping1D((1, 2, 3))
    with pytest.raises(ValueError, match="RepeatVector '.*' expects inputs of shape"):
        layers.RepeatVector(2)(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="CategoryEncoding: `output_mode`"):
        layers.CategoryEncoding(3, output_mode="tf_idf")
    with pytest.raises(ValueError, match="Cropping2D '.*': cropping .* leaves nothing"):
        layers.Cropping2D(2)(np.zeros((1, 4, 4, 1)))
