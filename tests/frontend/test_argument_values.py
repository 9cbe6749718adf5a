"""fit / evaluate / predict refuse impossible argument values with an error naming the argument
and the value received (Keras style), and predict on 0 samples gives empty outputs of the right
shapes on both backends."""

import numpy as np
import pytest

from frontend.layers import LSTM, Conv1D, Dense, Embedding, Input
from frontend.models import Model, Sequential
from tests.frontend.conftest import BACKENDS

HERE = __file__


def compiled_model(backend):
    model = Sequential([Input(shape=(3,)), Dense(2)])
    model.compile("sgd", "mse", backend=backend)
    return model


@pytest.mark.parametrize("backend", BACKENDS)
def test_predict_on_no_samples_gives_empty_outputs_of_the_right_shape(backend):
    model = compiled_model(backend)
    out = model.predict(np.zeros((0, 3), "float32"), verbose=0)
    assert out.shape == (0, 2) and out.dtype == np.float32
    a = Input(shape=(3,))
    two = Model(a, [Dense(2)(a), Dense(5)(a)])
    two.compile("sgd", "mse", backend=backend)
    outs = two.predict(np.zeros((0, 3), "float32"), verbose=0)
    assert [o.shape for o in outs] == [(0, 2), (0, 5)]
    layers = [Input(shape=(6,), dtype="int32"), Embedding(10, 4), Conv1D(3, 2), LSTM(4)]
    sequence = Sequential(layers + [Dense(3, activation="softmax")])
    sequence.compile("adam", "mse", backend=backend)
    assert sequence.predict(np.zeros((0, 6), "int32"), verbose=0).shape == (0, 3)


@pytest.mark.parametrize(
    "method, arguments, message",
    [
        (
            "fit",
            {"batch_size": 0},
            "fit: batch_size must be a positive integer. Received: batch_size=0",
        ),
        ("fit", {"batch_size": -4}, "Received: batch_size=-4"),
        ("fit", {"batch_size": 2.0}, "Received: batch_size=2.0"),
        ("fit", {"epochs": -3}, "fit: epochs must be an integer >= 0. Received: epochs=-3"),
        ("fit", {"epochs": 1.5}, "Received: epochs=1.5"),
        ("fit", {"epochs": True}, "Received: epochs=True"),
        ("fit", {"initial_epoch": -1}, "Received: initial_epoch=-1"),
        (
            "fit",
            {"validation_batch_size": 0, "validation_split": 0.5},
            "Received: validation_batch_size=0",
        ),
        (
            "evaluate",
            {"batch_size": 0},
            "evaluate: batch_size must be a positive integer. Received: batch_size=0",
        ),
        (
            "predict",
            {"batch_size": 0},
            "predict: batch_size must be a positive integer. Received: batch_size=0",
        ),
    ],
)
def test_impossible_argument_values_name_the_argument_and_value(method, arguments, message):
    model = compiled_model("numpy")
    x, y = np.ones((4, 3), "float32"), np.ones((4, 2), "float32")
    data = (x,) if method == "predict" else (x, y)
    with pytest.raises(ValueError, match=message.replace(".", r"\.").replace("(", r"\(")) as err:
        getattr(model, method)(*data, verbose=0, **arguments)
    assert HERE in str(err.value)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("method", ["fit", "evaluate"])
def test_fit_and_evaluate_on_no_samples_are_refused(backend, method):
    model = compiled_model(backend)
    with pytest.raises(ValueError, match=rf"{method}: x has 0 samples \(shape \(0, 3\)\)"):
        getattr(model, method)(np.ones((0, 3), "float32"), np.ones((0, 2), "float32"), verbose=0)


def test_zero_epochs_and_a_given_default_batch_size_still_work():
    model = compiled_model("numpy")
    x, y = np.ones((4, 3), "float32"), np.ones((4, 2), "float32")
    assert model.fit(x, y, epochs=0, verbose=0).history == {}
    model.fit(x, y, epochs=np.int64(1), batch_size=np.int32(2), verbose=0)
