"""predict / predict_on_batch fast path: samples that fit in one batch, with no callbacks or
progress bar, take one call of the compiled function, and an array whose feature shape and
dtype passed the checks once skips them on the next calls. Same outputs as the batched path,
and every check still fails as before."""

import numpy as np
import pytest

from frontend.callbacks import Callback
from frontend.layers import Dense, Input
from frontend.models import Model, Sequential
from frontend.models.data import DataError
from tests.frontend.conftest import BACKENDS


def mlp(backend, features=7):
    model = Sequential([Input(shape=(features,)), Dense(5, activation="relu"), Dense(3)])
    model.compile("sgd", "mse", backend=backend)
    return model


def batched_reference(model, x, batch_size):
    """The batched path: a callback forces it."""
    return model.predict(x, batch_size=batch_size, verbose=0, callbacks=[Callback()])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("rows", [1, 7, 33, 257])
def test_fast_path_gives_the_batched_outputs(backend, rows):
    model = mlp(backend)
    x = np.random.default_rng(rows).standard_normal((rows, 7)).astype("float32")
    expected = batched_reference(model, x, 32)
    for _ in range(2):  # the second call skips the checks
        np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(model.predict(x, batch_size=rows, verbose=0), expected,
                                   rtol=1e-5, atol=1e-6)
        if rows <= 33:
            np.testing.assert_allclose(model.predict_on_batch(x), expected, rtol=1e-5,
                                       atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_checks_still_fail_after_a_checked_call(backend):
    model = mlp(backend)
    model.predict(np.ones((1, 7), "float32"), verbose=0)
    for method in (lambda x: model.predict(x, verbose=0), model.predict_on_batch):
        with pytest.raises(DataError, match=r"expects data of shape \(None, 7\).*\(1, 6\)"):
            method(np.ones((1, 6), "float32"))
        with pytest.raises(DataError, match="could not convert"):
            method([[1.0, 2.0], [3.0]])


@pytest.mark.parametrize("backend", BACKENDS)
def test_other_dtypes_and_layouts_are_converted_as_before(backend):
    model = mlp(backend)
    x = np.random.default_rng(0).standard_normal((7, 7)).astype("float32")
    expected = model.predict(x, verbose=0)
    model.predict(x, verbose=0)  # remembered: float32, contiguous
    wide = x.astype("float64")
    np.testing.assert_allclose(model.predict(wide, verbose=0), expected, rtol=1e-5, atol=1e-6)
    strided = np.asfortranarray(x)
    np.testing.assert_allclose(model.predict(strided, verbose=0), expected, rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(model.predict(x.tolist(), verbose=0), expected, rtol=1e-5,
                               atol=1e-6)


def test_a_new_model_state_checks_again():
    model = mlp("numpy")
    model.predict(np.ones((1, 7), "float32"), verbose=0)
    checked = model._predict_checked
    model.add(Dense(2))  # a new graph: a new predict function, checked again
    assert model.predict(np.ones((1, 7), "float32"), verbose=0).shape == (1, 2)
    assert model._predict_checked[0] is not checked[0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_inputs_of_different_lengths_fail_as_before(backend):
    a, b = Input(shape=(3,)), Input(shape=(2,))
    model = Model([a, b], Dense(1)(a) + Dense(1)(b))
    model.compile("sgd", "mse", backend=backend)
    x = [np.ones((4, 3), "float32"), np.ones((4, 2), "float32")]
    fast = model.predict(x, verbose=0)
    np.testing.assert_allclose(fast, batched_reference(model, x, 32), rtol=1e-6)
    uneven = [np.ones((4, 3), "float32"), np.ones((3, 2), "float32")]
    with pytest.raises(Exception) as fast_error:
        model.predict(uneven, verbose=0)
    with pytest.raises(Exception) as batched_error:
        batched_reference(model, uneven, 32)
    assert type(fast_error.value) is type(batched_error.value)


def test_callbacks_and_progress_bar_still_see_every_batch(capsys):
    model = mlp("numpy")
    seen = []

    class Count(Callback):
        def on_predict_batch_end(self, batch, logs=None):
            seen.append(batch)

    model.predict(np.ones((5, 7), "float32"), batch_size=2, verbose=0, callbacks=[Count()])
    assert seen == [0, 1, 2]
    model.predict(np.ones((5, 7), "float32"), batch_size=8)
    assert "1/1" in capsys.readouterr().out
