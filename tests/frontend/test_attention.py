"""MultiHeadAttention, Attention, AdditiveAttention, EinsumDense and Dot: values against NumPy
references and gradients against finite differences on both backends, Keras 3 weight names
and shapes, save/load, plot_model, and errors naming the layer, the shapes and the user's line."""

from pathlib import Path

import numpy as np
import pytest

from frontend import layers
from frontend.models import Model, load_model
from frontend.utils import plot_model
from tests.frontend.conftest import BACKENDS
from tests.frontend.layer_checks import assert_gradients_match, outputs_on

RNG = np.random.default_rng(5)


def data(*shape, dtype="float32"):
    return RNG.standard_normal(shape).astype(dtype)


def np_softmax(x, mask=None, keyless_rows="zeros"):
    """Keras 3's masked Softmax layer; with keyless_rows="uniform" its attention kernels (a
    row with no key that counts is then uniform, not zeros)."""
    if mask is not None:
        x = np.where(mask, x, -1e9)
    e = np.exp(x - x.max(-1, keepdims=True))
    p = e / e.sum(-1, keepdims=True)
    return p if mask is None or keyless_rows == "uniform" else np.where(mask, p, 0.0)


def np_mha(layer, query, value, key, mask=None):
    """Keras 3's MultiHeadAttention in NumPy einsums, from the layer's weights."""
    wq, bq, wk, bk, wv, bv, wo, bo = layer.get_weights()
    q = np.einsum("btc,cnh->btnh", query, wq) + bq
    k = np.einsum("bsc,cnh->bsnh", key, wk) + bk
    v = np.einsum("bsc,cnh->bsnh", value, wv) + bv
    scores = np.einsum("bsnh,btnh->bnts", k, q / np.sqrt(wq.shape[-1]))
    probs = np_softmax(scores, None if mask is None else mask[:, None])
    context = np.einsum("bnts,bsnh->btnh", probs, v)
    return np.einsum("btnh,nho->bto", context, wo) + bo, probs


# ---- MultiHeadAttention ------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_mha_matches_numpy_with_mask_key_and_value_dim(backend):
    query, value, key = data(2, 4, 6), data(2, 5, 3), data(2, 5, 7)
    mask = RNG.random((2, 4, 5)) > 0.3
    layer = layers.MultiHeadAttention(num_heads=3, key_dim=2, value_dim=4, output_shape=5)
    got, scores = outputs_on(
        backend,
        lambda q, v, k, m: layer(q, v, key=k, attention_mask=m, return_attention_scores=True),
        [query, value, key, mask],
    )
    expected, probs = np_mha(layer, query, value, key, mask)
    assert got.shape == (2, 4, 5) and scores.shape == (2, 3, 4, 5)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(scores, probs, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_mha_causal_mask_hides_later_positions(backend):
    x = data(2, 5, 4)
    layer = layers.MultiHeadAttention(num_heads=2, key_dim=3)
    got, scores = outputs_on(
        backend, lambda x: layer(x, x, use_causal_mask=True, return_attention_scores=True), [x]
    )
    causal = np.broadcast_to(np.tril(np.ones((5, 5), bool)), (2, 5, 5))
    expected, _ = np_mha(layer, x, x, x, causal)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    assert np.all(scores[..., np.triu_indices(5, 1)[0], np.triu_indices(5, 1)[1]] == 0)


def test_mha_weights_named_and_shaped_as_keras_3():
    layer = layers.MultiHeadAttention(num_heads=4, key_dim=8, value_dim=6)
    layer(data(1, 3, 16), data(1, 5, 12))
    names = [layer.weight_info(w)["name"] for w in layer.weights]
    assert [w.name for w in layer.weights] == [
        f"{d}/{n}"
        for d in ("query", "key", "value", "attention_output")
        for n in ("kernel", "bias")
    ] and names == ["kernel", "bias"] * 4
    assert [w.shape for w in layer.weights] == [
        (16, 4, 8), (4, 8), (12, 4, 8), (4, 8), (12, 4, 6), (4, 6), (4, 6, 16), (16,)
    ]  # fmt: skip


@pytest.mark.parametrize("backend", BACKENDS)
def test_mha_gradients_match_finite_differences(backend):
    query, value = data(2, 3, 4, dtype="float64"), data(2, 4, 4, dtype="float64")
    layer = layers.MultiHeadAttention(num_heads=2, key_dim=3, dtype="float64")
    layer(query, value)  # build
    mask = np.tril(np.ones((3, 4), bool))[None].repeat(2, 0)
    assert_gradients_match(
        backend,
        lambda q, v, m: layer(q, v, attention_mask=m),
        [query, value, mask],
        layer.weights,
    )


def test_mha_dropout_only_while_training():
    x = data(2, 6, 4)
    layer = layers.MultiHeadAttention(num_heads=2, key_dim=2, dropout=0.5)
    _, scores = layer(x, x, return_attention_scores=True)
    assert np.allclose(scores.sum(-1), 1.0, atol=1e-5)
    trained = layer(x, x, training=True)
    assert not np.allclose(trained, layer(x, x), atol=1e-4)


def test_mha_over_two_sequence_axes_matches_flattened_attention():
    x = data(2, 2, 3, 4)
    layer = layers.MultiHeadAttention(num_heads=2, key_dim=3)
    got = layer(x, x)
    flat = x.reshape(2, 6, 4)
    expected, _ = np_mha(layer, flat, flat, flat)
    np.testing.assert_allclose(got, expected.reshape(2, 2, 3, 4), rtol=1e-4, atol=1e-5)


def test_mha_in_a_model_saves_reloads_and_plots(tmp_path):
    query, value = layers.Input((4, 6)), layers.Input((5, 6))
    mask = layers.Input((4, 5), dtype="bool")
    attended = layers.MultiHeadAttention(2, 3, name="mha")(query, value, attention_mask=mask)
    model = Model([query, value, mask], layers.LayerNormalization()(attended))
    arrays = [data(3, 4, 6), data(3, 5, 6), RNG.random((3, 4, 5)) > 0.5]
    before = model.predict(arrays, verbose=0)
    model.save(tmp_path / "m.zip")
    loaded = load_model(tmp_path / "m.zip")
    np.testing.assert_array_equal(loaded.predict(arrays, verbose=0), before)
    assert loaded.get_layer("mha").get_config() == model.get_layer("mha").get_config()
    text = Path(plot_model(model, to_file=str(tmp_path / "m.dot"), show_shapes=True)).read_text()
    assert "mha" in text and "MultiHeadAttention" in text


def test_mha_config_round_trip():
    layer = layers.MultiHeadAttention(
        4, 8, value_dim=5, dropout=0.1, use_bias=False, output_shape=(7,), seed=3
    )
    config = layer.get_config()
    assert config["output_shape"] == (7,) and config["value_dim"] == 5
    assert layers.MultiHeadAttention.from_config(config).get_config() == config


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda m: m(data(2, 4, 6), data(2, 5)), r"rank.*query_shape=\(2, 4, 6\)"),
        (lambda m: m(data(2, 4, 6), data(2, 5, 6), key=data(2, 3, 6)), "same sequence shape"),
        (
            lambda m: m(data(2, 4, 6), data(2, 5, 6), attention_mask=np.ones((2, 5, 4), bool)),
            r"attention_mask.*\(2, 5, 4\)",
        ),
    ],
)
def test_mha_bad_input_names_layer_shapes_and_line(call, match):
    with pytest.raises(ValueError, match=match) as err:
        call(layers.MultiHeadAttention(2, 3, name="bad_mha"))
    assert "bad_mha" in str(err.value) and "test_attention.py" in str(err.value)


