"""The register-tiled direct input gradient (conv_direct_dgrad.py: windows inside the image,
at least a machine vector of input channels) against the NumPy interpreter and finite
differences: input channels around the vector blocks (16, 33, 257), row widths 1, 7, 33
(around the pixel tiles), batches 1, 7, 33, strides and dilation, one and two threads."""

import numpy as np
import pytest

import graphc as gc
from graphc.backends.llvm import emit_conv_grad

from .test_conv_bias_grad import assert_finite_difference
from .test_conv_direct import run_on_threads
from .test_emit_conv import check


@pytest.fixture(autouse=True)
def fresh_code(monkeypatch):
    monkeypatch.setenv("GRAPHC_CACHE", "0")


@pytest.mark.parametrize("cin", [16, 33, 257])
def test_input_channels_in_and_past_the_vector_blocks(cin):
    check(2, (3, 6, 7, cin), (3, 3, cin, 5), "float32", batches=[3, 1])


@pytest.mark.parametrize("width", [1, 7, 33])
def test_rows_of_any_width(width):
    check(2, (2, 4, width + 2, 8), (3, 3, 8, 9), "float64", batches=[1, 7, 33])


def test_strides_dilation_and_one_dimensional():
    check(2, (2, 11, 10, 8), (2, 3, 8, 7), "float64", strides=(2, 1), dilation_rate=(1, 2))
    check(1, (3, 17, 16), (5, 16, 6), "float32", strides=2)


def test_the_kernel_runs_where_it_applies(monkeypatch):
    calls = []
    real = emit_conv_grad.emit_conv_input_grad_wide
    monkeypatch.setattr(emit_conv_grad, "emit_conv_input_grad_wide",
                        lambda kb, node: calls.append(node.shape[-1]) or real(kb, node))
    check(2, (2, 6, 6, 8), (3, 3, 8, 5), "float64")  # 8 float64 lanes: a whole vector
    check(2, (2, 6, 6, 7), (3, 3, 7, 5), "float64")  # fewer: the GEMM and col2im
    check(2, (2, 6, 6, 8), (3, 3, 8, 5), "float64", padding="same")  # padded: not here
    assert calls == [8]


def test_gradients_match_finite_differences():
    rng = np.random.default_rng(9)
    x = gc.shared(rng.standard_normal((2, 6, 7, 8)), name="x")
    w = gc.constant(rng.standard_normal((3, 3, 8, 5)))
    r = rng.standard_normal((2, 4, 5, 5))
    loss = gc.sum(gc.tanh(gc.conv2d(x, w)) * r)
    f = gc.function([], [loss, *gc.grad(loss, [x])])
    _, dx = f()
    for index in ((0, 0, 0, 0), (1, 3, 4, 7), (0, 5, 6, 2)):
        assert_finite_difference(lambda: f()[0], x, dx, index)


THREADS_CODE = """
from tests.backends.test_emit_conv import check
check(2, (3, 7, 9, 33), (3, 3, 33, 5), "float32", batches=[1, 7, 33])
check(2, (2, 5, 7, 16), (3, 3, 16, 16), "float64", batches=[7], strides=2)
"""


@pytest.mark.parametrize("threads", ["1", "2"])
def test_one_and_two_threads(threads):
    run_on_threads(THREADS_CODE, threads)
