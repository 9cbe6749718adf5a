"""LayerNormalization, RMSNormalization, GroupNormalization and UnitNormalization: values against
NumPy, gradients against finite differences on both backends, Keras 3 weights and defaults,
save/load, and errors naming the layer and the shapes."""

import numpy as np
import pytest

from frontend import layers
from frontend.models import Model, load_model
from tests.frontend.conftest import BACKENDS
from tests.frontend.layer_checks import assert_gradients_match, outputs_on

RNG = np.random.default_rng(11)


def data(*shape, dtype="float32"):
    return (3 * RNG.standard_normal(shape) + 1).astype(dtype)


def randomize(layer):
    layer.set_weights([RNG.standard_normal(w.shape).astype(w.dtype) for w in layer.weights])
    return layer.get_weights()


def np_layer_norm(x, axes, epsilon, gamma, beta):
    mean = x.mean(axes, keepdims=True)
    variance = x.var(axes, keepdims=True)
    return (x - mean) / np.sqrt(variance + epsilon) * gamma + beta


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("axis", [-1, (1, 2)])
def test_layer_normalization_matches_numpy(backend, axis):
    x = data(2, 3, 4)
    layer = layers.LayerNormalization(axis=axis)
    layer(x)
    gamma, beta = randomize(layer)
    axes = (2,) if axis == -1 else axis
    shape = [1, 1, 1]
    for a in axes:
        shape[a] = x.shape[a]
    expected = np_layer_norm(x, axes, 1e-3, gamma.reshape(shape), beta.reshape(shape))
    np.testing.assert_allclose(outputs_on(backend, layer, [x]), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_layer_normalization_rms_scaling_is_keras_3s(backend):
    x = data(2, 5)
    layer = layers.LayerNormalization(rms_scaling=True, epsilon=1e-5)
    layer(x)
    (gamma,) = randomize(layer)  # as Keras 3: no beta with rms_scaling
    expected = x / np.sqrt(x.var(-1, keepdims=True) + 1e-5) * gamma
    np.testing.assert_allclose(outputs_on(backend, layer, [x]), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_rms_normalization_matches_numpy(backend):
    x = data(3, 6)
    layer = layers.RMSNormalization()
    layer(x)
    (scale,) = randomize(layer)
    expected = x / np.sqrt((x**2).mean(-1, keepdims=True) + 1e-6) * scale
    np.testing.assert_allclose(outputs_on(backend, layer, [x]), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_group_normalization_matches_numpy(backend):
    x = data(2, 3, 6)
    layer = layers.GroupNormalization(groups=3)
    layer(x)
    gamma, beta = randomize(layer)
    grouped = x.reshape(2, 3, 3, 2)
    mean = grouped.mean((1, 3), keepdims=True)
    variance = grouped.var((1, 3), keepdims=True)
    normed = ((grouped - mean) / np.sqrt(variance + 1e-3)).reshape(2, 3, 6)
    expected = normed * gamma + beta
    np.testing.assert_allclose(outputs_on(backend, layer, [x]), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_unit_normalization_matches_numpy(backend):
    x = data(3, 4)
    x[0] = 0.0  # an all-zero row stays zero
    got = outputs_on(backend, layers.UnitNormalization(), [x])
    norms = np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-6)
    np.testing.assert_allclose(got, x / norms, rtol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "make",
    [
        lambda: layers.LayerNormalization(dtype="float64"),
        lambda: layers.LayerNormalization(rms_scaling=True, dtype="float64"),
        lambda: layers.RMSNormalization(dtype="float64"),
        lambda: layers.GroupNormalization(2, dtype="float64"),
        lambda: layers.UnitNormalization(dtype="float64"),
    ],
)
def test_gradients_match_finite_differences(backend, make):
    x = data(2, 3, 4, dtype="float64")
    layer = make()
    layer(x)
    randomize(layer)
    assert_gradients_match(backend, layer, [x], layer.weights)


def test_keras_3_weights_and_defaults():
    layer = layers.LayerNormalization()
    layer(data(2, 5))
    assert [layer.weight_info(w)["name"] for w in layer.weights] == ["gamma", "beta"]
    config = layer.get_config()
    assert (config["epsilon"], config["axis"], config["center"], config["scale"]) == (
        1e-3, -1, True, True
    )  # fmt: skip
    assert layers.GroupNormalization().get_config()["groups"] == 32
    rms = layers.RMSNormalization()
    rms(data(2, 5))
    assert rms.epsilon == 1e-6 and rms.weight_info(rms.weights[0])["name"] == "scale"
    assert layers.LayerNormalization(center=False, scale=False)(data(2, 3)).shape == (2, 3)


@pytest.mark.parametrize(
    "make",
    [
        lambda: layers.LayerNormalization(axis=(1, 2), epsilon=1e-5),
        lambda: layers.RMSNormalization(epsilon=1e-4),
        lambda: layers.GroupNormalization(2, center=False),
        lambda: layers.UnitNormalization(axis=1),
    ],
)
def test_save_and_load_round_trip(make, tmp_path):
    inputs = layers.Input((3, 4))
    layer = make()
    model = Model(inputs, layer(inputs))
    randomize(layer)
    x = data(2, 3, 4)
    model.save(tmp_path / "n.zip")
    loaded = load_model(tmp_path / "n.zip")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    twin = next(lay for lay in loaded.layers if type(lay) is type(layer))
    assert twin.get_config() == layer.get_config()


def test_errors_name_the_layer_and_shapes():
    with pytest.raises(ValueError, match=r"'gn'.*groups must divide.*groups=4.*\(2, 3, 6\)") as e:
        layers.GroupNormalization(4, name="gn")(data(2, 3, 6))
    assert "test_normalization_layers.py" in str(e.value)
    with pytest.raises(ValueError, match=r"'ln'.*axis 0.*input_shape=\(2, 3\)"):
        layers.LayerNormalization(axis=0, name="ln")(data(2, 3))
    with pytest.raises(ValueError, match="groups=0"):
        layers.GroupNormalization(0)


@pytest.mark.parametrize("scale,center", [(True, True), (False, True), (False, False)])
def test_rms_scaling_has_gamma_and_no_beta_as_keras(scale, center):
    layer = layers.LayerNormalization(rms_scaling=True, scale=scale, center=center)
    layer.build((None, 6))
    assert [tuple(w.shape) for w in layer.weights] == [(6,)] and layer.beta is None
