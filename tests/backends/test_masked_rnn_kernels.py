"""The fused recurrent kernels under a (batch, time) mask - SimpleRNN (tanh, relu), LSTM and
GRU, forward and BPTT - against the NumPy interpreter on odd unit counts (1, 7, 33), batches
that span several row blocks (257 > 128 rows), rows masked everywhere, at the start and in the
middle, on one and on two threads (each in a fresh process: the thread count is fixed when the
runtime starts)."""


import numpy as np
import pytest

import graphc as gc
from tests.backends.thread_runs import result_with_threads

SIZES = ((1, 257), (7, 5), (33, 9))  # (units, batch)
STEPS, FEATURES = 6, 3


def _outputs(x, h0, mask, units, rng):
    """Every recurrence's sequence and its gradients to x and h0."""
    outputs = []
    for gates, run in ((1, lambda *a: gc.simple_rnn(*a, activation="tanh", mask=mask)),
                       (1, lambda *a: gc.simple_rnn(*a, activation="relu", mask=mask)),
                       (4, lambda *a: gc.lstm(*a, h0, mask=mask)),
                       (3, lambda *a: gc.gru(*a, mask=mask))):
        W = gc.constant(rng.standard_normal((FEATURES, gates * units)).astype("float32") * 0.5)
        U = gc.constant(rng.standard_normal((units, gates * units)).astype("float32") * 0.5)
        b = rng.standard_normal((2, 3 * units) if gates == 3 else (gates * units,))
        sequence = run(x, W, U, gc.constant(b.astype("float32")), h0)[0]
        weights = gc.constant(rng.standard_normal(sequence.shape[1:]).astype("float32"))
        cost = gc.sum(sequence * weights)
        outputs += [sequence, *gc.grad(cost, [x, h0])]
    return outputs


def largest_errors() -> dict:
    """{'<units>': the largest |llvm - numpy| over every output, relative to its scale}."""
    errors = {}
    for units, batch in SIZES:
        rng = np.random.default_rng(units)
        x = gc.placeholder((None, STEPS, FEATURES), "float32")
        h0 = gc.placeholder((None, units), "float32")
        mask = gc.placeholder((None, STEPS), "bool")
        outputs = _outputs(x, h0, mask, units, rng)
        keep = rng.random((batch, STEPS)) > 0.3
        keep[0], keep[-1, :2] = False, False  # a row that never runs; a late start
        arrays = [rng.standard_normal((batch, STEPS, FEATURES)).astype("float32"),
                  rng.standard_normal((batch, units)).astype("float32"), keep]
        compiled = gc.function([x, h0, mask], outputs, backend="llvm")(*arrays)
        reference = gc.function([x, h0, mask], outputs, backend="numpy")(*arrays)
        errors[str(units)] = max(
            float(np.abs(a - b).max() / (1.0 + np.abs(b).max()))
            for a, b in zip(compiled, reference)
        )
    return errors


@pytest.mark.parametrize("threads", [1, 2])
def test_masked_recurrences_match_the_interpreter(threads):
    errors = result_with_threads(__name__, "largest_errors", threads)
    assert sorted(errors) == sorted(str(units) for units, _ in SIZES)
    assert all(error < 1e-5 for error in errors.values()), errors
