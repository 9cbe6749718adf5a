"""SimpleRNN, LSTM and GRU: the sequence ops against a NumPy transcription of Keras 3's cell
equations, gradients of whole recurrent graphs against finite differences, and a graph whose
size does not grow with the sequence length."""

import numpy as np
import pytest

import graphc as gc
from graphc.testing import numeric_gradient, relative_error

RNG = np.random.default_rng(7)


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


# ---- Keras 3's equations, one step at a time (keras/src/layers/rnn/{lstm,gru}.py) -----------


def keras_lstm(x, W, U, b, h, c):
    hs = []
    for t in range(x.shape[1]):
        z = x[:, t] @ W + h @ U + b
        i, f, g, o = np.split(z, 4, axis=-1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        hs.append(h)
    return np.stack(hs, axis=1), h, c


def keras_gru(x, W, U, b, h):
    hs = []
    for t in range(x.shape[1]):
        xz, xr, xh = np.split(x[:, t] @ W + b[0], 3, axis=-1)
        rz, rr, rh = np.split(h @ U + b[1], 3, axis=-1)
        z, r = sigmoid(xz + rz), sigmoid(xr + rr)
        hh = np.tanh(xh + r * rh)
        h = z * h + (1 - z) * hh
        hs.append(h)
    return np.stack(hs, axis=1), h


def keras_simple_rnn(x, W, U, b, h, activation):
    act = {"tanh": np.tanh, "relu": lambda a: np.maximum(a, 0), "sigmoid": sigmoid}[activation]
    hs = []
    for t in range(x.shape[1]):
        h = act(x[:, t] @ W + h @ U + b)
        hs.append(h)
    return np.stack(hs, axis=1), h


def values(*shapes):
    return [RNG.standard_normal(s) * 0.5 for s in shapes]


def placeholders(*arrays):
    return [gc.placeholder(a.shape, "float64") for a in arrays]


def run(outputs, inputs, arrays):
    return gc.function(inputs, outputs, backend="numpy")(*arrays)


# ---- forward values ---------------------------------------------------------------------------


def test_lstm_matches_keras_equations():
    arrays = values((3, 5, 4), (4, 8), (2, 8), (8,), (3, 2), (3, 2))
    x, W, U, b, h0, c0 = nodes = placeholders(*arrays)
    got = run(list(gc.lstm(x, W, U, b, h0, c0)), nodes, arrays)
    for a, e in zip(got, keras_lstm(*arrays)):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12)


def test_lstm_default_state_is_zeros():
    arrays = values((3, 4, 2), (2, 12), (3, 12), (12,))
    x, W, U, b = nodes = placeholders(*arrays)
    got = run(gc.lstm(x, W, U, b)[0], nodes, arrays)
    expected = keras_lstm(*arrays, np.zeros((3, 3)), np.zeros((3, 3)))[0]
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_gru_matches_keras_equations():
    arrays = values((3, 5, 4), (4, 6), (2, 6), (2, 6), (3, 2))
    x, W, U, b, h0 = nodes = placeholders(*arrays)
    got = run(list(gc.gru(x, W, U, b, h0)), nodes, arrays)
    for a, e in zip(got, keras_gru(*arrays)):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_simple_rnn_matches_keras_equations(activation):
    arrays = values((2, 6, 3), (3, 4), (4, 4), (4,), (2, 4))
    x, W, U, b, h0 = nodes = placeholders(*arrays)
    got = run(list(gc.simple_rnn(x, W, U, b, h0, activation)), nodes, arrays)
    for a, e in zip(got, keras_simple_rnn(*arrays, activation)):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12)


# ---- gradients of whole recurrent graphs --------------------------------------------------------


def check_graph_gradient(build, arrays):
    """Every input's gradient of sum(weights * outputs) against central finite differences."""
    nodes = placeholders(*arrays)
    outs = build(*nodes)
    weights = [RNG.standard_normal(o.shape) for o in outs]
    cost = sum(gc.sum(o * gc.constant(w)) for o, w in zip(outs, weights))
    analytic = run(gc.grad(cost, nodes), nodes, arrays)
    forward = gc.function(nodes, cost, backend="numpy")
    for i, a in enumerate(analytic):
        numeric = numeric_gradient(lambda vals: float(forward(*vals)), arrays, i)
        assert relative_error(a, numeric) < 1e-6, f"input {i}"


def test_lstm_graph_gradients():
    arrays = values((2, 4, 3), (3, 8), (2, 8), (8,), (2, 2), (2, 2))
    check_graph_gradient(lambda *n: list(gc.lstm(*n)), arrays)


def test_gru_graph_gradients_through_go_backwards():
    arrays = values((2, 4, 3), (3, 6), (2, 6), (2, 6), (2, 2))
    check_graph_gradient(lambda x, *w: list(gc.gru(gc.reverse_time(x), *w)), arrays)


def test_simple_rnn_graph_gradients_with_one_step():
    arrays = values((2, 1, 3), (3, 2), (2, 2), (2,), (2, 2))
    check_graph_gradient(lambda *n: list(gc.simple_rnn(*n)), arrays)


# ---- the graph does not grow with the sequence length -------------------------------------------


def training_graph_size(steps):
    x = gc.placeholder((None, steps, 8))
    W, U, b = (gc.shared(np.zeros(s, "float32")) for s in ((8, 64), (16, 64), (64,)))
    loss = gc.mean(gc.lstm(x, W, U, b)[1])
    f = gc.function(
        [x], loss, updates=[(v, v - 0.1 * gc.grad(loss, v)) for v in (W, U, b)], backend="numpy"
    )
    return f.graph("optimized").count()


def test_a_100_step_lstm_graph_is_as_small_as_a_5_step_one():
    assert training_graph_size(100) == training_graph_size(5)


def test_shape_errors_name_the_op():
    x = gc.placeholder((None, 5, 4))
    with pytest.raises(gc.ShapeError, match="lstm_seq.*recurrent kernel"):
        gc.lstm(x, gc.placeholder((4, 8)), gc.placeholder((3, 8)))
