"""model.export(..., train_step=True): NAME_train_step fine-tunes the context's own weights in C
exactly as train_on_batch does in Python (Adam, losses and later predictions), at 1 and 2
threads, for batches up to the exported maximum."""

import ctypes

import numpy as np
import pytest

from frontend.layers import Dense, Input
from frontend.models import Sequential
from tests.export.aot_helpers import Library, needs_cc

pytestmark = needs_cc
MAX_BATCH = 33


def compiled_model(initial_weights=None):
    """A compiled model after one training step on the first 10 rows, and its data; the same
    initial weights give the same model, weights and optimizer state."""
    rng = np.random.default_rng(1)
    model = Sequential([Input((8,)), Dense(16, activation="relu"),
                        Dense(3, activation="softmax")], name="tune")
    if initial_weights is not None:
        model.set_weights(initial_weights)
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    x = rng.random((80, 8), dtype=np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 80)]
    model.train_on_batch(x[:10], y[:10])  # builds the compiled training step
    return model, x, y


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """(folder, initial weights): ONE exported library (compiling it is the cost) that every
    test runs; a test trains its own twin of the model in Python from the same weights."""
    folder = tmp_path_factory.mktemp("tune")
    initial = Sequential([Input((8,)), Dense(16, activation="relu"),
                          Dense(3, activation="softmax")]).get_weights()
    model, _, _ = compiled_model(initial)
    model.export(folder, train_step=True, batch_chunk=MAX_BATCH, verbose=False)
    return folder, initial


def train_library(folder):
    lib = Library(folder / "libtune.so", "tune", 1, 1)
    step = lib.fn("train_step", ctypes.c_int, [ctypes.c_void_p] * 4 + [ctypes.c_int64,
                                                                        ctypes.c_void_p])
    return lib, step


@pytest.mark.parametrize("threads", [1, 2])
def test_train_steps_in_c_equal_train_on_batch(exported, threads):
    folder, initial = exported
    model, x, y = compiled_model(initial)
    lib, step = train_library(folder)
    ctx, untouched = lib.create(threads), lib.create(1)
    before = lib.run(untouched, [x], [(80, 3)])[1][0]
    ones = np.ones(80, np.float32)
    for lo, hi in [(10, 11), (11, 18), (18, 51), (51, 80)]:  # 1, 7, 33 and 29 rows
        loss = np.zeros(1, np.float32)
        code = step(ctx, x[lo:hi].ctypes.data, y[lo:hi].ctypes.data, ones[lo:hi].ctypes.data,
                    hi - lo, loss.ctypes.data)
        assert code == 0, lib.last_error(ctx)
        want = model.train_on_batch(x[lo:hi], y[lo:hi])[0]
        assert loss[0] == pytest.approx(want, rel=1e-5)
    code, (tuned,) = lib.run(ctx, [x], [(80, 3)])
    np.testing.assert_allclose(tuned, model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(lib.run(untouched, [x], [(80, 3)])[1][0], before)
    assert np.abs(tuned - before).max() > 1e-3  # training changed this context's weights
    lib.destroy(ctx)
    lib.destroy(untouched)


def test_train_step_refuses_more_rows_than_exported_and_an_untrained_model(exported, tmp_path):
    folder, initial = exported
    _, x, y = compiled_model(initial)
    lib, step = train_library(folder)
    ctx = lib.create(1)
    ones, loss = np.ones(80, np.float32), np.zeros(1, np.float32)
    assert step(ctx, x.ctypes.data, y.ctypes.data, ones.ctypes.data, 34, loss.ctypes.data) == 1
    assert lib.last_error(ctx) == (b"tune_train_step: n (rows) must be at most 33, the batch "
                                   b"it was exported for; received 34")
    assert step(ctx, x.ctypes.data, None, ones.ctypes.data, 3, loss.ctypes.data) == 1
    assert lib.last_error(ctx) == b"tune_train_step: input 1 is NULL"
    lib.destroy(ctx)
    assert "#define TUNE_TRAIN_MAX_BATCH 33" in (folder / "tune.h").read_text()
    fresh = Sequential([Input((8,)), Dense(3)], name="fresh")
    with pytest.raises(ValueError, match="train_step=True needs the compiled training step "
                                         "of model 'fresh'"):
        fresh.export(tmp_path / "fresh", train_step=True)
