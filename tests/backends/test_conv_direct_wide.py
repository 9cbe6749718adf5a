"""The register-blocked direct convolution on layers with many input channels and at least a
machine vector of output channels (conv_direct.py's run-time channel loop, emit_conv.runs_direct)
against the NumPy interpreter: output channels around the vector blocks (16, 33, 257), row
widths around the 6-pixel block (1, 7, 33), batches 1, 7, 33, padding, strides, dilation,
pooling fused in registers, one and two threads. `check` also computes both gradients."""

import numpy as np
import pytest

import graphc as gc
from graphc.backends.llvm import conv_direct, emit_conv
from graphc.backends.llvm.conv_gemm import conv_geometry

from .test_conv_direct import run_on_threads
from .test_conv_pool_fusion import check as check_pooled
from .test_emit_conv import TOL, check


@pytest.fixture(autouse=True)
def fresh_code(monkeypatch):
    monkeypatch.setenv("GRAPHC_CACHE", "0")


@pytest.mark.parametrize("cout", [16, 33, 257])
def test_output_channels_in_and_past_the_vector_blocks(cout):
    check(2, (3, 6, 7, 5), (3, 3, 5, cout), "float32", batches=[3, 1])


@pytest.mark.parametrize("width", [1, 7, 33])
def test_rows_of_any_width_and_padding(width):
    check(2, (2, 4, width, 6), (3, 3, 6, 9), "float64", padding="same")


def test_strides_dilation_and_one_dimensional():
    check(2, (2, 11, 10, 7), (2, 3, 7, 8), "float64", strides=(2, 1), dilation_rate=(1, 2))
    check(1, (3, 17, 6), (5, 6, 16), "float32", padding="causal")


@pytest.mark.parametrize("pool", [2, (2, 3)])
def test_pooling_in_registers(pool):
    check_pooled((9, 13, 8), (3, 3, 8, 33), pool, batches=(7, 1))


def test_the_wide_layers_run_the_direct_kernel_and_narrow_ones_the_gemm(monkeypatch):
    calls = []
    real = emit_conv.emit_conv_direct_blocked

    def counting(kb, node, *args):
        calls.append(node.inputs[1].shape[-1])
        return real(kb, node, *args)

    monkeypatch.setattr(emit_conv, "emit_conv_direct_blocked", counting)
    check(2, (2, 6, 6, 5), (3, 3, 5, 8), "float64")  # 8 float64 lanes: a whole vector
    check(2, (2, 6, 6, 5), (3, 3, 5, 7), "float64")  # fewer: the GEMM
    assert calls == [8]


def test_valid_geometries_read_without_a_padding_mask():
    x, w = gc.placeholder((None, 13, 13, 32)), gc.placeholder((3, 3, 32, 64))
    valid, same = gc.conv2d(x, w), gc.conv2d(x, w, padding="same")
    assert conv_direct.never_outside(conv_geometry(valid, x.shape, w.shape))
    assert not conv_direct.never_outside(conv_geometry(same, x.shape, w.shape))


def test_a_first_layer_still_unrolls_its_channels():
    assert conv_direct.UNROLLED_CHANNELS >= 1  # one input channel: the unrolled path
    check(2, (3, 7, 9, 1), (3, 3, 1, 16), "float32", batches=[1, 7])


THREADS_CODE = """
from tests.backends.test_emit_conv import check
from tests.backends.test_conv_pool_fusion import check as check_pooled
check(2, (3, 7, 9, 5), (3, 3, 5, 33), "float32", batches=[1, 7, 33])
check(2, (2, 5, 7, 6), (3, 3, 6, 16), "float64", batches=[7], padding="same")
check_pooled((9, 13, 8), (3, 3, 8, 16), 2, batches=(1, 7, 33))
"""


@pytest.mark.parametrize("threads", ["1", "2"])
def test_one_and_two_threads(threads):
    run_on_threads(THREADS_CODE, threads)


def test_agrees_with_the_implicit_gemm_it_replaces():
    rng = np.random.default_rng(3)
    x = gc.placeholder((None, 13, 13, 32))
    w = gc.constant(rng.standard_normal((3, 3, 32, 64)).astype("float32"))
    y = gc.relu(gc.conv2d(x, w) + gc.constant(rng.standard_normal(64).astype("float32")))
    v = rng.standard_normal((7, 13, 13, 32)).astype("float32")
    got = gc.function([x], y)(v)
    np.testing.assert_allclose(got, gc.function([x], y, backend="numpy")(v), **TOL["float32"])
