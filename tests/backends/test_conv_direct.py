"""The register-blocked direct convolution and its weight gradient (conv_direct.py,
conv_direct_grad.py: receptive fields under emit_conv.DIRECT_BELOW, static geometry; `check`
computes the forward and both gradients) against the NumPy interpreter: output channel counts
around the vector blocks (1, 7, 33, 257), row widths around the pixel block, padding, strides,
dilation, bias and activation epilogues, one and two threads."""

import os
import subprocess
import sys

import numpy as np
import pytest

import graphc as gc
from graphc.backends.llvm import emit_conv, emit_conv_grad

from .test_emit_conv import TOL, check

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(autouse=True)
def fresh_code(monkeypatch):
    monkeypatch.setenv("GRAPHC_CACHE", "0")


@pytest.mark.parametrize("cout", [1, 7, 33, 257])
def test_output_channels_in_and_past_the_vector_blocks(cout):
    check(2, (3, 7, 9, 1), (3, 3, 1, cout), "float32", batches=[3, 1])


@pytest.mark.parametrize("width", [1, 4, 7, 33])
def test_rows_of_any_width_and_padding(width):
    check(2, (2, 5, width, 1), (3, 3, 1, 5), "float64", padding="same")


def test_strides_dilation_and_two_channels():
    check(2, (2, 11, 10, 2), (2, 3, 2, 9), "float64", strides=(2, 1), dilation_rate=(1, 2))
    check(1, (3, 17, 1), (5, 1, 6), "float64", padding="causal")


def first_layer(dtype, activation):
    x = gc.placeholder((None, 13, 11, 1), dtype, name="x")
    rng = np.random.default_rng(4)
    w = gc.constant(rng.standard_normal((3, 3, 1, 20)).astype(dtype))
    b = gc.constant(rng.standard_normal(20).astype(dtype))
    y = getattr(gc, activation)(gc.conv2d(x, w, padding="same") + b)
    return x, y


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bias_and_activation_epilogue(dtype, activation):
    x, y = first_layer(dtype, activation)
    llvm, numpy = gc.function([x], y), gc.function([x], y, backend="numpy")
    v = np.random.default_rng(5).standard_normal((7, 13, 11, 1)).astype(dtype)
    np.testing.assert_allclose(llvm(v), numpy(v), **TOL[dtype])


def test_the_blocked_kernels_are_the_ones_that_run(monkeypatch):
    calls = []

    def counting(module, name):
        real = getattr(module, name)

        def count(*args):
            calls.append(args[1].op)
            return real(*args)

        monkeypatch.setattr(module, name, count)

    counting(emit_conv, "emit_conv_direct_blocked")
    counting(emit_conv_grad, "emit_conv_weight_grad_blocked")
    check(2, (2, 6, 6, 1), (3, 3, 1, 4), "float64")
    assert "conv2d" in calls and "conv2d_weight_grad" in calls


THREADS_CODE = """
import numpy as np, graphc as gc
from tests.backends.test_conv_direct import first_layer
x, y = first_layer("float32", "relu")
llvm, numpy = gc.function([x], y), gc.function([x], y, backend="numpy")
for batch in (1, 7, 33):
    v = np.random.default_rng(batch).standard_normal((batch, 13, 11, 1)).astype("float32")
    np.testing.assert_allclose(llvm(v), numpy(v), rtol=2e-4, atol=2e-5)
from tests.backends.test_emit_conv import check  # forward and both gradients
check(2, (3, 7, 9, 1), (3, 3, 1, 33), "float32", batches=[1, 7, 33])
check(2, (3, 5, 7, 1), (3, 3, 1, 7), "float64", batches=[2], padding="same")
"""


def run_on_threads(code: str, threads: str):
    """Run `code` in a fresh interpreter with GRAPHC_NUM_THREADS=threads; it must succeed."""
    env = dict(os.environ, GRAPHC_NUM_THREADS=threads, GRAPHC_CACHE="0", PYTHONPATH=ROOT)
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, timeout=180,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.parametrize("threads", ["1", "2"])
def test_one_and_two_threads(threads):
    run_on_threads(THREADS_CODE, threads)
