"""The BPTT ops fed the last step's gradient alone (graphc/ops/recurrent_upstream.py): when a
loss reads only the last h (or c), the op gets a (batch, slots * units) gradient, not a
(batch, time, slots * units) tensor of zeros. Checked: the rewrite happens (and only then),
gradients against central finite differences, and the LLVM kernels against the NumPy
interpreter on odd sizes, masked and unmasked, on one and on two threads."""

import numpy as np
import pytest

import graphc as gc
from graphc.testing import numeric_gradient, relative_error
from tests.backends.thread_runs import result_with_threads

GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3}
# (units, batch, steps): each cell runs every size, masked and unmasked in turn, so every cell
# and every size meets both kernel variants (half the compiles of every combination: CI runs
# this module cold)
SIZES = ((1, 257, 6), (7, 5, 1), (33, 9, 4))
FEATURES = 3


def recurrence(cell, x, W, U, b, h0, mask=None):
    """(every h, last h[, last c]) of `cell`."""
    if cell == "lstm":
        return gc.lstm(x, W, U, b, h0, mask=mask)
    if cell == "gru":
        return gc.gru(x, W, U, b, h0, mask=mask)
    return gc.simple_rnn(x, W, U, b, h0, mask=mask)


def weight_shapes(cell, units):
    gates = GATES[cell]
    bias = (2, 3 * units) if cell == "gru" else (gates * units,)
    return (FEATURES, gates * units), (units, gates * units), bias


def last_step_loss(cell, x, params, h0, mask, rng):
    """sum(w * last h) (+ sum(w' * last c) for LSTM): no gradient reaches earlier steps' Y."""
    _, *last = recurrence(cell, x, *params, h0, mask)
    return sum(gc.sum(s * gc.constant(rng.standard_normal((s.shape[1],)).astype(s.dtype)))
               for s in last)


def bptt_gradient_shapes(loss, wrt):
    f = gc.function(wrt, gc.grad(loss, wrt), backend="numpy")
    return [n.inputs[-1].shape for n in f.graph("optimized").nodes() if n.op.endswith("seq_grad")]


@pytest.mark.parametrize("cell", sorted(GATES))
def test_only_the_last_step_gradient_reaches_bptt(cell):
    rng = np.random.default_rng(0)
    x, h0 = gc.placeholder((None, 5, FEATURES)), gc.placeholder((None, 2))
    params = [gc.constant(rng.standard_normal(s).astype("float32")) for s in weight_shapes(cell, 2)]
    slots = {"simple_rnn": 1, "lstm": 6, "gru": 5}[cell]
    loss = last_step_loss(cell, x, params, h0, None, rng)
    assert bptt_gradient_shapes(loss, [x, h0]) == [(None, slots * 2)]
    sequence = recurrence(cell, x, *params, h0)[0]
    assert bptt_gradient_shapes(gc.sum(sequence), [x, h0]) == [(None, 5, slots * 2)]


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("cell", sorted(GATES))
def test_last_step_gradients_match_finite_differences(cell, masked):
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(s) * 0.5 for s in ((2, 4, FEATURES), *weight_shapes(cell, 3),
                                                     (2, 3))]
    nodes = [gc.placeholder(a.shape, "float64") for a in arrays]
    mask = gc.constant(np.array([[True, False, True, True], [False, True, True, False]]))
    loss = last_step_loss(cell, nodes[0], nodes[1:4], nodes[4], mask if masked else None, rng)
    analytic = gc.function(nodes, gc.grad(loss, nodes), backend="numpy")(*arrays)
    forward = gc.function(nodes, loss, backend="numpy")
    for i, a in enumerate(analytic):
        numeric = numeric_gradient(lambda vals: float(forward(*vals)), arrays, i)
        assert relative_error(a, numeric) < 1e-6, f"{cell} input {i}"


def largest_errors() -> dict:
    """{'<cell> <units> <masked>': the largest |llvm - numpy| of the last-step gradients to the
    inputs, h0 and weights, relative to their scale}."""
    errors = {}
    for c, cell in enumerate(sorted(GATES)):
        for s, (units, batch, steps) in enumerate(SIZES):
            masked = (c + s) % 2 == 1
            errors[f"{cell} {units} {masked}"] = compare_backends(cell, units, batch, steps,
                                                                  masked)
    return errors


def compare_backends(cell, units, batch, steps, masked):
    rng = np.random.default_rng(units)
    x = gc.placeholder((None, steps, FEATURES), "float32")
    h0 = gc.placeholder((None, units), "float32")
    mask = gc.placeholder((None, steps), "bool")
    params = [gc.shared((0.5 * rng.standard_normal(s)).astype("float32"))
              for s in weight_shapes(cell, units)]
    loss = last_step_loss(cell, x, params, h0, mask if masked else None, rng)
    inputs, outputs = [x, h0, mask], gc.grad(loss, [x, h0, *params])
    keep = rng.random((batch, steps)) > 0.3
    keep[0] = False  # a row that never runs
    arrays = [rng.standard_normal((batch, steps, FEATURES)).astype("float32"),
              rng.standard_normal((batch, units)).astype("float32"), keep]
    compiled = gc.function(inputs, outputs, backend="llvm")(*arrays)
    reference = gc.function(inputs, outputs, backend="numpy")(*arrays)
    return max(float(np.abs(a - b).max() / (1.0 + np.abs(b).max()))
               for a, b in zip(compiled, reference))


@pytest.mark.parametrize("threads", [1, 2])
def test_last_step_kernels_match_the_interpreter(threads):
    errors = result_with_threads(__name__, "largest_errors", threads)
    assert len(errors) == len(GATES) * len(SIZES)
    assert {key.split()[2] for key in errors} == {"True", "False"}
    assert all(error < 1e-5 for error in errors.values()), errors


def test_a_misshaped_upstream_gradient_names_the_op():
    UT, Y = gc.placeholder((12, 3)), gc.placeholder((None, 4, 18))
    with pytest.raises(gc.ShapeError, match=r"lstm_seq_grad.*\(None, 4, 18\).*\(None, 17\)"):
        gc.ops.call("lstm_seq_grad", gc.placeholder((None, 3)), UT, Y,
                    gc.placeholder((None, 17)))
