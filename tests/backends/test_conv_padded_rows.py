"""Padded unit-stride convolutions' weight gradient on the implicit GEMM (conv_padded_rows.py:
each block's x rows copied into a zero-padded stack buffer) against the NumPy interpreter:
'same' padding with odd and even kernels (uneven padding), causal 1-D, row dilation, channel
counts around the vector blocks (1, 7, 33, 257), batches of 1, 7 and 33, the bias gradient
and a first layer's ReLU mask fused, inf and NaN inputs, one and two threads, finite
differences; and that blocks over the stack budget take the column route."""

import numpy as np
import pytest

import graphc as gc
from graphc.backends.llvm import conv_blocking, conv_implicit
from graphc.backends.llvm.conv_gemm import conv_geometry

from .test_conv_bias_grad import assert_finite_difference, fused_ops
from .test_conv_bias_grad import check as check_bias
from .test_conv_direct import run_on_threads
from .test_emit_conv import check


@pytest.fixture(autouse=True)
def fresh_code(monkeypatch):
    monkeypatch.setenv("GRAPHC_CACHE", "0")


@pytest.fixture
def padded_blocks(monkeypatch):
    """The number of pad_rows calls emitted (one per padded weight-gradient kernel)."""
    calls = []
    real = conv_implicit.pad_rows

    def counted(*args):
        calls.append(args[1])
        return real(*args)

    monkeypatch.setattr(conv_implicit, "pad_rows", counted)
    return calls


def geometry(x_shape, k_shape, **kw):
    node = gc.conv2d(gc.placeholder((None, *x_shape)), gc.placeholder(k_shape), **kw)
    return conv_geometry(node, node.inputs[0].shape, k_shape)


@pytest.mark.parametrize("cout", [1, 7, 33, 257])
def test_output_channels(cout, padded_blocks):
    check(2, (3, 6, 7, 2), (3, 3, 2, cout), "float32", batches=[3, 1], padding="same")
    assert len(padded_blocks) == 1


@pytest.mark.parametrize("cin", [1, 7, 33])
def test_input_channels_and_even_kernels(cin, padded_blocks):
    check(2, (2, 7, 6, cin), (4, 4, cin, 5), "float64", padding="same")  # pads 1|2 (K >= 16)
    assert len(padded_blocks) == 1


@pytest.mark.parametrize("batch", [1, 7, 33])
def test_batches(batch):
    check(2, (batch, 9, 8, 3), (3, 3, 3, 4), "float64", padding="same")


def test_row_dilation_causal_and_long_rows(padded_blocks):
    check(2, (2, 11, 9, 2), (3, 3, 2, 5), "float64", padding="same", dilation_rate=(2, 1))
    check(1, (3, 17, 4), (5, 4, 6), "float64", padding="causal")
    check(1, (2, 300, 6), (3, 6, 7), "float32", padding="same")
    check(2, (2, 4, 131, 2), (3, 3, 2, 4), "float64", padding="same")  # a row over a block
    check(2, (2, 5, 6, 3), (2, 4, 3, 4), "float64", padding="same")  # pads 0|1 and 1|2
    assert len(padded_blocks) == 5


def test_blocks_over_the_stack_budget_take_the_column_route(monkeypatch, padded_blocks):
    monkeypatch.setattr(conv_blocking, "BLOCK_BYTES", 1024)
    check(2, (2, 6, 7, 8), (3, 3, 8, 4), "float64", padding="same")
    assert padded_blocks == []
    g = geometry((6, 7, 8), (3, 3, 8, 4), padding="same")
    assert not conv_blocking.weight_grad_applies(g, 4, "float64")


