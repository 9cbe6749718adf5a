"""Two contexts of one exported library training at once from two threads each get exactly
what they get alone: some gradient kernels keep scratch in the library's globals (a small
convolution's per-chunk weight-gradient sums, transposed weights), so training steps of
different contexts take turns (runtime.c's graphc_train_lock)."""

import ctypes
import threading

import numpy as np

from frontend.layers import Conv2D, Dense, Flatten, Input
from frontend.models import Sequential
from tests.export.aot_helpers import Library, needs_cc

pytestmark = needs_cc
ROWS, STEPS = 32, 200


def exported_conv_model(folder):
    """A conv (3x3x1 -> 16: the chunked direct weight gradient) + dense model, exported with
    its training step, and its data in two halves."""
    rng = np.random.default_rng(1)
    model = Sequential([Input((12, 12, 1)), Conv2D(16, 3, activation="relu"), Flatten(),
                        Dense(3, activation="softmax")], name="twin")
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    x = rng.random((2 * ROWS, 12, 12, 1), dtype=np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 2 * ROWS)]
    model.train_on_batch(x[:8], y[:8])
    model.export(folder, train_step=True, batch_chunk=ROWS, verbose=False)
    return x, [(np.ascontiguousarray(x[k * ROWS:(k + 1) * ROWS]),
                np.ascontiguousarray(y[k * ROWS:(k + 1) * ROWS])) for k in (0, 1)]


def test_two_contexts_training_at_once_equal_training_alone(tmp_path):
    x, halves = exported_conv_model(tmp_path)
    lib = Library(tmp_path / "libtwin.so", "twin", 1, 1)
    step = lib.fn("train_step", ctypes.c_int, [ctypes.c_void_p] * 4 + [ctypes.c_int64,
                                                                        ctypes.c_void_p])
    ones, loss = np.ones(ROWS, np.float32), np.zeros(1, np.float32)

    def train(ctx, k, results):
        xs, ys = halves[k]
        for _ in range(STEPS):  # ctypes releases the GIL: the two threads' steps overlap
            assert step(ctx, xs.ctypes.data, ys.ctypes.data, ones.ctypes.data, ROWS,
                        loss.ctypes.data) == 0
        results[k] = lib.run(ctx, [x], [(2 * ROWS, 3)])[1][0]

    alone, together = {}, {}
    for k in (0, 1):
        ctx = lib.create(1)
        train(ctx, k, alone)
        lib.destroy(ctx)
    contexts = [lib.create(1), lib.create(1)]
    threads = [threading.Thread(target=train, args=(contexts[k], k, together)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for ctx in contexts:
        lib.destroy(ctx)
    for k in (0, 1):
        np.testing.assert_array_equal(together[k], alone[k])