def test_mha_refuses_bad_arguments():
    with pytest.raises(ValueError, match="num_heads=0"):
        layers.MultiHeadAttention(0, 4)
    with pytest.raises(ValueError, match="attention_axes"):
        layers.MultiHeadAttention(2, 4, attention_axes=(2,))(data(1, 2, 3, 4), data(1, 2, 3, 4))


# ---- Attention and AdditiveAttention -------------------------------------------------------------


def np_attention(query, value, key, scores_of, value_mask=None, causal=False):
    scores = scores_of(query, key)
    mask = None if value_mask is None else value_mask[:, None, :]
    if causal:
        tri = np.tril(np.ones(scores.shape[-2:], bool))
        mask = tri if mask is None else mask & tri
    weights = np_softmax(scores, mask, keyless_rows="uniform")  # Keras: scores - 1e9
    return weights @ value


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("score_mode", ["dot", "concat"])
def test_attention_matches_numpy(backend, score_mode):
    query, value, key = data(2, 3, 4), data(2, 5, 6), data(2, 5, 4)
    value_mask = RNG.random((2, 5)) > 0.3
    layer = layers.Attention(use_scale=True, score_mode=score_mode)
    layer([query, value, key])  # build, then set a scale other than its initial 1
    layer.scale.set_value(np.float32(1.7))
    got = outputs_on(
        backend,
        lambda q, v, k, m: layer([q, v, k], mask=[None, m], use_causal_mask=True),
        [query, value, key, value_mask],
    )

    def scores_of(q, k):
        if score_mode == "dot":
            return 1.7 * q @ np.swapaxes(k, -1, -2)
        return np.tanh(1.7 * (q[:, :, None] + k[:, None])).sum(-1)

    expected = np_attention(query, value, key, scores_of, value_mask, causal=True)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_additive_attention_matches_numpy_and_masks_queries(backend):
    query, value = data(2, 3, 4), data(2, 5, 4)
    query_mask = np.array([[1, 1, 0], [1, 0, 1]], bool)
    layer = layers.AdditiveAttention()
    got, weights = outputs_on(
        backend,
        lambda q, v, m: layer([q, v], mask=[m, None], return_attention_scores=True),
        [query, value, query_mask],
    )
    (scale,) = layer.get_weights()
    scores = (scale * np.tanh(query[:, :, None] + value[:, None])).sum(-1)
    expected = np_softmax(scores) @ value * query_mask[..., None]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(weights, np_softmax(scores), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cls", [layers.Attention, layers.AdditiveAttention])
def test_attention_gradients_match_finite_differences(backend, cls):
    query, value = data(2, 3, 4, dtype="float64"), data(2, 4, 4, dtype="float64")
    layer = cls(use_scale=True, dtype="float64")
    layer([query, value])
    assert_gradients_match(backend, lambda q, v: layer([q, v]), [query, value], layer.weights)


def test_attention_with_masks_saves_and_reloads(tmp_path):
    query, value = layers.Input((3, 4)), layers.Input((5, 4))
    value_mask = layers.Input((5,), dtype="bool")
    out = layers.Attention(name="att")([query, value], mask=[None, value_mask])
    model = Model([query, value, value_mask], out)
    arrays = [data(2, 3, 4), data(2, 5, 4), RNG.random((2, 5)) > 0.4]
    model.save(tmp_path / "a.zip")
    loaded = load_model(tmp_path / "a.zip")
    np.testing.assert_array_equal(
        loaded.predict(arrays, verbose=0), model.predict(arrays, verbose=0)
    )


def test_attention_bad_input_names_layer_and_shapes():
    with pytest.raises(ValueError, match=r"att_bad.*same last.*\(2, 3, 4\)") as err:
        layers.Attention(name="att_bad")([data(2, 3, 4), data(2, 5, 6)])
    assert "test_attention.py" in str(err.value)
    with pytest.raises(ValueError, match="value_mask"):
        layers.Attention()([data(2, 3, 4), data(2, 5, 4)], mask=[None, np.ones((2, 4), bool)])


# ---- EinsumDense and Dot -----------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "equation,output_shape,bias_axes,input_shape,kernel_shape,bias_shape",
    [
        ("ab,bc->ac", 4, "c", (2, 3), (3, 4), (4,)),
        ("abc,cde->abde", (None, 2, 3), "de", (2, 5, 4), (4, 2, 3), (2, 3)),
        ("abcd,cde->abe", (None, 6), "e", (2, 5, 2, 3), (2, 3, 6), (6,)),
        ("...b,bc->...c", 4, "c", (2, 5, 3), (3, 4), (4,)),
        ("abc,cd->abd", (5, 4), "b", (2, 5, 3), (3, 4), (5, 1)),
    ],
)
def test_einsum_dense_shapes_match_keras_and_values_numpy(
    backend, equation, output_shape, bias_axes, input_shape, kernel_shape, bias_shape
):
    layer = layers.EinsumDense(equation, output_shape, bias_axes=bias_axes, activation="tanh")
    x = data(*input_shape)
    layer(x)  # build
    kernel, bias = layer.get_weights()
    assert kernel.shape == kernel_shape and bias.shape == bias_shape
    bias = bias + RNG.standard_normal(bias.shape).astype("float32")
    layer.bias.set_value(bias)
    got = outputs_on(backend, layer, [x])
    np.testing.assert_allclose(got, np.tanh(np.einsum(equation, x, kernel) + bias), atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_einsum_dense_gradients(backend):
    layer = layers.EinsumDense("abc,cde->abde", (None, 2, 3), bias_axes="de", dtype="float64")
    x = data(2, 3, 4, dtype="float64")
    layer(x)
    assert_gradients_match(backend, layer, [x], layer.weights)


def test_einsum_dense_errors_and_config():
    with pytest.raises(ValueError, match="equation='ab->b'"):
        layers.EinsumDense("ab->b", 3)
    with pytest.raises(ValueError, match=r"ed_bad.*bias_axes 'q'") as err:
        layers.EinsumDense("ab,bc->ac", 3, bias_axes="q", name="ed_bad")(data(2, 4))
    assert "test_attention.py" in str(err.value)
    layer = layers.EinsumDense("abc,cd->abd", (None, 4), bias_axes="d")
    assert layers.EinsumDense.from_config(layer.get_config()).get_config() == layer.get_config()


@pytest.mark.parametrize("backend", BACKENDS)
def test_dot_matches_numpy_and_normalizes(backend):
    a, b = data(2, 3, 4), data(2, 5, 4)
    got = outputs_on(backend, lambda x, y: layers.Dot(axes=(2, 2))([x, y]), [a, b])
    np.testing.assert_allclose(got, a @ np.swapaxes(b, 1, 2), rtol=1e-5)
    u, v = data(3, 4), data(3, 4)
    cosine = outputs_on(backend, lambda x, y: layers.Dot(axes=1, normalize=True)([x, y]), [u, v])
    expected = (u * v).sum(1) / np.linalg.norm(u, axis=1) / np.linalg.norm(v, axis=1)
    np.testing.assert_allclose(cosine, expected[:, None], rtol=1e-5)


def test_dot_bad_axes_and_identity():
    with pytest.raises(ValueError, match=r"Dot 'dot_bad'.*\(2, 3\) and \(2, 4\)"):
        layers.Dot(1, name="dot_bad")([data(2, 3), data(2, 4)])
    x = data(2, 3)
    np.testing.assert_array_equal(layers.Identity()(x), x)
