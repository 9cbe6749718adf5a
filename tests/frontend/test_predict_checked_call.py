"""predict's checked call: once an array kind (feature shape, dtype, C order) passed predict's
checks for a predict function, later calls with that kind also skip the compiled function's
own input checks (Function.call_coerced). Same outputs as the general path; anything else
(several inputs, dicts, 0 rows, a fixed batch size, callbacks, progress bar) is checked as
before."""

import numpy as np
import pytest

from frontend.callbacks import Callback
from frontend.layers import Dense, Input
from frontend.models import Model, Sequential
from graphc.function import Function
from graphc.ir import ShapeError
from tests.frontend.conftest import BACKENDS


def mlp(backend, batch_size=None):
    model = Sequential([Input(shape=(7,), batch_size=batch_size), Dense(5, activation="relu"),
                        Dense(3)])
    model.compile("sgd", "mse", backend=backend)
    return model


def general_path(model, x):
    """The batched path with every check: a callback forces it."""
    return model.predict(x, verbose=0, callbacks=[Callback()])


@pytest.fixture
def checks(monkeypatch):
    """Counts the compiled functions' own input checks."""
    calls = []
    original = Function.coerce_arguments

    def counted(self, args):
        calls.append(len(args))
        return original(self, args)

    monkeypatch.setattr(Function, "coerce_arguments", counted)
    return calls


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("rows", [1, 7, 32])
def test_a_checked_kind_skips_the_function_checks_with_equal_outputs(backend, rows, checks):
    model = mlp(backend)
    x = np.random.default_rng(rows).standard_normal((rows, 7)).astype("float32")
    expected = general_path(model, x)
    checks.clear()
    first = model.predict(x, verbose=0)
    assert checks == [1]  # the first call checks and remembers the kind
    for call in (lambda: model.predict(x, verbose=0), lambda: model.predict_on_batch(x)):
        np.testing.assert_array_equal(call(), first)
    assert checks == [1]
    np.testing.assert_allclose(first, expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("backend", BACKENDS)
def test_zero_rows_and_other_kinds_keep_every_check(backend, checks):
    model = mlp(backend)
    x = np.ones((1, 7), "float32")
    model.predict(x, verbose=0)
    checks.clear()
    assert model.predict(np.ones((0, 7), "float32"), verbose=0).shape == (0, 3)
    model.predict(x.astype("float64"), verbose=0)
    model.predict(np.ones((7, 2), "float32").T[:1], verbose=0)  # not C-contiguous
    assert len(checks) == 3


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_fixed_batch_size_is_still_checked_by_the_function(backend):
    model = mlp(backend, batch_size=2)
    np.testing.assert_allclose(model.predict(np.ones((2, 7), "float32"), verbose=0),
                               general_path(model, np.ones((2, 7), "float32")), rtol=1e-6)
    for _ in range(2):
        with pytest.raises(ShapeError, match=r"expected shape \(2, 7\), got \(1, 7\)"):
            model.predict_on_batch(np.ones((1, 7), "float32"))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("as_dict", [False, True])
def test_several_inputs_keep_every_check(backend, as_dict, checks):
    a, b = Input(shape=(3,), name="a"), Input(shape=(2,), name="b")
    model = Model([a, b], Dense(1)(a) + Dense(1)(b))
    model.compile("sgd", "mse", backend=backend)
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal((1, 3)).astype("float32"),
              rng.standard_normal((1, 2)).astype("float32")]
    x = dict(zip("ab", arrays)) if as_dict else arrays
    expected = general_path(model, x)
    checks.clear()
    for _ in range(2):
        np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-6)
        np.testing.assert_allclose(model.predict_on_batch(x), expected, rtol=1e-6)
    assert checks == [2, 2, 2, 2]


def test_callbacks_still_run_after_a_checked_call(capsys):
    model = mlp("numpy")
    x = np.ones((1, 7), "float32")
    model.predict(x, verbose=0)
    seen = []

    class Count(Callback):
        def on_predict_batch_end(self, batch, logs=None):
            seen.append(batch)

    np.testing.assert_array_equal(model.predict(x, verbose=0, callbacks=[Count()]),
                                  model.predict(x, verbose=0))
    assert seen == [0]
    model.predict(x)
    assert "1/1" in capsys.readouterr().out
