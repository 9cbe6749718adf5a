"""Variable-length dimensions on llvm (issue 10): any dimension may be None at build time, not
only the batch. A graph over (None, None, features) sequences compiles once and runs at every
length (odd sizes 1, 7, 33 here) with the interpreter's results: recurrences and their
gradients, pooling, global pooling, take (Embedding); and the Keras-style layers on
`Input(shape=(None, features))` predict and train at several lengths without recompiling."""

import os
import subprocess
import sys

import numpy as np
import pytest

import frontend as K
import graphc as gc
from frontend import layers

TOL = dict(rtol=1e-9, atol=1e-10)
LENGTHS = (7, 1, 33)
GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3}


def agree(inputs, outputs, arrays_at):
    """Compile once; at each length the llvm results equal the interpreter's."""
    f = gc.function(inputs, outputs)
    ref = gc.function(inputs, outputs, backend="numpy")
    executable = f.executable
    for length in LENGTHS:
        arrays = arrays_at(length)
        got, want = f(*arrays), ref(*arrays)
        for g, w in zip(got if isinstance(got, list) else [got],
                        want if isinstance(want, list) else [want]):
            np.testing.assert_allclose(g, w, **TOL)
    assert f.executable is executable
    return f


def sequences(batch, features, seed=0):
    rng = np.random.default_rng(seed)
    return lambda length: [rng.standard_normal((batch, length, features))]


def recurrence(cell, x, units=9, features=16):
    rng = np.random.default_rng(3)
    W = gc.shared(rng.standard_normal((features, GATES[cell] * units)) * 0.3)
    U = gc.shared(rng.standard_normal((units, GATES[cell] * units)) * 0.3)
    out = getattr(gc, cell)(x, W, U)
    return out, [W, U]


@pytest.mark.parametrize("cell", sorted(GATES))
@pytest.mark.parametrize("batch", [1, 7])
def test_recurrences_of_run_time_length_match_the_interpreter(cell, batch, compiles):
    x = gc.placeholder((None, None, 16), "float64")
    (seq, last, *_), _ = recurrence(cell, x)
    agree([x], [seq, last], sequences(batch, 16))
    assert len(compiles) == 1


@pytest.mark.parametrize("cell", sorted(GATES))
def test_gradients_through_time_of_run_time_length_match_the_interpreter(cell):
    x = gc.placeholder((None, None, 16), "float64")
    (seq, last, *_), weights = recurrence(cell, x)
    loss = gc.sum(gc.tanh(seq)) + gc.sum(last * last)
    agree([x], gc.grad(loss, [x, *weights]), sequences(3, 16))


def test_a_sequence_of_no_steps_is_refused_like_the_interpreter_does():
    """The zero initial state is read from step 0 of the inputs: an IndexError, not a crash."""
    x = gc.placeholder((None, None, 16), "float64")
    (seq, *_), _ = recurrence("lstm", x)
    for backend in ("llvm", "numpy"):
        with pytest.raises(IndexError):
            gc.function([x], seq * 2.0, backend=backend)(np.ones((2, 0, 16)))


def test_the_length_of_a_recurrence_is_not_in_its_code():
    """One kernel serves every length: the same compiled function runs them all."""
    x = gc.placeholder((None, None, 16), "float64")
    (seq, *_), _ = recurrence("gru", x)
    f = gc.function([x], seq)
    kernels = [k.function for k in f.kernels]
    for length in LENGTHS:
        f(np.ones((2, length, 16)))
    assert [k.function for k in f.kernels] == kernels


@pytest.mark.parametrize("pool", ["max_pool1d", "avg_pool1d"])
def test_pooling_of_run_time_length(pool):
    x = gc.placeholder((None, None, 3), "float64")
    agree([x], getattr(gc, pool)(x, 2) * 1.5, lambda n: [np.random.default_rng(n).standard_normal(
        (2, 2 * n, 3))])


