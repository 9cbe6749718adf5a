"""Implicit-GEMM convolutions (conv_implicit.py: 'valid', unit strides, no column dilation; the
GEMM reads the image's overlapping rows, no column matrix) against the NumPy interpreter:
forward (plain and with its max pooling fused), both gradients, output channel counts around
the vector blocks (1, 7, 33, 257), rows longer than a block, row dilation, 1-D, batches of 1, 7
and 33, float32 and float64, one and two threads; and that these kernels are the ones that run."""

import numpy as np
import pytest

import graphc as gc
from graphc.backends.llvm import conv_blocking, conv_implicit, emit_conv, emit_conv_grad
from graphc.backends.llvm.conv_gemm import conv_geometry

from .test_conv_direct import run_on_threads
from .test_conv_pool_fusion import check as check_pooled
from .test_emit_conv import check


@pytest.fixture(autouse=True)
def fresh_code(monkeypatch):
    monkeypatch.setenv("GRAPHC_CACHE", "0")


@pytest.mark.parametrize("cout", [1, 7, 33, 257])
def test_output_channels_in_and_past_the_vector_blocks(cout):
    check(2, (3, 6, 7, 2), (3, 3, 2, cout), "float32", batches=[3, 1])


@pytest.mark.parametrize("batch", [1, 7, 33])
def test_batches(batch):
    check(2, (batch, 9, 8, 3), (3, 2, 3, 5), "float64")


def test_rows_longer_than_a_block_and_a_whole_block_row():
    check(2, (2, 4, 131, 2), (3, 3, 2, 4), "float64")  # OW = 129: a row is over a block
    check(2, (2, 5, 130, 2), (2, 3, 2, 3), "float64")  # OW = 128: one row per block
    check(2, (2, 12, 40, 2), (3, 3, 2, 3), "float32")  # three rows per block


def test_row_dilation_and_one_dimensional():
    check(2, (2, 11, 9, 2), (3, 3, 2, 5), "float64", dilation_rate=(2, 1))
    check(1, (3, 17, 4), (5, 4, 6), "float64")
    check(1, (2, 300, 6), (3, 6, 7), "float32")  # 1-D: blocks along the one row


def test_weight_gradient_in_one_row_blocks(monkeypatch):
    monkeypatch.setattr(conv_blocking, "BLOCK_BYTES", 64)  # one output row per block
    check(2, (3, 7, 6, 8), (3, 3, 8, 4), "float64", batches=[3, 1])


def test_weight_gradient_of_many_rows_in_chunks():
    check(2, (2, 6, 7, 80), (3, 3, 80, 3), "float32")  # KW * C = 240 rows: two GEMMs each


def test_empty_batch():
    check(2, (1, 5, 5, 4), (3, 3, 4, 2), "float64", batches=[0])


@pytest.mark.parametrize("pool", [2, 3, (2, 1)])
@pytest.mark.parametrize("cout", [7, 33])
def test_pooled(pool, cout):
    check_pooled((11, 13, 4), (3, 3, 4, cout), pool)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", None])
@pytest.mark.parametrize("bias", [True, False])
def test_pooled_epilogues(activation, bias):
    check_pooled((9, 8, 3), (2, 3, 3, 7), 2, "float64", activation=activation, bias=bias)


def test_pooled_one_dimensional_and_long_rows():
    check_pooled((40, 6), (3, 6, 5), 2)
    check_pooled((6, 70, 3), (3, 3, 3, 4), 2)  # two conv rows of a pooled row span 138 rows


def test_which_geometries_run_implicitly():
    def geometry(x_shape, k_shape, **kw):
        node = gc.conv2d(gc.placeholder((None, *x_shape)), gc.placeholder(k_shape), **kw)
        return conv_geometry(node, node.inputs[0].shape, k_shape)

    assert conv_implicit.implicit_applies(geometry((9, 9, 4), (3, 3, 4, 2)))
    assert conv_implicit.implicit_applies(geometry((9, 9, 4), (3, 3, 4, 2), dilation_rate=(2, 1)))
    for kw in (dict(padding="same"), dict(strides=2), dict(dilation_rate=(1, 2))):
        assert not conv_implicit.implicit_applies(geometry((9, 9, 4), (3, 3, 4, 2), **kw))
    assert not conv_implicit.implicit_applies(geometry((9, 9, 4), (1, 1, 4, 2)))  # plain GEMM


