"""The vectorized row kernels (masked_softmax, layer_norm and their gradients) against the NumPy
interpreter on row lengths that are not multiples of the vector width (1, 7, 33, 257), with
per-key and per-row masks and causality (rows with no key that counts included), on one and
on two threads (each in a fresh process,
as the thread count is fixed when the runtime starts)."""


import numpy as np
import pytest

import graphc as gc
from tests.backends.thread_runs import result_with_threads

LENGTHS = (1, 7, 33, 257)


def _functions(length, dtype):
    x = gc.placeholder((3, 2, 5, length), dtype, name="x")
    g = gc.placeholder((3, 2, 5, length), dtype, name="g")
    keys = gc.placeholder((3, 1, 1, length), "bool", name="keys")
    rows = gc.placeholder((3, 1, 5, 1), "bool", name="rows")
    outputs = [
        gc.masked_softmax(x, keys, scale=0.3, causal=True),
        gc.masked_softmax(x, rows, scale=1.7),
        gc.layer_norm(x, 1e-3),
        gc.grad(gc.sum(gc.layer_norm(x, 1e-3) * g), x),
        gc.grad(gc.sum(gc.masked_softmax(x, keys, scale=0.3, causal=True) * g), x),
        gc.masked_softmax(x, keys, scale=0.3, causal=True, keyless_rows="zeros"),
        gc.grad(gc.sum(gc.masked_softmax(x, rows, scale=1.7) * g * g), x),
    ]
    return [x, g, keys, rows], outputs


def _arrays(length, dtype):
    rng = np.random.default_rng(length)
    x = (rng.standard_normal((3, 2, 5, length)) * 3 + 1).astype(dtype)
    g = rng.standard_normal((3, 2, 5, length)).astype(dtype)
    keys, rows = rng.random((3, 1, 1, length)) > 0.3, rng.random((3, 1, 5, 1)) > 0.3
    keys[1, ..., 0], rows[2, 0, 3] = False, False  # keyless rows: uniform, gradient 0
    return [x, g, keys, rows]


def largest_errors() -> dict:
    """{'<length> <dtype>': the largest |llvm - numpy| over every output}."""
    errors = {}
    for length in LENGTHS:
        for dtype in ("float32", "float64"):
            inputs, outputs = _functions(length, dtype)
            compiled = gc.function(inputs, outputs, backend="llvm")
            reference = gc.function(inputs, outputs, backend="numpy")
            arrays = _arrays(length, dtype)
            pairs = zip(compiled(*arrays), reference(*arrays))
            errors[f"{length} {dtype}"] = max(float(np.abs(a - b).max()) for a, b in pairs)
    return errors


@pytest.mark.parametrize("threads", [1, 2])
def test_row_kernels_match_the_interpreter_on_odd_lengths(threads):
    errors = result_with_threads(__name__, "largest_errors", threads)
    assert len(errors) == 2 * len(LENGTHS)
    for name, error in errors.items():
        assert error < (1e-4 if "float32" in name else 1e-10), (name, error)
