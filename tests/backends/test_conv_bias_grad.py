"""The conv-bias gradient fused into the weight gradient (bias_grad_fusion.py, the
conv{1,2}d_weight_bias_grad kernels: the direct kernel of first layers and the implicit-GEMM
kernel sum dy as they read it; conv{1,2}d_relu_weight_bias_grad also applies the ReLU mask
there) against the NumPy interpreter and finite differences: odd
channel counts (1, 7, 33, 257), batches of 1, 7 and 33, 1-D and 2-D, geometries that fuse and
ones that do not, one and two threads."""

import numpy as np
import pytest

import graphc as gc
from graphc.ops import call
from passes.fuse import kernel_nodes

from .test_conv_direct import run_on_threads
from .test_emit_conv import TOL


@pytest.fixture(autouse=True)
def fresh_code(monkeypatch):
    monkeypatch.setenv("GRAPHC_CACHE", "0")


def conv_bias_step(x_shape, k_shape, dtype="float32", input_grad=True, **conv_args):
    """(llvm, numpy) functions x, r -> [loss, dW, db(, dx)] of sum(relu(conv(x, W) + b) * r)."""
    rank = len(k_shape) - 2
    rng = np.random.default_rng(len(x_shape) + k_shape[-1])
    x = gc.placeholder((None, *x_shape), dtype, name="x")
    w = gc.shared(rng.standard_normal(k_shape).astype(dtype), name="w")
    b = gc.shared(rng.standard_normal(k_shape[-1]).astype(dtype), name="b")
    y = gc.relu((gc.conv1d if rank == 1 else gc.conv2d)(x, w, **conv_args) + b)
    r = gc.placeholder((None, *y.shape[1:]), dtype, name="r")
    loss = gc.sum(y * r)
    outputs = [loss, *gc.grad(loss, [w, b, x] if input_grad else [w, b])]
    return (gc.function([x, r], outputs), gc.function([x, r], outputs, backend="numpy"),
            y.shape[1:])


def fused_ops(f) -> list:
    return [op for k in kernel_nodes(f.graph("fused")) for op in k.attr("ops")]


def check(x_shape, k_shape, dtype="float32", batches=(3, 1), fused=True, input_grad=True,
          **conv_args):
    """With input_grad=False nothing but the fused kernel reads the masked gradient: the
    ReLU-masked op runs (relu_weight_bias_grad)."""
    llvm, numpy, y_shape = conv_bias_step(x_shape, k_shape, dtype, input_grad, **conv_args)
    rank = len(k_shape) - 2
    op = f"conv{rank}d_{'' if input_grad else 'relu_'}weight_bias_grad"
    assert (op in fused_ops(llvm)) == fused
    for batch in batches:
        rng = np.random.default_rng(batch)
        x = rng.standard_normal((batch, *x_shape)).astype(dtype)
        r = rng.standard_normal((batch, *y_shape)).astype(dtype)
        for got, want in zip(llvm(x, r), numpy(x, r)):
            np.testing.assert_allclose(got, want, **TOL[dtype])


@pytest.mark.parametrize("cout", [1, 7, 33, 257])
def test_direct_first_layer_channels(cout):
    check((9, 8, 1), (3, 3, 1, cout))


@pytest.mark.parametrize("cout", [1, 7, 33, 257])
def test_implicit_gemm_channels(cout):
    check((7, 9, 3), (3, 3, 3, cout))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_batches_of_1_7_33(dtype):
    check((9, 10, 2), (3, 3, 2, 5), dtype, batches=(1, 7, 33))
    check((9, 10, 1), (3, 2, 1, 6), dtype, batches=(1, 7, 33), padding="same")


def test_one_dimensional():
    check((17, 4), (5, 4, 7))  # implicit
    check((17, 2), (3, 2, 9), padding="same")  # direct (K = 6)


@pytest.mark.parametrize("cout", [1, 7, 33, 257])
def test_relu_mask_applied_as_dy_is_read(cout):
    check((9, 8, 1), (3, 3, 1, cout), input_grad=False)  # direct
    check((7, 9, 3), (3, 3, 3, cout), input_grad=False)  # implicit


def test_relu_mask_batches_dtypes_and_one_dimensional():
    check((9, 10, 2), (3, 3, 2, 5), "float64", batches=(1, 7, 33), input_grad=False)
    check((17, 4), (5, 4, 7), input_grad=False, batches=(1, 7, 33))
    check((17, 2), (3, 2, 9), "float64", input_grad=False, padding="same")


def test_a_masked_gradient_read_elsewhere_is_not_fused_into_the_mask():
    x = gc.placeholder((None, 7, 9, 3), name="x")
    w = gc.shared(np.ones((3, 3, 3, 4), "float32"), name="w")
    b = gc.shared(np.zeros(4, "float32"), name="b")
    z = gc.conv2d(x, w) + b
    r = gc.placeholder((None, 5, 7, 4), name="r")
    loss = gc.sum(gc.relu(z) * r)
    f = gc.function([x, r], gc.grad(loss, [w, b, z]))  # the masked gradient is an output
    ops = fused_ops(f)
    assert "conv2d_weight_bias_grad" in ops and "conv2d_relu_weight_bias_grad" not in ops


def test_no_relu_no_mask():
    x = gc.placeholder((None, 7, 9, 3), "float64", name="x")
    w = gc.shared(np.ones((3, 3, 3, 4)), name="w")
    b = gc.shared(np.zeros(4), name="b")
    loss = gc.sum(gc.tanh(gc.conv2d(x, w) + b))
    ops = fused_ops(gc.function([x], gc.grad(loss, [w, b])))
    assert "conv2d_weight_bias_grad" in ops and "conv2d_relu_weight_bias_grad" not in ops


