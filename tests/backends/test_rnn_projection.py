"""Recurrences that compute their input projection x_t @ W + bx inside the kernel
(graphc/backends/llvm/rnn_projection.py, ops/recurrent_projected.py): the rule fires for static
and run-time lengths and not when P is read elsewhere; values and every gradient match the
NumPy interpreter on odd sizes (units 1, 7, 33; lengths 1, 7, 33; batches past one row block),
on one and on two threads (each in a fresh process), and finite differences."""

import numpy as np
import pytest

import graphc as gc
from graphc.nn_api import project
from graphc.ops import make_node
from tests.backends.thread_runs import result_with_threads

GATES = {"rnn": 1, "lstm": 4, "gru": 3}
CASES = ((1, 33, 1, 5), (7, 7, 5, 3), (33, 1, 3, 130))  # (units, steps, features, batch)


def recurrence(cell, x, units, features, rng, dtype="float32"):
    """(every h, last h) of `cell` over x, with random weights (constants, as W, U, b)."""
    g = GATES[cell]

    def weights(*shape):
        return gc.shared((0.5 * rng.standard_normal(shape)).astype(dtype))

    W, U = weights(features, g * units), weights(units, g * units)
    if cell == "rnn":
        return gc.simple_rnn(x, W, U, weights(units), activation="tanh"), (W, U)
    if cell == "lstm":
        return gc.lstm(x, W, U, weights(4 * units))[:2], (W, U)
    return gc.gru(x, W, U, weights(2, 3 * units)), (W, U)


def step(cell, units, steps, features, rng, x):
    """A loss over every h and the last one: the sequence and the loss's gradients to x and W
    (U's comes from the unchanged BPTT and recurrent_kernel_grad kernels)."""
    (every, last), (W, _) = recurrence(cell, x, units, features, rng)
    loss = gc.sum(every * every) + gc.sum(gc.tanh(last))
    return [every, *gc.grad(loss, [x, W])]


def kernel_ops(fn) -> list:
    return [k.name.split("_", 1)[1] for k in fn.kernels]


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("steps", [5, None])
def test_the_projection_moves_into_the_recurrence(cell, steps):
    x = gc.placeholder((None, steps, 3), name="x")
    ops = kernel_ops(gc.function([x], step(cell, 4, steps, 3, np.random.default_rng(0), x)))
    op = {"rnn": "simple_rnn_seq", "lstm": "lstm_seq", "gru": "gru_seq"}[cell]
    assert f"{op}_projected" in ops
    assert not [o for o in ops if o.startswith("dense")], ops  # no GEMM writes P


def test_a_projection_read_elsewhere_stays_outside():
    rng = np.random.default_rng(1)
    x = gc.placeholder((None, 4, 3), name="x")
    W, U, b = (gc.shared(rng.standard_normal(s).astype("float32")) for s in ((3, 8), (2, 8), 8))
    P = project(x, W, b)
    zeros = gc.constant(np.zeros((3, 2), "float32"))
    every = make_node("lstm_seq", [P, zeros, zeros, U])
    outputs = [every, gc.sum(P)]  # P's values are read by the sum too: it stays a GEMM
    fn = gc.function([x], outputs)
    assert "lstm_seq" in kernel_ops(fn) and "lstm_seq_projected" not in kernel_ops(fn)
    xv = rng.standard_normal((3, 4, 3)).astype("float32")
    for got, want in zip(fn(xv), gc.function([x], outputs, backend="numpy")(xv)):
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-4)


