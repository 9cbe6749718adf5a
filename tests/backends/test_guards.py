"""GRAPHC_CHECK_BOUNDS=1 (graphc/backends/llvm/guards.py): every buffer of a compiled call
between canaries, checked after it, and before a page that faults when read or written. Run
the llvm tests with it set (`GRAPHC_CHECK_BOUNDS=1 pytest tests/backends`) to check that no
kernel reads or writes outside a buffer; here: it finds a write outside a buffer, a read
past the end of one (in a child process, which the fault stops), and guarded calls give the
normal results at run-time lengths 1, 7 and 33."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import graphc as gc
from graphc.backends.llvm import guards


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
    buf, block = ex.arena_blocks[0]
    smaller = guards.Guarded(block.end - block.start - 64, guards.label_of(buf))
    ex.arena_blocks[0] = (buf, smaller)  # as if the plan gave it 64 bytes less
    ex.args[2 + buf.slot] = smaller.address
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


READ_PAST_AN_INPUT = """
import numpy as np
import graphc as gc
x = gc.placeholder((None, 4), "float32")
f = gc.function([x], gc.exp(x) * 2.0)
ex = f.executable
ex.prepare([np.ones((5, 4), "f4")])
ex.signature = ((4, 4),)  # a wrong size plan: the kernel reads a row past the input
print("calling", flush=True)
f(np.ones((BATCH, 4), "f4"))
print("no fault", flush=True)
"""


@pytest.mark.parametrize("batch, faults", [(4, True), (5, False)])
def test_a_read_past_an_input_faults_on_its_guard_page(batch, faults):
    env = dict(os.environ, GRAPHC_CHECK_BOUNDS="1", GRAPHC_CACHE="0",
               PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    done = subprocess.run([sys.executable, "-X", "faulthandler", "-c",
                           READ_PAST_AN_INPUT.replace("BATCH", str(batch))],
                          env=env, capture_output=True, text=True, timeout=120)
    assert "calling" in done.stdout
    if faults:
        assert done.returncode == -signal.SIGSEGV, done.stderr
        assert "Segmentation fault" in done.stderr and "no fault" not in done.stdout
    else:
        assert done.returncode == 0 and "no fault" in done.stdout, done.stderr


@pytest.mark.parametrize("kind", ["shared", "constant"])
def test_guarded_calls_update_shared_variables_and_read_constants(guarded, kind):
    x = gc.placeholder((None, 3), "float64")
    w = gc.shared(np.arange(3.0))
    c = np.full(3, 2.0) if kind == "constant" else gc.shared(np.full(3, 2.0))
    f = gc.function([x], gc.sum(x * w * c), updates=[(w, w + 1.0)])
    assert f(np.ones((2, 3))) == 12.0
    np.testing.assert_array_equal(w.get_value(), [1.0, 2.0, 3.0])
    assert f(np.ones((1, 3))) == 12.0
