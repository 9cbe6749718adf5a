"""MultiHeadAttention's query_mask, value_mask and key_mask (Keras 3): given or taken from the
inputs' Keras masks, ANDed with attention_mask and the causal mask, the output carrying the
query's mask; values against NumPy and gradients against finite differences on both
backends, and masks of the wrong shape named in the error."""

import numpy as np
import pytest

import graphc as gc
from frontend import layers
from frontend.models import Model, load_model
from tests.frontend.conftest import BACKENDS
from tests.frontend.layer_checks import assert_gradients_match, outputs_on
from tests.frontend.test_attention import data, np_mha

RNG = np.random.default_rng(21)


def keras3_mask(query_mask, value_mask, key_mask, attention_mask):
    """Keras 3's _compute_attention_mask on NumPy booleans."""
    combined = attention_mask & query_mask[:, :, None] & value_mask[:, None, :]
    return combined & key_mask[:, None, :]


@pytest.mark.parametrize("backend", BACKENDS)
def test_given_masks_combine_with_attention_mask(backend):
    query, value, key = data(2, 4, 6), data(2, 5, 3), data(2, 5, 7)
    masks = [RNG.random(shape) > 0.3 for shape in ((2, 4), (2, 5), (2, 5), (2, 4, 5))]
    masks[0][1, 2] = False  # a query that sees nothing: its probabilities are zeros
    layer = layers.MultiHeadAttention(num_heads=2, key_dim=3)
    got, scores = outputs_on(
        backend,
        lambda q, v, k, qm, vm, km, am: layer(
            q, v, k, query_mask=qm, value_mask=vm, key_mask=km, attention_mask=am,
            return_attention_scores=True),
        [query, value, key, *masks],
    )
    expected, probs = np_mha(layer, query, value, key, keras3_mask(*masks))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(scores, probs, rtol=1e-4, atol=1e-6)
    assert np.all(scores[1, :, 2] == 0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_value_mask_gradients_match_finite_differences(backend):
    query, value = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((2, 5, 4))
    value_mask = np.array([[1, 1, 0, 1, 0], [1, 0, 1, 1, 1]], bool)
    layer = layers.MultiHeadAttention(num_heads=2, key_dim=2, dtype="float64")
    layer(gc.placeholder(query.shape, "float64"), gc.placeholder(value.shape, "float64"))
    assert_gradients_match(
        backend,
        lambda q, v, m: layer(q, v, value_mask=m, use_causal_mask=True),
        [query, value, value_mask],
        weights=layer.weights,
    )


def padded_model():
    tokens = layers.Input((6,), dtype="int32")
    embedded = layers.Embedding(10, 8, mask_zero=True)(tokens)
    attended = layers.MultiHeadAttention(2, 4, name="mha")(embedded, embedded)
    return Model(tokens, attended), attended


def test_propagated_masks_hide_padding_and_reach_the_output():
    model, attended = padded_model()
    assert attended._keras_mask is not None  # the query's mask, passed on
    tokens = np.array([[3, 4, 5, 0, 0, 0], [1, 2, 3, 4, 5, 6]], "int32")
    embedding = model.layers[1]
    mha = model.get_layer("mha")
    out = model.predict(tokens, verbose=0)
    # the padding rows' keys are hidden: changing their embedding leaves real rows unchanged
    weights = embedding.get_weights()[0]
    weights[0] += 5.0
    embedding.set_weights([weights])
    again = model.predict(tokens, verbose=0)
    np.testing.assert_allclose(out[0, :3], again[0, :3], rtol=1e-5, atol=1e-6)
    # a padded query has no key: as in Keras, the uniform average of every key's value
    _, _, _, _, wv, bv, wo, bo = mha.get_weights()
    values = np.einsum("sc,cnh->snh", weights[tokens[0]], wv) + bv
    uniform = np.einsum("nh,nhc->c", values.mean(0), wo) + bo
    np.testing.assert_allclose(again[0, 3:], np.broadcast_to(uniform, (3, 8)), rtol=1e-5,
                               atol=1e-6)


def test_masks_of_the_wrong_shape_name_the_argument_and_shapes():
    layer = layers.MultiHeadAttention(2, 3, name="mha")
    query, value = layers.Input((4, 6)), layers.Input((5, 6))
    with pytest.raises(ValueError, match=r"'mha'.*value_mask.*\(None, 5\).*\(None, 4\)"):
        layer(query, value, value_mask=layers.Input((4,), dtype="bool"))


def test_a_model_with_a_value_mask_input_saves_and_reloads(tmp_path):
    query, value = layers.Input((4, 6)), layers.Input((5, 6))
    value_mask = layers.Input((5,), dtype="bool")
    attended = layers.MultiHeadAttention(2, 3, name="mha")(query, value, value_mask=value_mask)
    model = Model([query, value, value_mask], attended)
    arrays = [data(2, 4, 6), data(2, 5, 6), RNG.random((2, 5)) > 0.3]
    model.save(tmp_path / "masked.keras")
    reloaded = load_model(tmp_path / "masked.keras")
    np.testing.assert_allclose(reloaded.predict(arrays, verbose=0),
                               model.predict(arrays, verbose=0), rtol=1e-6, atol=1e-7)