def test_the_implicit_kernels_are_the_ones_that_run(monkeypatch):
    calls = []

    def counting(module, name):
        real = getattr(module, name)

        def count(*args):
            calls.append(name)
            return real(*args)

        monkeypatch.setattr(module, name, count)

    counting(emit_conv, "emit_conv_implicit")
    counting(emit_conv_grad, "emit_weight_grad_implicit")
    counting(emit_conv_grad, "define_col2im_runs_block")
    check(2, (2, 6, 6, 3), (3, 3, 3, 4), "float64")
    assert set(calls) == {"emit_conv_implicit", "emit_weight_grad_implicit",
                          "define_col2im_runs_block"}


THREADS_CODE = """
from tests.backends.test_emit_conv import check
from tests.backends.test_conv_pool_fusion import check as check_pooled
check(2, (33, 7, 9, 3), (3, 3, 3, 33), "float32", batches=[1, 7, 33])
check(2, (7, 6, 257, 2), (3, 3, 2, 7), "float64", batches=[7])
check_pooled((11, 13, 4), (3, 3, 4, 7), 2, batches=(1, 7, 33))
check(2, (7, 9, 8, 20), (3, 3, 20, 7), "float32", batches=[1, 7], padding="same")
from tests.backends.test_conv_implicit import (
    test_weight_gradient_of_non_finite_inputs_is_the_interpreters as non_finite)
non_finite(float("inf"), "float32")
"""


@pytest.mark.parametrize("threads", ["1", "2"])
def test_one_and_two_threads(threads):
    run_on_threads(THREADS_CODE, threads)


def test_gradients_match_finite_differences():
    """d(sum(relu(conv(x, w) + b) * r)) by the compiled step against central differences."""
    rng = np.random.default_rng(3)
    x = gc.placeholder((None, 6, 7, 3), "float64", name="x")
    w = gc.shared(rng.standard_normal((3, 3, 3, 4)), name="w")
    r = rng.standard_normal((2, 4, 5, 4))
    loss = gc.sum(gc.relu(gc.conv2d(x, w)) * r)
    f = gc.function([x], [loss, *gc.grad(loss, [x, w])])
    xv = rng.standard_normal((2, 6, 7, 3))
    _, gx, gw = f(xv)
    step, w0 = 1e-6, w.get_value().copy()
    for index in [(0, 0, 0, 0), (1, 3, 4, 2)]:
        bump = np.zeros_like(xv)
        bump[index] = step
        numeric = (f(xv + bump)[0] - f(xv - bump)[0]) / (2 * step)
        assert abs(numeric - gx[index]) < 1e-5 * max(1.0, abs(numeric))
    for index in [(0, 0, 0, 0), (1, 2, 1, 3), (2, 2, 2, 1)]:
        bump = np.zeros_like(w0)
        bump[index] = step
        w.set_value(w0 + bump)
        plus = f(xv)[0]
        w.set_value(w0 - bump)
        minus = f(xv)[0]
        w.set_value(w0)
        assert abs((plus - minus) / (2 * step) - gw[index]) < 1e-5 * max(1.0, abs(gw[index]))


def weight_gradients(x, k_shape, dtype):
    """d(sum(conv2d(x, w) * r))/dw on both backends, r and w fixed."""
    rng = np.random.default_rng(5)
    x_in, w_in = gc.placeholder((None, *x.shape[1:]), dtype), gc.placeholder(k_shape, dtype)
    y = gc.conv2d(x_in, w_in)
    r = gc.constant(rng.standard_normal((x.shape[0], *y.shape[1:])).astype(dtype))
    grad = gc.grad(gc.sum(y * r), w_in)
    w = rng.standard_normal(k_shape).astype(dtype)
    return [gc.function([x_in, w_in], grad, backend=k)(x, w) for k in ("llvm", "numpy")]


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_weight_gradient_of_non_finite_inputs_is_the_interpreters(bad, dtype):
    """x's last pixel of a row is read by the junk rows of the extended layout: its taps
    stay finite where no valid window meets it, as in the interpreter."""
    x = np.random.default_rng(4).standard_normal((3, 7, 6, 3)).astype(dtype)
    x[1, 2, 5, 1] = bad  # the last pixel of row 2: only kw = 2 taps of valid windows meet it
    got, want = weight_gradients(x, (3, 3, 3, 4), dtype)
    assert np.isfinite(want).sum() > 0
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=2e-4 if dtype == "float32" else 1e-11, atol=1e-5)
