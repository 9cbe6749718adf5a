"""GRAPHC_CHECK_BOUNDS=1 (graphc/backends/llvm/guards.py): canaries around every input,
output and arena buffer of a compiled call, checked after it. Run the llvm tests with it set
(`GRAPHC_CHECK_BOUNDS=1 pytest tests/backends`) to check that no kernel writes outside a
buffer; here: it finds a write outside a buffer, and guarded calls give the normal results
at run-time lengths 1, 7 and 33."""

import numpy as np
import pytest

import graphc as gc


@pytest.fixture
def guarded(monkeypatch):
    monkeypatch.setenv("GRAPHC_CHECK_BOUNDS", "1")
    monkeypatch.setenv("GRAPHC_CACHE", "0")


def test_a_write_past_an_output_is_found(guarded):
    x = gc.placeholder((None, 4), "float32")
    f = gc.function([x], gc.exp(x) * 2.0)
    ex = f.executable
    ex.prepare([np.ones((5, 4), "f4")])
    ex.signature = ((5, 4),)
    ex.out_shapes = [(4, 4)]  # a wrong size plan: the kernel writes a row past the output
    with pytest.raises(MemoryError, match="wrote outside the output buffer"):
        f(np.ones((5, 4), "f4"))


def test_a_write_past_an_arena_buffer_is_found(guarded):
    x = gc.placeholder((None, 64), "float32")
    h = gc.softmax(x @ np.eye(64, dtype="f4"))
    f = gc.function([x], gc.softmax(h @ np.eye(64, dtype="f4")))
    ex = f.executable
    f(np.ones((3, 64), "f4"))
    buf, offset, size = ex.arena_guards[0]
    ex.arena_guards[0] = (buf, offset, size - 64)  # as if the plan gave it one row less
    with pytest.raises(MemoryError, match=f"the {buf.kind} buffer"):
        f(np.ones((3, 64), "f4"))


@pytest.mark.parametrize("n", [1, 7, 33])
def test_guarded_calls_agree_with_the_interpreter(guarded, n):
    rng = np.random.default_rng(n)
    x = gc.placeholder((None, None, 6), "float64")
    W, U = gc.shared(rng.standard_normal((6, 20)) * 0.3), gc.shared(rng.standard_normal((5, 20)))
    seq, last, _ = gc.lstm(x, W, U)
    w = gc.shared(rng.standard_normal((3, 6, 4)))
    y = gc.max_pool1d(gc.conv1d(x, w), 2)
    loss = gc.sum(gc.tanh(y)) + gc.sum(seq * seq)
    outs = [y, seq, last[-1], gc.take(W, gc.argmax(last, axis=1), axis=1),
            *gc.grad(loss, [W, U, w])]
    f, ref = gc.function([x], outs), gc.function([x], outs, backend="numpy")
    xv = rng.standard_normal((n, n + 3, 6))
    for got, want in zip(f(xv), ref(xv)):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-10)
