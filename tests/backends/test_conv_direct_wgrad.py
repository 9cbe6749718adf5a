"""The register-tiled direct weight gradient (conv_direct_wgrad.py: windows inside the image,
at least a machine vector of output channels) against the NumPy interpreter and finite
differences: row widths 1, 7, 33, batches 1, 7, 33 (around the image groups), strides and
dilation, the fused bias row and ReLU mask, an inf that no window reads, one and two threads
(test_conv_direct_wide.py runs 16, 33 and 257 output channels through every gradient)."""

import numpy as np
import pytest

import graphc as gc
from graphc.backends.llvm import emit_conv_grad

from .test_conv_bias_grad import check as check_bias
from .test_conv_bias_grad import check_finite_differences
from .test_conv_direct import run_on_threads
from .test_emit_conv import check


@pytest.fixture(autouse=True)
def fresh_code(monkeypatch):
    monkeypatch.setenv("GRAPHC_CACHE", "0")


@pytest.mark.parametrize("width", [1, 7, 33])
def test_rows_of_any_width(width):
    check(2, (2, 4, width + 2, 6), (3, 3, 6, 9), "float64")


def test_batches_around_the_image_groups():
    check(2, (1, 5, 6, 7), (2, 3, 7, 16), "float32", batches=[1, 7, 33])


def test_strides_dilation_and_one_dimensional():
    check(2, (2, 11, 10, 7), (2, 3, 7, 8), "float64", strides=(2, 1), dilation_rate=(1, 2))
    check(1, (3, 17, 6), (5, 6, 16), "float32", strides=2)


@pytest.mark.parametrize("input_grad", [True, False])  # False: the ReLU-masked op
def test_fused_bias_row_and_relu_mask(input_grad):
    check_bias((7, 9, 6), (3, 3, 6, 33), batches=(1, 7), input_grad=input_grad)
    check_bias((13, 6), (3, 6, 16), "float64", batches=(5,), input_grad=input_grad)


def test_the_kernel_runs_where_it_applies(monkeypatch):
    calls = []
    real = emit_conv_grad.emit_conv_weight_grad_wide

    def counting(kb, node):
        calls.append((node.op, node.shape[-1]))
        return real(kb, node)

    monkeypatch.setattr(emit_conv_grad, "emit_conv_weight_grad_wide", counting)
    check(2, (2, 6, 6, 5), (3, 3, 5, 8), "float64")  # 8 float64 lanes: a whole vector
    check(2, (2, 6, 6, 5), (3, 3, 5, 7), "float64")  # fewer: the implicit GEMM
    check(2, (2, 6, 6, 5), (3, 3, 5, 8), "float64", padding="same")  # padded: not here
    assert calls == [("conv2d_weight_grad", 8)]


def test_an_inf_no_window_reads_stays_out_of_the_gradient(monkeypatch):
    calls = []
    real = emit_conv_grad.emit_conv_weight_grad_wide
    monkeypatch.setattr(emit_conv_grad, "emit_conv_weight_grad_wide",
                        lambda kb, node: calls.append(node.op) or real(kb, node))
    x = gc.placeholder((None, 8, 8, 5), "float64", name="x")
    w = gc.placeholder((3, 3, 5, 8), "float64", name="w")
    loss = gc.sum(gc.conv2d(x, w, strides=2))  # windows over rows/columns 0..6: 7 unread
    llvm = gc.function([x, w], gc.grad(loss, [w]))
    numpy = gc.function([x, w], gc.grad(loss, [w]), backend="numpy")
    rng = np.random.default_rng(1)
    xv, wv = rng.standard_normal((2, 8, 8, 5)), rng.standard_normal((3, 3, 5, 8))
    xv[:, 7, 7, :] = np.inf  # read by no window
    xv[:, 1, 1, :] = np.inf  # read: inf in the taps that read it, NaN nowhere
    got = llvm(xv, wv)[0]
    np.testing.assert_array_equal(got, numpy(xv, wv)[0])
    assert not np.isnan(got).any() and np.isinf(got).any()
    assert calls == ["conv2d_weight_grad"]


def test_gradients_match_finite_differences():
    check_finite_differences((6, 7, 5), (3, 3, 5, 8), [("b", (7,)), ("w", (2, 1, 4, 7)),
                                                       ("w", (0, 0, 0, 0))])


THREADS_CODE = """
from tests.backends.test_emit_conv import check
from tests.backends.test_conv_bias_grad import check as check_bias
check(2, (3, 7, 9, 5), (3, 3, 5, 33), "float32", batches=[1, 7, 33])
check_bias((7, 9, 6), (3, 3, 6, 16), batches=(1, 7, 33), input_grad=False)
check_bias((7, 9, 6), (3, 3, 6, 16), "float64", batches=(7,))
"""


@pytest.mark.parametrize("threads", ["1", "2"])
def test_one_and_two_threads(threads):
    run_on_threads(THREADS_CODE, threads)
