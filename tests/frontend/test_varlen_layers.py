"""Keras-style layers on inputs whose time axis is None (issue 10): TimeDistributed folds the
run-time number of steps into the batch and back (graphc's unfold_like), AveragePooling1D and
strided Conv1D train (their gradients take the length from the forward input); each model
compiles once and predicts and trains at several lengths on both backends, with the same
results."""

import numpy as np
import pytest

from frontend import layers
from frontend.models import Sequential

LENGTHS = (5, 1, 12)


def model_on(backend, *stack, shape):
    model = Sequential([layers.Input(shape=shape), *stack])
    model.compile(optimizer="adam", loss="mse", backend=backend)  # adam: weights move
    return model


def trained_on_both_backends(make_stack, shape, make_input, steps=2):
    """Predictions and losses of the same model trained on llvm and on numpy, at LENGTHS."""
    results = []
    for backend in ("llvm", "numpy"):
        model = model_on(backend, *make_stack(), shape=shape)
        weights = [np.random.default_rng(k).standard_normal(w.shape).astype("f4") * 0.3
                   for k, w in enumerate(model.get_weights())]
        model.set_weights(weights)
        seen = []
        for length in LENGTHS:
            x = make_input(length)
            y = model.predict(x, verbose=0)
            losses = [model.train_on_batch(x, np.ones_like(y)) for _ in range(steps)]
            seen.append((y, losses, model.get_weights()))
        results.append(seen)
    return results


def assert_same(results):
    for (y_llvm, loss_llvm, w_llvm), (y_numpy, loss_numpy, w_numpy) in zip(*results):
        np.testing.assert_allclose(y_llvm, y_numpy, rtol=2e-4, atol=2e-5)
        np.testing.assert_allclose(loss_llvm, loss_numpy, rtol=2e-4, atol=2e-5)
        for a, b in zip(w_llvm, w_numpy):
            np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("inner", ["dense", "conv1d"])
def test_time_distributed_over_a_run_time_time_axis(inner):
    if inner == "dense":
        def stack():
            return [layers.TimeDistributed(layers.Dense(4, activation="tanh")),
                    layers.LSTM(3)]
        shape = (None, 6)
    else:
        def stack():
            return [layers.TimeDistributed(layers.Conv1D(3, 2)),
                    layers.TimeDistributed(layers.GlobalMaxPooling1D()), layers.GRU(2)]
        shape = (None, 5, 2)
    results = trained_on_both_backends(stack, shape, lambda n: np.random.default_rng(
        n).standard_normal((3, n, *shape[1:])).astype("f4"))
    assert [y.shape[1] for y, _, _ in results[0]] == [3 if inner == "dense" else 2] * len(LENGTHS)
    assert_same(results)


def test_time_distributed_keeps_the_time_axis_in_its_output_shape():
    model = model_on("llvm", layers.TimeDistributed(layers.Dense(4)), shape=(None, 6))
    assert model.output_shape == (None, None, 4)
    for length in LENGTHS:
        assert model.predict(np.ones((2, length, 6), "f4"), verbose=0).shape == (2, length, 4)


def test_average_pooling_and_strided_conv1d_train_at_run_time_lengths():
    def stack():
        return [layers.Conv1D(4, 3, strides=2), layers.AveragePooling1D(2, strides=2),
                layers.GlobalAveragePooling1D(), layers.Dense(1)]

    assert_same(trained_on_both_backends(stack, (None, 3), lambda n: np.random.default_rng(
        n).standard_normal((2, 4 * n + 4, 3)).astype("f4")))
