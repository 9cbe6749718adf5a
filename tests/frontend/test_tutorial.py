"""The Keras MNIST-MLP tutorial, end to end, with only the imports changed."""

import functools

import numpy as np
import pytest

import frontend as keras
from frontend.layers import Activation, Dense, Dropout
from frontend.models import Sequential
from frontend.utils import to_categorical

from .conftest import BACKENDS, digits_like, llvm_available


def tutorial_model(activation):
    model = Sequential()
    model.add(Dense(500, input_shape=(784,)))
    model.add(Activation(activation))
    model.add(Dropout(0.2))
    model.add(Dense(500))
    model.add(Activation(activation))
    model.add(Dense(10))
    model.add(Activation("softmax"))
    return model


def run_tutorial(backend, activation="relu", epochs=2):
    keras.backend.clear_session()
    keras.utils.set_random_seed(7)
    x_all, labels_all = digits_like(400)
    x, labels, x_test, labels_test = x_all[:300], labels_all[:300], x_all[300:], labels_all[300:]
    y, y_test = to_categorical(labels, 10), to_categorical(labels_test, 10)
    model = tutorial_model(activation)
    model.compile(
        loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"], backend=backend
    )
    history = model.fit(x, y, batch_size=100, epochs=epochs, verbose=0, validation_split=0.1)
    score = model.evaluate(x_test, y_test, batch_size=100, verbose=0)
    predictions = model.predict(x_test, batch_size=100, verbose=0)
    return model, history, score, predictions


def shared_run(backend, activation="relu", epochs=2):
    """run_tutorial's result, computed once for all the tests that only read it (a seeded run
    repeats exactly, which test_runs_repeat_exactly_with_set_random_seed checks)."""
    return _cached_run(backend, activation, epochs)


@functools.cache
def _cached_run(backend, activation, epochs):
    return run_tutorial(backend, activation, epochs)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_tutorial_workflow(backend, activation):
    model, history, score, predictions = shared_run(backend, activation)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(history.history["loss"]) == 2
    assert history.history["loss"][1] < history.history["loss"][0]
    loss, accuracy = score
    assert np.isfinite(loss) and 0 <= accuracy <= 1
    assert predictions.shape == (100, 10)
    np.testing.assert_allclose(predictions.sum(axis=1), 1, rtol=1e-5)
    if activation == "relu":
        assert accuracy > 0.5  # the synthetic classes separate easily


def test_both_backends_give_the_same_history():
    if not llvm_available():
        pytest.skip("graphc.backends.llvm cannot be imported yet")
    _, h_numpy, s_numpy, p_numpy = shared_run("numpy")
    _, h_llvm, s_llvm, p_llvm = shared_run("llvm")
    for key in h_numpy.history:
        np.testing.assert_allclose(h_llvm.history[key], h_numpy.history[key], rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(s_llvm, s_numpy, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(p_llvm, p_numpy, rtol=1e-3, atol=1e-5)


def test_training_step_is_one_compiled_function():
    model, _, _, _ = shared_run("numpy", epochs=1)
    train_functions = [k for k in model._steps.cache if k[0] == "train"]
    assert len(train_functions) == 1
    fn = model._steps.cache[train_functions[0]]
    updated = {var.name for var, _ in fn.graph("raw").updates}
    # weights, optimizer slots and counters, and metric accumulators are updated together
    assert {
        "dense/kernel",
        "dense/kernel/momentum",
        "adam/iterations",
        "loss/total",
        "accuracy/count",
        "dropout_step",
    } <= updated


def test_runs_repeat_exactly_with_set_random_seed():
    _, h1, s1, p1 = shared_run("numpy", epochs=1)
    _, h2, s2, p2 = run_tutorial("numpy", epochs=1)  # a second, fresh run
    assert h1.history == h2.history
    np.testing.assert_array_equal(p1, p2)
