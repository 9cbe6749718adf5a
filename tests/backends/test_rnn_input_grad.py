"""The input kernel's gradient of a recurrence read from the BPTT output in place
(recurrent_input_kernel_grad, rnn_weight_grad.py; the LLVM backend's rule rnn_input_grad.py):
the kernel against the NumPy interpreter on odd sizes (features 1, 7, 33, 257: more than one
block of GEMM rows; 1 to 771 batch * time rows: more than one chunk; slices of odd columns),
on one and on two threads (each in a fresh process: the thread count is fixed when the
runtime starts); the rule replaces the slice-copying GEMM and bias sum; and the gradients of
W and b through whole SimpleRNN/LSTM/GRU graphs, masked and not, against finite differences
on the llvm backend. The form with the bias gradient as its last row (bias=True) likewise, and
where the rule uses it."""

import numpy as np
import pytest

import graphc as gc
from graphc.backends.llvm.rnn_input_grad import (
    IN_PLACE,
    bias_grad_in_place,
    input_kernel_grad_in_place,
)
from graphc.ops import make_node
from graphc.testing import numeric_gradient, relative_error
from tests.backends.thread_runs import result_with_threads

# (features, batch, steps, width of G, start, stop)
SIZES = ((1, 257, 3, 18, 0, 12), (7, 1, 1, 15, 9, 12), (33, 5, 7, 10, 3, 10),
         (257, 3, 4, 6, 0, 4), (7, 0, 3, 12, 0, 8))


def largest_errors(bias=False) -> dict:
    """{'features,batch,steps': |llvm - numpy| / scale} for every size (with bias: of the
    op's form whose last row is the bias gradient, the sum of G's slice)."""
    errors = {}
    for features, batch, steps, width, start, stop in SIZES:
        rng = np.random.default_rng(features + batch)
        x = gc.placeholder((None, features), "float32")
        G = gc.placeholder((None, steps, width), "float32")
        dW = make_node("recurrent_input_kernel_grad", [x, G],
                       {"start": start, "stop": stop, **({"bias": True} if bias else {})})
        arrays = [rng.standard_normal(s).astype("float32")
                  for s in ((batch * steps, features), (batch, steps, width))]
        got = gc.function([x, G], dW)(*arrays)
        want = gc.function([x, G], dW, backend="numpy")(*arrays)
        assert got.shape == (features + bias, stop - start)
        errors[f"{features},{batch},{steps}"] = float(np.abs(got - want).max()
                                                      / (1.0 + np.abs(want).max()))
    return errors


def largest_bias_row_errors() -> dict:
    return largest_errors(bias=True)


@pytest.mark.parametrize("threads", [1, 2])
def test_input_kernel_gradient_matches_the_interpreter(threads):
    errors = result_with_threads(__name__, "largest_errors", threads)
    assert len(errors) == len(SIZES)
    assert all(error < 1e-5 for error in errors.values()), errors


@pytest.mark.parametrize("threads", [1, 2])
def test_the_bias_row_matches_the_interpreter(threads):
    """recurrent_input_kernel_grad(bias=True): the bias gradient summed while each chunk of G's
    rows is in cache, in row order on every thread count."""
    errors = result_with_threads(__name__, "largest_bias_row_errors", threads)
    assert len(errors) == len(SIZES)
    assert all(error < 1e-5 for error in errors.values()), errors


def recurrence_cost(cell, x, W, b, mask, rng):
    """A scalar of the whole sequence of `cell` with input kernel W and bias b."""
    units = 3
    gates = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    U = gc.constant((rng.standard_normal((units, gates * units)) * 0.5).astype(x.dtype))
    if cell == "rnn":
        seq = gc.simple_rnn(x, W, U, b, mask=mask)[0]
    else:
        seq = (gc.lstm if cell == "lstm" else gc.gru)(x, W, U, b, mask=mask)[0]
    return gc.sum(seq * gc.constant(rng.standard_normal(seq.shape[1:]).astype(x.dtype)))