@pytest.mark.parametrize("padding", ["same", "valid"])
def test_dy_rows_over_the_stack_budget_take_the_column_route(monkeypatch, padding):
    """One row of dy (7 pixels x 64 channels x 8 bytes) is over the budget while x's rows fit:
    no block of rows fits the stack (a long 1-D sequence overflowed it: a segfault)."""
    monkeypatch.setattr(conv_blocking, "BLOCK_BYTES", 2048)
    g = geometry((6, 7, 2), (3, 3, 2, 64), padding=padding)
    assert conv_blocking.weight_grad_rows(g, 64, "float64") == 0
    assert not conv_blocking.weight_grad_applies(g, 64, "float64")
    check(2, (2, 6, 7, 2), (3, 3, 2, 64), "float64", padding=padding)


def test_which_geometries_run_padded():
    assert conv_blocking.weight_grad_applies(geometry((9, 9, 4), (3, 3, 4, 2),
                                                      padding="same"), 2, "float32")
    assert not conv_blocking.is_padded(geometry((9, 9, 4), (3, 3, 4, 2)))
    for kw in (dict(strides=2), dict(dilation_rate=(1, 2))):
        g = geometry((9, 9, 4), (3, 3, 4, 2), padding="same", **kw)
        assert not conv_blocking.weight_grad_applies(g, 2, "float32")


@pytest.mark.parametrize("cout", [7, 33])
def test_bias_gradient_and_relu_mask_fused(cout):
    check_bias((9, 8, 3), (3, 3, 3, cout), padding="same")
    check_bias((9, 8, 3), (3, 3, 3, cout), "float64", padding="same", input_grad=False)
    check_bias((13, 5), (3, 5, cout), padding="causal", batches=(7,))


@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_non_finite_inputs_are_the_interpreters(bad):
    x = np.random.default_rng(4).standard_normal((3, 7, 6, 3))
    x[1, 2, 5, 1] = bad
    x[2, 0, 0, 0] = bad  # a pixel beside the padding
    rng = np.random.default_rng(5)
    x_in, w_in = gc.placeholder((None, 7, 6, 3), "float64"), gc.placeholder((3, 3, 3, 4),
                                                                             "float64")
    y = gc.conv2d(x_in, w_in, padding="same")
    grad = gc.grad(gc.sum(y * gc.constant(rng.standard_normal((3, 7, 6, 4)))), w_in)
    w = rng.standard_normal((3, 3, 3, 4))
    got, want = (gc.function([x_in, w_in], grad, backend=k)(x, w) for k in ("llvm", "numpy"))
    assert np.isfinite(want).any()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-11)


def test_weight_and_bias_gradients_against_finite_differences():
    rng = np.random.default_rng(9)
    x = gc.placeholder((None, 6, 7, 2), "float64", name="x")
    w = gc.shared(rng.standard_normal((3, 2, 2, 3)), name="w")
    b = gc.shared(rng.standard_normal(3), name="b")
    r = rng.standard_normal((2, 6, 7, 3))
    loss = gc.sum(gc.tanh(gc.conv2d(x, w, padding="same") + b) * r)
    f = gc.function([x], [loss, *gc.grad(loss, [w, b])])
    assert "conv2d_weight_bias_grad" in fused_ops(f)
    xv = rng.standard_normal((2, 6, 7, 2))
    _, dw, db = f(xv)
    for var, grad in ((w, dw), (b, db)):
        for index in np.ndindex(grad.shape):
            assert_finite_difference(lambda: f(xv)[0], var, grad, index)


THREADS_CODE = """
from tests.backends.test_emit_conv import check
from tests.backends.test_conv_bias_grad import check as check_bias
check(2, (33, 7, 9, 3), (3, 3, 3, 33), "float32", batches=[1, 7, 33], padding="same")
check(2, (7, 6, 257, 2), (3, 3, 2, 7), "float64", batches=[7], padding="same")
check(1, (7, 33, 257), (3, 257, 7), "float32", batches=[7], padding="causal")
check_bias((9, 8, 3), (3, 3, 3, 33), batches=(1, 7, 33), padding="same")
check_bias((9, 8, 3), (3, 3, 3, 7), "float64", batches=(7,), padding="same", input_grad=False)
"""


@pytest.mark.parametrize("threads", ["1", "2"])
def test_one_and_two_threads(threads):
    run_on_threads(THREADS_CODE, threads)