@pytest.mark.parametrize("strides, padding", [(2, "valid"), (3, "valid"), (1, "same")])
def test_average_pooling_gradient_at_run_time_lengths(strides, padding):
    """avg_pool1d_grad takes the input's length from the forward input (a shape-only input),
    so the gradient runs at any length (strides > 1 included)."""
    rng = np.random.default_rng(5)
    x = gc.placeholder((None, None, 3), "float64")
    y = gc.avg_pool1d(x, 3, strides=strides, padding=padding)
    agree([x], [y, gc.grad(gc.sum(gc.tanh(y) * y), x)],
          lambda n: [rng.standard_normal((2, n + 3, 3))])


@pytest.mark.parametrize("strides, dilation", [(1, 1), (2, 1), (1, 2)])
def test_conv1d_of_run_time_length_and_its_weight_gradient(strides, dilation):
    """Run-time lengths take the direct loop nests (forward and weight gradient)."""
    rng = np.random.default_rng(4)
    x = gc.placeholder((None, None, 5), "float64")
    w = gc.shared(rng.standard_normal((3, 5, 7)))
    bias = gc.shared(rng.standard_normal(7))
    y = gc.relu(gc.conv1d(x, w, strides=strides, dilation_rate=dilation) + bias)
    agree([x], [y, *gc.grad(gc.sum(gc.tanh(y)), [w, bias])],
          lambda n: [rng.standard_normal((2, n + 4, 5))])


@pytest.mark.parametrize("padding, dilation, strides", [
    ("same", 1, 1), ("valid", 2, 1), ("causal", 1, 1), ("valid", 1, 2), ("valid", 2, 3)])
def test_conv1d_input_gradient_at_run_time_lengths(padding, dilation, strides):
    """The input gradient takes its length from the forward input (a shape-only input), so a
    stack of convolutions, strided ones included, differentiates through its inputs at any
    length."""
    rng = np.random.default_rng(6)
    x = gc.placeholder((None, None, 3), "float64")
    w1, w2 = gc.shared(rng.standard_normal((3, 3, 4))), gc.shared(rng.standard_normal((2, 4, 5)))
    h = gc.tanh(gc.conv1d(x, w1, padding=padding, strides=strides))
    y = gc.conv1d(h, w2, padding=padding, dilation_rate=dilation)
    agree([x], [y, *gc.grad(gc.sum(gc.tanh(y)), [x, w1, w2])],
          lambda n: [rng.standard_normal((2, strides * (n + 4), 3))])


def test_conv2d_of_run_time_height_and_width():
    rng = np.random.default_rng(5)
    x = gc.placeholder((None, None, None, 3), "float64")
    w = gc.shared(rng.standard_normal((3, 2, 3, 4)))
    y = gc.conv2d(x, w)
    agree([x], [y, gc.grad(gc.sum(y * y), w)],
          lambda n: [rng.standard_normal((2, n + 2, (n % 5) + 2, 3))])


def test_global_pooling_of_run_time_length():
    x = gc.placeholder((None, None, 5), "float64")
    agree([x], gc.global_avg_pool(x) + gc.global_max_pool(x), sequences(3, 5))


def test_take_of_run_time_shaped_indices():
    table = gc.shared(np.random.default_rng(0).standard_normal((10, 4)))
    ids = gc.placeholder((None, None), "int64")
    agree([ids], gc.sum(gc.take(table, ids, axis=0), axis=1),
          lambda n: [np.random.default_rng(n).integers(-10, 10, (3, n))])


# ---- the layers ------------------------------------------------------------------------------


def layer_model(*stack, shape=(None, 8), dtype="float32"):
    model = K.Sequential([layers.Input(shape=shape, dtype=dtype), *stack])
    model.compile(optimizer="adam", loss="mse")
    return model


def predict_and_train(model, make_input, compiles):
    """predict and train_on_batch at several lengths: results agree with the interpreter's
    predict, and nothing compiles again after the first length."""
    counts = []
    for length in LENGTHS:
        x = make_input(length)
        y = model.predict(x, verbose=0)
        np.testing.assert_allclose(y, model.make_predict_function("numpy")(x)[0],
                                   rtol=2e-4, atol=2e-5)
        loss = model.train_on_batch(x, np.zeros_like(y))
        assert np.all(np.isfinite(loss))
        counts.append(len(compiles))
    assert counts[0] == counts[-1] > 0