def weight_shapes(cell):
    gates = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    return (2, gates * 3), ((2, 9) if cell == "gru" else (gates * 3,))


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_the_rule_reads_the_bptt_output_in_place(cell):
    rng = np.random.default_rng(3)
    x = gc.placeholder((None, 5, 2), "float32")
    W, b = (gc.shared(rng.standard_normal(s).astype("float32")) for s in weight_shapes(cell))
    grads = gc.grad(recurrence_cost(cell, x, W, b, None, rng), [W, b])
    f = gc.function([x], grads)
    ops = [n.op for n in f.graph("expanded").nodes()]
    assert ops.count("recurrent_input_kernel_grad") == (2 if cell == "gru" else 1)
    assert not [n for n in f.graph("expanded").nodes()
                if n.op == "matmul" and n.attr("transpose_a")]
    assert not [n for n in f.graph("expanded").nodes() if n.op == "reshape"
                and n.inputs[0].op == "getitem" and n.inputs[0].inputs[0].op.endswith("_grad")]
    arrays = [rng.standard_normal((4, 5, 2)).astype("float32")]
    reference = gc.function([x], grads, backend="numpy")
    for got, expected in zip(f(*arrays), reference(*arrays)):
        assert np.abs(got - expected).max() < 1e-5 * (1 + np.abs(expected).max())


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("masked", [False, True])
def test_input_weight_gradients_match_finite_differences(cell, masked):
    steps, batch = 4, 3
    rng = np.random.default_rng(5)
    x = gc.placeholder((None, steps, 2), "float64")
    W, b = (gc.placeholder(s, "float64") for s in weight_shapes(cell))
    mask = gc.placeholder((None, steps), "bool") if masked else None
    cost = recurrence_cost(cell, x, W, b, mask, rng)
    inputs = [x, W, b] + ([mask] if masked else [])
    arrays = [rng.standard_normal((batch, steps, 2)), *(rng.standard_normal(s) * 0.5
                                                       for s in weight_shapes(cell))]
    if masked:
        keep = rng.random((batch, steps)) > 0.3
        keep[0] = False
        arrays.append(keep)
    analytic = gc.function(inputs, gc.grad(cost, [W, b]))(*arrays)
    forward = gc.function(inputs, cost)
    for k, got in zip((1, 2), analytic):
        numeric = numeric_gradient(lambda vals: float(forward(*vals)), arrays, k)
        assert relative_error(got, numeric) < 1e-6, f"{cell} input {k}"


def test_the_rules_leave_other_slices_alone():
    E = ("slice", None, None, None)
    G = gc.placeholder((2, 3, 8), "float32")  # not a BPTT op's output
    dP = gc.reshape(gc.ops.call("getitem", G, index=(E, E, ("slice", 0, 4, None))), (-1, 4))
    x = gc.placeholder((6, 5), "float32")
    assert input_kernel_grad_in_place(gc.matmul(x, dP, transpose_a=True)) is None
    assert bias_grad_in_place(gc.sum(dP, axis=0)) is None
    assert bias_grad_in_place(gc.sum(dP, axis=1)) is None  # an int axis
    for rule in IN_PLACE.rules:  # each states its identity in one line
        assert "->" in rule.rewrite.__doc__ and "\n" not in rule.rewrite.__doc__.strip()


def test_a_reshape_that_is_not_a_row_per_step_is_left_alone():
    """P = reshape(x @ W + c, (-1, T, u)) feeds the recurrence: dW's and dc's reshape of the
    BPTT output is (batch, T * u), not (batch * T, u), so neither rule may fire."""
    steps, units, features = 3, 2, 4
    rng = np.random.default_rng(0)
    x = gc.placeholder((None, features), "float32")
    W = gc.shared(rng.standard_normal((features, steps * units)).astype("float32"))
    c = gc.shared(rng.standard_normal(steps * units).astype("float32"))
    P = gc.reshape(x @ W + c, (-1, steps, units))
    first = make_node("getitem", [P], {"index": (("slice", None, None, None), ("int", 0),
                                                 ("slice", 0, units, None))})
    h0 = make_node("broadcast_like", [gc.constant(np.zeros((1, units), "float32")), first])
    U = gc.constant((0.3 * rng.standard_normal((units, units))).astype("float32"))
    Y = make_node("simple_rnn_seq", [P, h0, U], {"activation": "tanh"})
    loss = gc.sum(Y * gc.constant(rng.standard_normal((1, steps, units)).astype("float32")))
    grads = gc.grad(loss, [W, c])
    xv = rng.standard_normal((5, features)).astype("float32")
    want = gc.function([x], grads, backend="numpy")(xv)
    for got, expected in zip(gc.function([x], grads)(xv), want):
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cell, fused", [("rnn", True), ("lstm", True), ("gru", False)])
def test_the_bias_sum_joins_the_input_kernel_gradient(cell, fused):
    """SimpleRNN's and LSTM's bias gradient is the fused kernel's last row; GRU's input bias
    reads two slices (a concatenation), so its sums stay separate."""
    rng = np.random.default_rng(4)
    gates = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    x = gc.placeholder((None, 5, 2), "float32")
    W = gc.shared(rng.standard_normal((2, gates * 3)).astype("float32"))
    U = gc.constant(rng.standard_normal((3, gates * 3)).astype("float32") * 0.5)
    b = gc.shared(rng.standard_normal((2, 9) if cell == "gru" else gates * 3).astype("float32"))
    run = {"rnn": gc.simple_rnn, "lstm": gc.lstm, "gru": gc.gru}[cell]
    loss = gc.sum(run(x, W, U, b)[0] ** 2)
    f = gc.function([x], gc.grad(loss, [W, b]))
    kernels = [n for n in f.graph("expanded").nodes() if n.op == "recurrent_input_kernel_grad"]
    assert [bool(n.attr("bias")) for n in kernels] == ([True] if fused else [False, False])
    xv = rng.standard_normal((4, 5, 2)).astype("float32")
    for got, want in zip(f(xv), gc.function([x], gc.grad(loss, [W, b]), backend="numpy")(xv)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * (1 + np.abs(want).max()))
