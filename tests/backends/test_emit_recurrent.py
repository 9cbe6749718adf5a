"""Compiled recurrences (GEMM per step, rnn_cells.py) against the NumPy interpreter, through
the layers' own graphs: forward values and every weight's gradient, vector and scalar unit
loops, small and large batches; and generated code that does not grow with the sequence."""

import numpy as np
import pytest

import graphc as gc
from graphc.backends.llvm.emit import generate


@pytest.fixture(autouse=True)
def fresh_code(monkeypatch):
    """Compile afresh: the program cache is keyed by the graph, not by the emitters' code."""
    monkeypatch.setenv("GRAPHC_CACHE", "0")


TOL = {"float64": dict(rtol=1e-11, atol=1e-12), "float32": dict(rtol=2e-4, atol=2e-5)}


def build(cell, steps, units, dtype, features=3):
    rng = np.random.default_rng(5)
    gates = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    x = gc.placeholder((None, steps, features), dtype, name="x")
    W = gc.shared(rng.standard_normal((features, gates * units)).astype(dtype) * 0.5)
    U = gc.shared(rng.standard_normal((units, gates * units)).astype(dtype) * 0.5)
    if cell == "rnn":
        b = gc.shared(rng.standard_normal(units).astype(dtype))
        seq, last = gc.simple_rnn(gc.reverse_time(x), W, U, b, activation="tanh")
    elif cell == "lstm":
        b = gc.shared(rng.standard_normal(4 * units).astype(dtype))
        seq, last, _ = gc.lstm(x, W, U, b)
    else:
        b = gc.shared(rng.standard_normal((2, 3 * units)).astype(dtype))
        seq, last = gc.gru(x, W, U, b)
    loss = gc.sum(seq * seq) + gc.sum(last)
    return x, [seq, *gc.grad(loss, [x, W, U, b])]


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("dtype,units", [("float64", 11), ("float32", 19)])
def test_recurrence_and_gradients_match_the_interpreter(cell, dtype, units):
    x, outputs = build(cell, 6, units, dtype)
    llvm, numpy = gc.function([x], outputs), gc.function([x], outputs, backend="numpy")
    for batch in (5, 1):
        xv = np.random.default_rng(batch).standard_normal((batch, 6, 3)).astype(dtype)
        for got, want in zip(llvm(xv), numpy(xv)):
            np.testing.assert_allclose(got, want, **TOL[dtype])


def generated_ir(steps):
    """The LLVM IR of the LSTM training step (compiled afresh: the program cache is off)."""
    x, outputs = build("lstm", steps, 16, "float32")
    return generate(gc.function([x], outputs).executable.program)[0]


def test_generated_code_does_not_grow_with_the_sequence(monkeypatch):
    """The time loop lives inside one kernel: 100 steps compile the same IR as 5 (up to the
    digits of the constants), so compile time cannot blow up with the sequence length."""
    monkeypatch.setenv("GRAPHC_CACHE", "0")
    short, long = len(generated_ir(5)), len(generated_ir(100))
    assert short > 10_000  # the whole step, with its recurrent kernels
    assert abs(long - short) < 0.01 * short, (short, long)
