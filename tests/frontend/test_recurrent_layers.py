"""SimpleRNN, LSTM, GRU, Bidirectional and TimeDistributed: fixed weights against a NumPy
transcription of Keras 3's equations, return_sequences/return_state/go_backwards, Keras's
initializers, configs that round-trip, and errors naming the layer."""

import numpy as np
import pytest

from frontend import layers
from frontend.layers import deserialize, serialize
from frontend.seeding import set_random_seed
from tests.ops.test_recurrent_ops import keras_gru, keras_lstm, keras_simple_rnn

RNG = np.random.default_rng(11)


@pytest.fixture(autouse=True)
def seeded():
    set_random_seed(1)


def data(*shape):
    return RNG.standard_normal(shape).astype("float32")


def with_random_weights(layer, x):
    """Build `layer` on x and give it random (not initializer-shaped) weights."""
    layer(x)
    layer.set_weights([data(*w.shape) * 0.5 for w in layer.weights])
    return [w.astype("float64") for w in layer.get_weights()]


# ---- fixed weights against Keras's equations -------------------------------------------------


@pytest.mark.parametrize("go_backwards", [False, True])
def test_lstm_matches_keras_equations(go_backwards):
    x = data(3, 6, 4)
    layer = layers.LSTM(5, return_sequences=True, return_state=True, go_backwards=go_backwards)
    W, U, b = with_random_weights(layer, x)
    seq, h, c = layer(x)
    xs = x[:, ::-1] if go_backwards else x
    e_seq, e_h, e_c = keras_lstm(xs.astype("float64"), W, U, b, np.zeros((3, 5)), np.zeros((3, 5)))
    for got, expected in ((seq, e_seq), (h, e_h), (c, e_c)):
        np.testing.assert_allclose(got, expected, rtol=2e-5, atol=2e-6)


def test_gru_matches_keras_equations_with_initial_state():
    x, h0 = data(3, 6, 4), data(3, 5)
    layer = layers.GRU(5, return_state=True)
    layer(x)
    layer.set_weights([data(*w.shape) * 0.5 for w in layer.weights])
    W, U, b = (w.astype("float64") for w in layer.get_weights())
    last, h = layer(x, initial_state=h0)
    _, e_h = keras_gru(x.astype("float64"), W, U, b, h0.astype("float64"))
    np.testing.assert_allclose(last, e_h, rtol=2e-5, atol=2e-6)
    np.testing.assert_array_equal(last, h)


def test_simple_rnn_matches_keras_equations():
    x = data(2, 7, 3)
    layer = layers.SimpleRNN(4, activation="relu", return_sequences=True)
    W, U, b = with_random_weights(layer, x)
    expected, _ = keras_simple_rnn(x.astype("float64"), W, U, b, np.zeros((2, 4)), "relu")
    np.testing.assert_allclose(layer(x), expected, rtol=2e-5, atol=2e-6)


# ---- Keras's weights and initializers ------------------------------------------------------------


def test_weight_shapes_names_and_initializers():
    x = data(2, 3, 6)
    lstm, gru = layers.LSTM(4), layers.GRU(4)
    lstm(x), gru(x)
    names = ["kernel", "recurrent_kernel", "bias"]
    assert [w.name for w in lstm.weights] == [f"{lstm.name}/{n}" for n in names]
    assert [w.shape for w in lstm.weights] == [(6, 16), (4, 16), (16,)]
    assert [w.shape for w in gru.weights] == [(6, 12), (4, 12), (2, 12)]
    kernel, recurrent, bias = lstm.get_weights()
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(4), atol=1e-5)  # orthogonal
    np.testing.assert_array_equal(bias, np.r_[np.zeros(4), np.ones(4), np.zeros(8)])
    assert np.abs(kernel).max() <= np.sqrt(6 / (6 + 16))  # glorot_uniform limit
    assert not gru.get_weights()[2].any()


# ---- wrappers -----------------------------------------------------------------------------------


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
def test_bidirectional_merges_forward_and_time_aligned_backward(merge_mode):
    x = data(2, 5, 3)
    bi = layers.Bidirectional(layers.GRU(4, return_sequences=True), merge_mode=merge_mode)
    out = bi(x)
    fw = bi.forward_layer(x)
    bw = bi.backward_layer(x)[:, ::-1]
    expected = {
        "concat": lambda: np.concatenate([fw, bw], -1),
        "sum": lambda: fw + bw,
        "mul": lambda: fw * bw,
        "ave": lambda: (fw + bw) / 2,
        None: lambda: [fw, bw],
    }[merge_mode]()
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    assert bi.backward_layer.go_backwards and not bi.forward_layer.go_backwards


def test_bidirectional_lstm_returns_both_directions_states():
    x = data(2, 5, 3)
    outputs = layers.Bidirectional(layers.LSTM(4, return_state=True))(x)
    assert [o.shape for o in outputs] == [(2, 8)] + [(2, 4)] * 4


def test_time_distributed_applies_the_layer_to_every_step():
    x = data(2, 5, 3)
    td = layers.TimeDistributed(layers.Dense(6, activation="tanh"))
    y = td(x)
    kernel, bias = td.get_weights()
    np.testing.assert_allclose(y, np.tanh(x @ kernel + bias), rtol=1e-5, atol=1e-6)


# ---- dropout, configs, errors ------------------------------------------------------------------


def test_input_dropout_only_while_training():
    x = data(4, 5, 3)
    layer = layers.LSTM(4, dropout=0.5)
    assert np.array_equal(layer(x), layer(x))
    assert not np.allclose(layer(x, training=True), layer(x))


RECURRENT_CASES = [
    lambda: layers.SimpleRNN(3, activation="relu", return_sequences=True, go_backwards=True),
    lambda: layers.LSTM(3, return_state=True, unit_forget_bias=False, dropout=0.25),
    lambda: layers.GRU(3, return_sequences=True, recurrent_initializer="glorot_uniform"),
    lambda: layers.Bidirectional(layers.LSTM(3, return_sequences=True), merge_mode="sum"),
    lambda: layers.TimeDistributed(layers.Dense(2)),
]


@pytest.mark.parametrize("make", RECURRENT_CASES)
def test_config_round_trip_gives_the_same_layer(make):
    layer, x = make(), data(2, 4, 3)
    y = layer(x)
    clone = deserialize(serialize(layer))
    assert type(clone) is type(layer) and clone.get_config() == layer.get_config()
    clone(x)
    clone.set_weights(layer.get_weights())
    for a, b in zip(
        clone(x) if isinstance(y, list) else [clone(x)], y if isinstance(y, list) else [y]
    ):
        np.testing.assert_array_equal(a, b)


def test_keras1_names_warn():
    with pytest.warns(DeprecationWarning, match="output_dim"):
        layer = layers.LSTM(output_dim=8, inner_activation="sigmoid", dropout_W=0.1)
    assert layer.units == 8 and layer.dropout == 0.1


def test_bad_options_are_refused_by_name():
    # (Other activations, reset_after=False and recurrent_dropout were refused before issue 12;
    # they now run the unrolled cell: tests/frontend/test_rnn_cells.py.)
    with pytest.raises(ValueError, match="SimpleRNNCell.*recurrent_dropout"):
        layers.SimpleRNN(4, recurrent_dropout=1.2)
    with pytest.raises(ValueError, match="LSTM 'lstm.*timesteps"):
        layers.LSTM(4)(data(2, 3))
    with pytest.raises(ValueError, match="Bidirectional needs a recurrent layer"):
        layers.Bidirectional(layers.Dense(3))