@pytest.mark.parametrize("layer", ["LSTM", "GRU", "SimpleRNN"])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_recurrent_layers_on_inputs_of_run_time_length(layer, return_sequences, compiles):
    model = layer_model(getattr(layers, layer)(6, return_sequences=return_sequences))
    rng = np.random.default_rng(1)
    predict_and_train(model, lambda n: rng.standard_normal((3, n, 8)).astype("f4"), compiles)


def test_embedding_lstm_on_token_ids_of_run_time_length(compiles):
    model = layer_model(layers.Embedding(20, 8), layers.LSTM(6), layers.Dense(1),
                        shape=(None,), dtype="int32")
    rng = np.random.default_rng(2)
    predict_and_train(model, lambda n: rng.integers(0, 20, (3, n)).astype("int32"), compiles)


def test_pooling_layers_on_inputs_of_run_time_length(compiles):
    model = layer_model(layers.Dense(4), layers.MaxPooling1D(2), layers.GlobalMaxPooling1D(),
                        layers.Dense(1))
    rng = np.random.default_rng(3)
    predict_and_train(model, lambda n: rng.standard_normal((3, 2 * n, 8)).astype("f4"), compiles)


def test_conv1d_layer_on_inputs_of_run_time_length(compiles):
    model = layer_model(layers.Conv1D(4, 3, activation="relu"), layers.GlobalMaxPooling1D(),
                        layers.Dense(1))
    rng = np.random.default_rng(4)
    predict_and_train(model, lambda n: rng.standard_normal((3, n + 2, 8)).astype("f4"), compiles)


def test_embedding_conv1d_text_model_at_run_time_lengths(compiles):
    model = layer_model(layers.Embedding(20, 8), layers.Conv1D(6, 3, padding="same",
                                                               activation="relu"),
                        layers.Conv1D(4, 3, padding="same"), layers.GlobalMaxPooling1D(),
                        layers.Dense(1), shape=(None,), dtype="int32")
    rng = np.random.default_rng(7)
    predict_and_train(model, lambda n: rng.integers(0, 20, (3, n)).astype("int32"), compiles)


def test_average_pooling_and_strided_conv1d_layers_train_at_run_time_lengths(compiles):
    """Their gradient ops take the input's length from the forward input."""
    model = layer_model(layers.Conv1D(6, 3, strides=2), layers.AveragePooling1D(2),
                        layers.GlobalAveragePooling1D(), layers.Dense(1))
    rng = np.random.default_rng(8)
    predict_and_train(model, lambda n: rng.standard_normal((3, 4 * n + 3, 8)).astype("f4"),
                      compiles)


# ---- both thread counts ------------------------------------------------------------------------

THREADS_SCRIPT = """
import numpy as np, graphc as gc
from graphc.backends.llvm import threads
assert threads.num_threads() == {n}
x = gc.placeholder((None, None, 16), "float64")
rng = np.random.default_rng(3)
W, U = (gc.shared(rng.standard_normal(s) * 0.3) for s in [(16, 36), (9, 36)])
seq, last, _ = gc.lstm(x, W, U)
outs = [seq, *gc.grad(gc.sum(gc.tanh(seq)) + gc.sum(last), [x, W, U])]
f, ref = gc.function([x], outs), gc.function([x], outs, backend="numpy")
for batch, length in [(1, 1), (7, 7), (33, 33), (2, 5)]:
    xv = rng.standard_normal((batch, length, 16))
    for a, b in zip(f(xv), ref(xv)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-10)
print("ok")
"""


@pytest.mark.parametrize("n", [1, 2])
def test_run_time_lengths_on_one_and_two_threads(n):
    env = dict(os.environ, GRAPHC_NUM_THREADS=str(n))
    done = subprocess.run([sys.executable, "-c", THREADS_SCRIPT.format(n=n)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and "ok" in done.stdout, done.stderr[-2000:]