def same_as_interpreter(inputs, outputs, *arrays):
    want = gc.function(inputs, outputs, backend="numpy")(*arrays)
    np.testing.assert_allclose(gc.function(inputs, outputs)(*arrays), want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_no_input_features_stay_outside(cell):
    """W with 0 rows: the projected kernels tell themselves by a nonzero feature count."""
    rng, units = np.random.default_rng(2), 3
    x = gc.placeholder((None, None, 0), name="x")
    W = gc.shared(np.zeros((0, GATES[cell] * units), "float32"))
    U = gc.shared(rng.standard_normal((units, GATES[cell] * units)).astype("float32"))
    bias = {"rnn": (units,), "lstm": (4 * units,), "gru": (2, 3 * units)}[cell]
    b = gc.shared(np.full(bias, 0.5, "float32"))
    every = {"rnn": gc.simple_rnn, "lstm": gc.lstm, "gru": gc.gru}[cell](x, W, U, b)[0]
    same_as_interpreter([x], every, np.zeros((2, 3, 0), "float32"))


@pytest.mark.parametrize("steps", [4, None])
def test_a_broadcasting_bias_stays_outside(steps):
    rng = np.random.default_rng(3)
    x = gc.placeholder((None, steps, 2), name="x")
    W, U = (gc.shared(rng.standard_normal(s).astype("float32")) for s in ((2, 12), (3, 12)))
    every = gc.lstm(x, W, U, gc.shared(np.full(1, 0.5, "float32")))[0]
    same_as_interpreter([x], every, rng.standard_normal((2, 4, 2)).astype("float32"))


def test_rows_folded_to_another_width_stay_outside():
    """x (2, 4, 6) multiplied as (8, 3) rows: P's steps match, its rows are not x's."""
    rng = np.random.default_rng(4)
    x = gc.placeholder((2, 4, 6), name="x")
    W, b, U = (gc.shared(rng.standard_normal(s).astype("float32")) for s in ((3, 8), 8, (2, 8)))
    P = gc.reshape(gc.matmul(gc.reshape(x, (-1, 3)), W) + b, (-1, 4, 8))
    zeros = gc.constant(np.zeros((4, 2), "float32"))
    every = make_node("lstm_seq", [P, zeros, zeros, U])
    same_as_interpreter([x], every, rng.standard_normal((2, 4, 6)).astype("float32"))


def largest_errors() -> dict:
    """{'<units>': the largest |llvm - numpy| relative to the output's scale, over the three
    cells' sequences and gradients (one function per size, to compile few)."""
    errors = {}
    for units, steps, features, batch in CASES:
        rng = np.random.default_rng(units)
        x = gc.placeholder((None, steps, features), name="x")
        outputs = [out for cell in GATES for out in step(cell, units, steps, features, rng, x)]
        xv = rng.standard_normal((batch, steps, features)).astype("float32")
        got = gc.function([x], outputs)(xv)
        want = gc.function([x], outputs, backend="numpy")(xv)
        errors[str(units)] = max(float(np.abs(a - b).max() / (1.0 + np.abs(b).max()))
                                 for a, b in zip(got, want))
    return errors


@pytest.mark.parametrize("threads", [1, 2])
def test_projected_recurrences_match_the_interpreter(threads):
    errors = result_with_threads(__name__, "largest_errors", threads)
    assert sorted(errors) == sorted(str(units) for units, *_ in CASES)
    assert max(errors.values()) < 1e-4, errors


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_weight_gradients_match_finite_differences(cell):
    rng = np.random.default_rng(2)
    x = gc.placeholder((2, 3, 2), "float64", name="x")
    (every, last), (W, U) = recurrence(cell, x, 3, 2, rng, "float64")
    loss = gc.sum(every * every) + gc.sum(last)
    xv = rng.standard_normal((2, 3, 2))
    value = gc.function([x], [loss, *gc.grad(loss, [W])])
    dW = value(xv)[1]
    W0, eps = W.get_value(), 1e-6
    for index in [(0, 0), (1, W0.shape[1] - 1)]:
        shifted = []
        for sign in (1, -1):
            moved = W0.copy()
            moved[index] += sign * eps
            W.set_value(moved)
            shifted.append(value(xv)[0])
        W.set_value(W0)
        assert abs((shifted[0] - shifted[1]) / (2 * eps) - dW[index]) < 1e-6 * (1 + abs(dW[index]))