def test_geometries_without_a_fused_kernel_keep_the_separate_sum():
    # padding="same" fuses since the padded implicit GEMM (conv_padded_rows.py): see there
    check((9, 9, 4), (3, 3, 4, 5), padding="same", dilation_rate=(1, 2), fused=False)
    check((9, 9, 4), (3, 3, 4, 5), strides=2, fused=False)


def test_empty_batch_gives_zero_gradients():
    llvm, _, y_shape = conv_bias_step((6, 6, 3), (3, 3, 3, 4), "float64")
    _, dw, db, _ = llvm(np.zeros((0, 6, 6, 3)), np.zeros((0, *y_shape)))
    assert not dw.any() and not db.any() and db.shape == (4,)


def test_only_a_sum_over_every_axis_but_the_channels_fuses():
    x = gc.placeholder((None, 6, 6, 3), name="x")
    g = gc.placeholder((None, 4, 4, 5), name="g")
    w = call("conv2d_weight_grad", x, g, kernel_size=(3, 3), strides=(1, 1), dilation=(1, 1),
             padding=((0, 0), (0, 0)))
    partial = gc.sum(g, axis=(0, 1))
    graph = gc.function([x, g], [w, partial]).graph("expanded")
    assert not any(n.op == "conv2d_weight_bias_grad" for n in graph.nodes())
    whole = gc.function([x, g], [w, gc.sum(g, axis=(0, 1, 2))]).graph("expanded")
    assert any(n.op == "conv2d_weight_bias_grad" for n in whole.nodes())


def test_gradients_match_finite_differences():
    check_finite_differences((7, 8, 2), (3, 3, 2, 3), [("b", (0,)), ("b", (2,)),
                                                       ("w", (1, 2, 0, 1))])


def check_finite_differences(x_shape, k_shape, where):
    """dW and db of sum(tanh(conv(x, W) + b) * r), computed by conv2d_weight_bias_grad, are
    the central differences of the loss at each (variable name, index) of `where`."""
    x = gc.placeholder((None, *x_shape), "float64", name="x")
    rng = np.random.default_rng(9)
    w = gc.shared(rng.standard_normal(k_shape), name="w")
    b = gc.shared(rng.standard_normal(k_shape[-1]), name="b")
    y = gc.conv2d(x, w)
    r = rng.standard_normal((2, *y.shape[1:]))
    loss = gc.sum(gc.tanh(y + b) * r)
    f = gc.function([x], [loss, *gc.grad(loss, [w, b])])
    assert "conv2d_weight_bias_grad" in fused_ops(f)
    xv = rng.standard_normal((2, *x_shape))
    _, dw, db = f(xv)
    variables = {"w": (w, dw), "b": (b, db)}
    for name, index in where:
        assert_finite_difference(lambda: f(xv)[0], *variables[name], index)


def assert_finite_difference(loss, var, grad, index, step=1e-6):
    """grad[index] is the central difference of loss() in var[index] (a shared variable)."""
    start = var.get_value().copy()
    bump = np.zeros_like(start)
    bump[index] = step
    var.set_value(start + bump)
    plus = loss()
    var.set_value(start - bump)
    minus = loss()
    var.set_value(start)
    assert abs((plus - minus) / (2 * step) - grad[index]) < 1e-6 * max(1.0, abs(grad[index]))


THREADS_CODE = """
from tests.backends.test_conv_bias_grad import check
check((9, 8, 1), (3, 3, 1, 33), batches=(1, 7, 33))
check((7, 9, 3), (3, 3, 3, 7), "float64", batches=(1, 7, 33))
check((13, 5), (3, 5, 257), batches=(7,))
check((9, 8, 1), (3, 3, 1, 33), batches=(1, 7, 33), input_grad=False)
check((7, 9, 3), (3, 3, 3, 7), "float64", batches=(1, 7, 33), input_grad=False)
"""


@pytest.mark.parametrize("threads", ["1", "2"])
def test_one_and_two_threads(threads):
    run_on_threads(THREADS_CODE, threads)


@pytest.mark.parametrize("spatial", [(7, 6), (None, None)])
def test_the_op_on_geometries_the_rewrite_leaves_alone(spatial):
    """conv2d_weight_bias_grad itself on a padded, strided geometry (GEMM path, then a pass
    over dy for the bias row) and on run-time spatial sizes (the loop nest)."""
    x = gc.placeholder((None, *spatial, 3), "float64", name="x")
    g = gc.placeholder((None, *((4, 3) if spatial[0] else (None, None)), 5), "float64", name="g")
    out = call("conv2d_weight_bias_grad", x, g, kernel_size=(3, 3), strides=(2, 2),
               dilation=(1, 1), padding=((1, 1), (1, 1)))
    llvm, numpy = gc.function([x, g], out), gc.function([x, g], out, backend="numpy")
    for batch in (1, 7):
        rng = np.random.default_rng(batch)
        xv, gv = rng.standard_normal((batch, 7, 6, 3)), rng.standard_normal((batch, 4, 3, 5))
        np.testing.assert_allclose(llvm(xv, gv), numpy(xv, gv), **TOL["float64"])


def test_the_relu_op_outside_its_kernels_is_refused_by_name():
    x = gc.placeholder((None, 7, 6, 3), name="x")
    y, g = (gc.placeholder((None, 4, 3, 5), name=n) for n in "yg")
    out = call("conv2d_relu_weight_bias_grad", x, y, g, kernel_size=(3, 3), strides=(2, 2),
               dilation=(1, 1), padding=((1, 1), (1, 1)))
    with pytest.raises(NotImplementedError, match="conv2d_relu_weight_bias_grad.*direct"):
        gc.function([x, y, g], out)
