"""The implicit-GEMM input gradient (conv_implicit_input_grad.py: dy padded, times the flipped
kernel, no column matrix, no col2im) against the NumPy interpreter: channel counts around the
vector blocks (1, 7, 33, 257) on both sides, one dx row per block, row dilation, 1-D, batches
of 1, 7 and 33, one and two threads, against finite differences; and which geometries fall
back to the column route (a row longer than a block, buffers over the stack budget)."""

import numpy as np
import pytest

import graphc as gc
from graphc.backends.llvm import conv_implicit_input_grad, emit_conv_grad
from graphc.backends.llvm.conv_gemm import conv_geometry
from graphc.testing import numeric_gradient, relative_error

from .test_conv_direct import run_on_threads
from .test_emit_conv import check


@pytest.fixture(autouse=True)
def fresh_code(monkeypatch):
    monkeypatch.setenv("GRAPHC_CACHE", "0")


def routes(monkeypatch) -> list:
    """The input-gradient routes that get emitted, in order: 'implicit' or 'columns'."""
    taken = []
    implicit, columns = emit_conv_grad.emit_input_grad_implicit, emit_conv_grad.transposed_weights

    def counted(name, real):
        def run(*args):
            taken.append(name)
            return real(*args)
        return run

    monkeypatch.setattr(emit_conv_grad, "emit_input_grad_implicit", counted("implicit", implicit))
    monkeypatch.setattr(emit_conv_grad, "transposed_weights", counted("columns", columns))
    return taken


@pytest.mark.parametrize("cin", [1, 7, 33, 257])
def test_input_channels_in_and_past_the_vector_blocks(cin, monkeypatch):
    taken = routes(monkeypatch)
    check(2, (3, 7, 6, cin), (3, 2, cin, 5), "float32", batches=[3, 1])
    assert taken == ["implicit"]


@pytest.mark.parametrize("cout", [1, 7, 33])
def test_output_channels(cout):
    check(2, (2, 7, 9, 3), (3, 3, 3, cout), "float64")


@pytest.mark.parametrize("batch", [1, 7, 33])
def test_batches(batch):
    check(2, (batch, 9, 8, 3), (2, 3, 3, 4), "float64")


def test_one_row_per_block_and_row_dilation_and_one_dimensional(monkeypatch):
    taken = routes(monkeypatch)
    check(2, (2, 5, 70, 2), (3, 3, 2, 3), "float64")  # 72 padded pixels: one dx row a block
    check(2, (2, 11, 9, 2), (3, 3, 2, 5), "float64", dilation_rate=(2, 1))
    check(1, (3, 17, 4), (5, 4, 6), "float64")
    check(1, (2, 120, 3), (7, 3, 2), "float32")  # 1-D: the one row is 126 padded pixels
    assert taken == ["implicit"] * 4


def test_long_rows_and_big_buffers_take_the_column_route(monkeypatch):
    taken = routes(monkeypatch)
    check(2, (2, 4, 131, 2), (3, 3, 2, 4), "float64")  # a dx row is longer than a block
    monkeypatch.setattr(conv_implicit_input_grad, "BLOCK_BYTES", 256)
    check(2, (2, 6, 7, 3), (3, 3, 3, 4), "float64")
    assert taken == ["columns", "columns"]


def test_which_geometries_fit():
    node = gc.conv2d(gc.placeholder((None, 13, 13, 32)), gc.placeholder((3, 3, 32, 64)))
    g = conv_geometry(node, node.inputs[0].shape, (3, 3, 32, 64))
    assert conv_implicit_input_grad.rows_per_block(g) == 8  # 7 * 15 + 13 = 118 <= 128 rows
    assert conv_implicit_input_grad.input_grad_applies(g, 64, "float32")
    assert not conv_implicit_input_grad.input_grad_applies(g, 4096, "float32")


def test_input_gradient_against_finite_differences():
    rng = np.random.default_rng(3)
    x_in = gc.placeholder((None, 6, 5, 3), "float64")
    w_in = gc.placeholder((3, 2, 3, 4), "float64")
    y = gc.conv2d(x_in, w_in, dilation_rate=(2, 1))
    r = rng.standard_normal((2, *y.shape[1:]))
    cost = gc.sum(y * gc.constant(r))
    loss, grad_x = gc.function([x_in, w_in], cost), gc.function([x_in, w_in], gc.grad(cost, x_in))
    values = [rng.standard_normal((2, 6, 5, 3)), rng.standard_normal((3, 2, 3, 4))]
    numeric = numeric_gradient(lambda v: float(loss(*v)), values, 0)
    assert relative_error(grad_x(*values), numeric) < 1e-8


THREADS_CODE = """
from tests.backends.test_emit_conv import check
check(2, (33, 7, 9, 3), (3, 3, 3, 33), "float32", batches=[1, 7, 33])
check(2, (7, 8, 70, 7), (3, 3, 7, 5), "float64", batches=[7, 1])
check(1, (7, 33, 257), (3, 257, 7), "float32", batches=[7])
"""


@pytest.mark.parametrize("threads", ["1", "2"])
def test_one_and_two_threads(threads):
    run_on_threads(THREADS_CODE, threads)
