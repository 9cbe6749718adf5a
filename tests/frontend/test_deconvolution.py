"""Deconvolution2D, Keras 1's name of Conv2DTranspose: its positional form (nb_filter, nb_row,
nb_col, output_shape), Keras 1 keywords, the output_shape check, and values, training and a
save/reload equal to Conv2DTranspose's on the same weights, on both backends."""

import numpy as np
import pytest

from frontend import layers
from frontend.models import Sequential, load_model
from tests.frontend.conftest import BACKENDS

RNG = np.random.default_rng(12)
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Keras 1 names on purpose


def test_keras1_positional_form_and_keywords():
    with pytest.warns(DeprecationWarning, match="nb_row, nb_col"):
        layer = layers.Deconvolution2D(8, 3, 2, (None, 9, 8, 8))
    assert (layer.filters, layer.kernel_size, layer.strides) == (8, (3, 2), (1, 1))
    layer = layers.Deconvolution2D(nb_filter=4, nb_row=2, nb_col=2, subsample=(2, 2),
                                   border_mode="same", bias=False, init="he_normal")
    assert (layer.kernel_size, layer.strides, layer.padding, layer.use_bias) == (
        (2, 2), (2, 2), "same", False)
    assert layers.Deconv2D(3, (2, 2), 2).strides == (2, 2)  # Keras 2's (kernel_size, strides)
    with pytest.raises(TypeError, match="both nb_row"):
        layers.Deconvolution2D(8, 3, kernel_size=3)


def test_a_wrong_output_shape_names_the_layer_and_both_shapes():
    model = Sequential([layers.Input((4, 4, 2)),
                        layers.Deconvolution2D(4, 3, 3, (None, 10, 10, 4), subsample=(2, 2))])
    with pytest.raises(ValueError, match=r"Deconv.*\(None, 10, 10, 4\).*\(None, 9, 9, 4\)"):
        model.build((None, 4, 4, 2))


def pair():
    keras1 = Sequential([layers.Input((5, 5, 2)),
                         layers.Deconvolution2D(3, 3, 3, (None, 11, 11, 3), subsample=(2, 2))])
    keras3 = Sequential([layers.Input((5, 5, 2)), layers.Conv2DTranspose(3, 3, strides=2)])
    keras3.set_weights(keras1.get_weights())
    return keras1, keras3


@pytest.mark.parametrize("backend", BACKENDS)
def test_equals_conv2d_transpose_in_values_training_and_reload(backend, tmp_path):
    x = RNG.standard_normal((4, 5, 5, 2)).astype("float32")
    y = RNG.standard_normal((4, 11, 11, 3)).astype("float32")
    keras1, keras3 = pair()
    for model in (keras1, keras3):
        model.compile("sgd", "mse", backend=backend)
        model.fit(x, y, epochs=2, batch_size=2, shuffle=False, verbose=0)
    for a, b in zip(keras1.get_weights(), keras3.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    keras1.save(tmp_path / "deconv.keras")
    reloaded = load_model(tmp_path / "deconv.keras")
    assert type(reloaded.layers[0]).__name__ == "Deconvolution2D"
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), keras3.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)
