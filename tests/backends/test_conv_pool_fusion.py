"""Max pooling fused into the convolution that produces it (passes.fuse_groups.tiles_the_image;
conv_pool.py, conv_direct.py) against the NumPy interpreter: the direct kernel (one input
channel) and the GEMM path, pools that do and do not divide the image, 1-D and 2-D, with and
without bias and activation, odd channel counts, one and two threads; and what is not fused."""

import numpy as np
import pytest

import graphc as gc
from passes.fuse import kernel_nodes

from .test_conv_direct import run_on_threads
from .test_emit_conv import TOL


@pytest.fixture(autouse=True)
def fresh_code(monkeypatch):
    monkeypatch.setenv("GRAPHC_CACHE", "0")


def conv_pool(x_shape, k_shape, pool, dtype="float32", activation="relu", bias=True, seed=0,
              **conv_args):
    """(x placeholder, the pooled output) of max_pool(act(conv(x, k) + b))."""
    rank = len(k_shape) - 2
    rng = np.random.default_rng(seed)
    x = gc.placeholder((None, *x_shape), dtype, name="x")
    y = (gc.conv1d if rank == 1 else gc.conv2d)(
        x, gc.constant(rng.standard_normal(k_shape).astype(dtype)), **conv_args)
    if bias:
        y = y + gc.constant(rng.standard_normal(k_shape[-1]).astype(dtype))
    if activation:
        y = getattr(gc, activation)(y)
    return x, (gc.max_pool1d if rank == 1 else gc.max_pool2d)(y, pool)


def fused_ops(f) -> list:
    return [k.attr("ops") for k in kernel_nodes(f.graph("fused"))]


def check(x_shape, k_shape, pool, dtype="float32", batches=(3, 1), fused=True, **kwargs):
    x, y = conv_pool(x_shape, k_shape, pool, dtype, **kwargs)
    llvm, numpy = gc.function([x], y), gc.function([x], y, backend="numpy")
    assert any(ops[0].startswith("conv") and ops[-1].startswith("max_pool")
               for ops in fused_ops(llvm)) == fused
    for batch in batches:
        v = np.random.default_rng(batch).standard_normal((batch, *x_shape)).astype(dtype)
        np.testing.assert_allclose(llvm(v), numpy(v), **TOL[dtype])


@pytest.mark.parametrize("cout", [1, 7, 33, 257])
def test_direct_kernel_pools_in_registers(cout):
    # (a bias over one channel is not taken for a per-channel bias: nothing between to fuse)
    epilogue = {"bias": False, "activation": None} if cout == 1 else {}
    check((9, 11, 1), (3, 3, 1, cout), 2, **epilogue)


@pytest.mark.parametrize("pool", [2, 3, (2, 3), (1, 2)])
def test_direct_kernel_windows_that_do_not_divide_the_image(pool):
    check((10, 13, 1), (3, 3, 1, 5), pool, "float64", padding="same", batches=(7, 1))


@pytest.mark.parametrize("cout", [1, 7, 33])
def test_gemm_path_pools_each_row_group(cout):
    epilogue = {"bias": False, "activation": None} if cout == 1 else {}
    check((9, 11, 3), (3, 3, 3, cout), 2, **epilogue)


@pytest.mark.parametrize("pool", [3, (2, 3)])
def test_gemm_path_windows_that_do_not_divide_the_image(pool):
    check((10, 13, 4), (3, 3, 4, 6), pool, "float64", padding="same", strides=(1, 1),
          batches=(7, 1))


def test_gemm_path_rows_longer_than_a_block():
    # 2 conv rows of 80 pixels: more than the 128 rows one GEMM block holds
    check((6, 82, 16), (3, 3, 16, 8), 2, batches=(2,))


@pytest.mark.parametrize("activation,bias", [(None, False), ("sigmoid", True), (None, True),
                                             ("relu", False)])
def test_with_and_without_epilogues(activation, bias):
    check((8, 8, 2), (3, 3, 2, 17), 2, "float64", activation=activation, bias=bias)
    check((8, 8, 1), (2, 2, 1, 4), 2, "float64", activation=activation, bias=bias)


def test_one_dimensional():
    check((17, 1), (3, 1, 9), 2, "float64")
    check((17, 6), (3, 6, 9), 3, "float64")


def test_pointwise_conv_with_pooling():
    check((6, 6, 17), (1, 1, 17, 5), 2, "float64")


def test_overlapping_or_padded_pools_and_shared_results_are_not_fused():
    x, y = conv_pool((9, 9, 2), (3, 3, 2, 4), 2)  # 7 x 7: pooled 'same', the last window pads
    pre = y.inputs[0]
    overlapping = gc.max_pool2d(pre, 3, strides=1)
    padded = gc.max_pool2d(pre, 2, padding="same")
    for out in (overlapping, [y, pre], padded):
        f = gc.function([x], out)
        assert not any("max_pool2d" in ops and "conv2d" in ops for ops in fused_ops(f))


def test_training_step_gradients_still_match():
    x, y = conv_pool((8, 8, 1), (3, 3, 1, 4), 2, "float64")
    w = gc.placeholder((36, 3), "float64", name="w")
    loss = gc.sum(gc.tanh(gc.reshape(y, (-1, 36)) @ w))
    outputs = [loss, gc.grad(loss, [x, w])[0], gc.grad(loss, [w])[0]]
    llvm, numpy = gc.function([x, w], outputs), gc.function([x, w], outputs, backend="numpy")
    rng = np.random.default_rng(3)
    args = rng.standard_normal((5, 8, 8, 1)), rng.standard_normal((36, 3))
    for got, want in zip(llvm(*args), numpy(*args)):
        np.testing.assert_allclose(got, want, **TOL["float64"])


THREADS_CODE = """
import numpy as np
from tests.backends.test_conv_pool_fusion import check
check((9, 11, 1), (3, 3, 1, 33), 2, batches=(1, 7, 33))
check((9, 11, 3), (3, 3, 3, 7), 2, batches=(1, 7, 33))
"""


@pytest.mark.parametrize("threads", ["1", "2"])
def test_one_and_two_threads(threads):
    run_on_threads(THREADS_CODE, threads)


def test_an_activation_right_after_the_convolution_joins_its_kernel():
    # a zero bias constant is folded away, leaving conv -> relu -> pool: still one kernel
    x = gc.placeholder((None, 8, 8, 1), name="x")
    k = gc.constant(np.random.default_rng(0).standard_normal((3, 3, 1, 4)).astype("float32"))
    y = gc.max_pool2d(gc.relu(gc.conv2d(x, k) + gc.constant(np.zeros(4, "float32"))), 2)
    f = gc.function([x], y)
    assert ("conv2d", "relu", "max_pool2d") in fused_ops(f)
    v = np.random.default_rng(1).standard_normal((3, 8, 8, 1)).astype("float32")
    np.testing.assert_allclose(f(v), gc.function([x], y, backend="numpy")(v), **TOL["float32"])
