"""The recurrent kernel's gradient kernel (rnn_weight_grad.py: dU = sum_t h_{t-1}^T dZ_t read
in place from the packed states and the BPTT output) against the NumPy interpreter on odd
sizes (units 1, 7, 33, 257: more than one block of GEMM rows; batches 1 and 257; one step and
several), on one and on two threads (each in a fresh process: the thread count is fixed when
the runtime starts); and the gradient of U through whole LSTM/GRU/SimpleRNN graphs, masked
and not, against finite differences on the llvm backend."""

import numpy as np
import pytest

import graphc as gc
from graphc.ops import make_node
from graphc.testing import numeric_gradient, relative_error
from tests.backends.thread_runs import result_with_threads

# (units, batch, steps, packed-state slots, gradient slots, gates)
SIZES = ((1, 257, 3, 6, 6, 4), (7, 1, 6, 5, 5, 3), (33, 5, 1, 1, 2, 1), (257, 3, 4, 1, 2, 1),
         (33, 7, 9, 6, 6, 4))


def largest_errors() -> dict:
    """{'units,batch,steps': |llvm - numpy| / scale} for every size."""
    errors = {}
    for units, batch, steps, slots, grad_slots, gates in SIZES:
        rng = np.random.default_rng(units + batch)
        h0 = gc.placeholder((None, units), "float32")
        Y = gc.placeholder((None, steps, slots * units), "float32")
        G = gc.placeholder((None, steps, grad_slots * units), "float32")
        dU = make_node("recurrent_kernel_grad", [h0, Y, G], {"gates": gates})
        shapes = ((batch, units), (batch, steps, slots * units),
                  (batch, steps, grad_slots * units))
        arrays = [rng.standard_normal(s).astype("float32") for s in shapes]
        got = gc.function([h0, Y, G], dU)(*arrays)
        want = gc.function([h0, Y, G], dU, backend="numpy")(*arrays)
        errors[f"{units},{batch},{steps}"] = float(np.abs(got - want).max() / np.abs(want).max())
    return errors


@pytest.mark.parametrize("threads", [1, 2])
def test_kernel_gradient_matches_the_interpreter(threads):
    errors = result_with_threads(__name__, "largest_errors", threads)
    assert len(errors) == len(SIZES)
    assert all(error < 1e-5 for error in errors.values()), errors


def cost_of_sequence(cell, x, U, mask, rng, units):
    """A scalar of the whole sequence of `cell` (and so of every step's h_{t-1} @ U)."""
    gates = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    W = gc.constant(rng.standard_normal((3, gates * units)) * 0.5)
    if cell == "rnn":
        seq = gc.simple_rnn(x, W, U, activation="tanh", mask=mask)[0]
    else:
        seq = (gc.lstm if cell == "lstm" else gc.gru)(x, W, U, mask=mask)[0]
    return gc.sum(seq * gc.constant(rng.standard_normal(seq.shape[1:])))


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("masked", [False, True])
def test_recurrent_kernel_gradient_matches_finite_differences(cell, masked):
    units, steps, batch = 3, 5, 4
    rng = np.random.default_rng(11)
    gates = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    x = gc.placeholder((None, steps, 3), "float64")
    U = gc.placeholder((units, gates * units), "float64")
    mask = gc.placeholder((None, steps), "bool") if masked else None
    cost = cost_of_sequence(cell, x, U, mask, rng, units)
    inputs = [x, U] + ([mask] if masked else [])
    arrays = [rng.standard_normal((batch, steps, 3)), rng.standard_normal(U.shape) * 0.5]
    if masked:
        keep = rng.random((batch, steps)) > 0.3
        keep[0, 0], keep[1] = False, False
        arrays.append(keep)
    analytic = gc.function(inputs, gc.grad(cost, U))(*arrays)
    forward = gc.function(inputs, cost)
    numeric = numeric_gradient(lambda vals: float(forward(*vals)), arrays, 1)
    assert relative_error(analytic, numeric) < 1e-6


def test_an_unused_last_state_never_reaches_the_gradient():
    """dU never uses h_{T-1}: an inf or a huge last state (sample 0's last input) must leave it
    exact (a flat GEMM over all rows less the pairs across batch rows made inf - inf = NaN)."""
    steps, units = 3, 2
    x = gc.placeholder((None, steps, 1), "float32")
    U = gc.shared((0.1 * np.eye(units)).astype("float32"))
    Y, _ = gc.simple_rnn(x, gc.shared(np.ones((1, units), "float32")), U, activation="relu")
    early = Y[:, : steps - 1, :]
    dU = gc.grad(gc.sum(early * 0.5), [U])[0]
    for last in (np.inf, 3e7):
        xv = np.ones((2, steps, 1), "float32")
        xv[0, steps - 1, 0] = last
        want = gc.function([x], dU, backend="numpy")(xv)
        np.testing.assert_array_equal(gc.function([x], dU)(xv), want)
