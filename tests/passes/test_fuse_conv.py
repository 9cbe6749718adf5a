"""A forward convolution, its per-channel bias add and its activation fuse into one 'dense'
kernel (bias and activation in the GEMM's epilogue, or the direct loop's), and the compiled
result matches the NumPy interpreter in value and gradient."""

import numpy as np
import pytest

import graphc as gc
from passes.fuse import kernel_nodes

TOL = {"float64": dict(rtol=1e-11, atol=1e-11), "float32": dict(rtol=2e-4, atol=2e-5)}
ACT = {"relu": gc.relu, "sigmoid": gc.sigmoid, "tanh": gc.tanh, "linear": lambda y: y}


@pytest.fixture(autouse=True)
def fresh_code(monkeypatch):
    """Compile afresh: the program cache is keyed by the graph, not by the emitters' code."""
    monkeypatch.setenv("GRAPHC_CACHE", "0")


def conv_layer(rank, x_shape, k_shape, dtype, activation, **conv_args):
    """(inputs, y = act(conv(x, w) + b), r): a layer whose output is weighted by r."""
    x = gc.placeholder((None, *x_shape[1:]), dtype, name="x")
    w = gc.placeholder(k_shape, dtype, name="w")
    b = gc.placeholder(k_shape[-1:], dtype, name="b")
    y = ACT[activation]((gc.conv1d if rank == 1 else gc.conv2d)(x, w, **conv_args) + b)
    r = gc.placeholder((None, *y.shape[1:]), dtype, name="r")
    return [x, w, b, r], y


def dense_kernels(f):
    return [k.attr("ops") for k in kernel_nodes(f.graph("fused")) if k.attr("kind") == "dense"]


def check(rank, x_shape, k_shape, dtype, activation, **conv_args):
    ins, y = conv_layer(rank, x_shape, k_shape, dtype, activation, **conv_args)
    x, w, b, r = ins
    outputs = [y, *gc.grad(gc.sum(y * r), [x, w, b])]
    llvm, numpy = gc.function(ins, outputs), gc.function(ins, outputs, backend="numpy")
    conv = f"conv{rank}d"
    fused = (conv, "add") + ((activation,) if activation != "linear" else ())
    assert fused in dense_kernels(llvm)
    rng = np.random.default_rng(rank)
    args = [
        rng.standard_normal(s).astype(dtype)
        for s in (x_shape, k_shape, k_shape[-1:], (x_shape[0], *y.shape[1:]))
    ]
    for got, want in zip(llvm(*args), numpy(*args)):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, **TOL[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_conv2d_bias_relu_is_one_kernel_and_matches_the_interpreter(dtype):
    ins, y = conv_layer(2, (3, 7, 6, 4), (3, 3, 4, 5), dtype, "relu", padding="same")
    f = gc.function(ins[:3], [y])
    assert [k.ops for k in f.kernels] == [("conv2d", "add", "relu")]
    assert dense_kernels(f) == [("conv2d", "add", "relu")]
    check(2, (3, 7, 6, 4), (3, 3, 4, 5), dtype, "relu", padding="same")  # GEMM epilogue


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "linear"])
def test_direct_loop_applies_bias_and_activation(dtype, activation):
    check(2, (2, 6, 5, 1), (3, 3, 1, 4), dtype, activation)  # 3 x 3 x 1 < DIRECT_BELOW


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_conv1d_gemm_epilogue(activation):
    check(1, (3, 9, 6), (3, 6, 7), "float64", activation, strides=(2,), padding="same")


def test_a_pre_activation_read_elsewhere_is_not_fused():
    ins, y = conv_layer(2, (2, 5, 5, 4), (3, 3, 4, 3), "float64", "linear")
    pre = y  # conv + b, also an output of its own below
    f = gc.function(ins[:3], [gc.relu(pre), pre * 2])
    assert ("conv2d", "add", "relu") not in dense_kernels(f)
    x = np.random.default_rng(0).standard_normal((2, 5, 5, 4))
    w = np.random.default_rng(1).standard_normal((3, 3, 4, 3))
    b = np.arange(3.0)
    want = gc.function(ins[:3], [gc.relu(pre), pre * 2], backend="numpy")(x, w, b)
    for got, exp in zip(f(x, w, b), want):
        np.testing.assert_allclose(got, exp, **TOL["float64"])
