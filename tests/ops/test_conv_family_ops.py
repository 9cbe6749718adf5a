"""The convolution family of graphc.conv_family_api (transposed, depthwise, separable) against
direct NumPy loops written from Keras/TensorFlow's definitions, on both backends, at spatial
sizes 1, 7 and 33; errors that name the op, the shapes and the caller's line."""

import math

import numpy as np
import pytest

import graphc as gc
from graphc.conv_family_api import conv_transpose, depthwise_conv, separable_conv
from graphc.ir import ShapeError
from graphc.testing import numeric_gradient, relative_error
from tests.frontend.conftest import BACKENDS
from tests.ops.test_conv_ops import direct_conv

RNG = np.random.default_rng(12)


def keras_deconv_length(n, k, s, d, padding, output_padding):
    # keras.src.utils.conv_utils.deconv_output_length
    k = k + (k - 1) * (d - 1)
    if output_padding is None:
        return n * s + max(k - s, 0) if padding == "valid" else n * s
    pad = k // 2 if padding == "same" else 0
    return (n - 1) * s + k - 2 * pad + output_padding


def transpose_reference(x, w, strides, dilation, padding, output_padding):
    """TensorFlow's conv_transpose: scatter x[j] @ w[k]^T to j * s + k * d, then crop the
    'same' forward convolution's leading padding of the output size."""
    rank = w.ndim - 2
    extras = output_padding or (None,) * rank
    lengths = [keras_deconv_length(n, k, s, d, padding, e) for n, k, s, d, e in
               zip(x.shape[1:-1], w.shape[:rank], strides, dilation, extras)]
    full_sizes = [(n - 1) * s + d * (k - 1) + 1 + s for n, k, s, d in
                  zip(x.shape[1:-1], w.shape[:rank], strides, dilation)]
    full = np.zeros((x.shape[0], *full_sizes, w.shape[-2]))
    for j in np.ndindex(*x.shape[1:-1]):
        for k in np.ndindex(*w.shape[:rank]):
            at = tuple(ji * s + ki * d for ji, ki, s, d in zip(j, k, strides, dilation))
            full[(slice(None), *at)] += x[(slice(None), *j)] @ w[k].T
    crops = [0 if padding == "valid" else max((n - 1) * s + d * (k - 1) + 1 - L, 0) // 2
             for n, k, s, d, L in zip(x.shape[1:-1], w.shape[:rank], strides, dilation, lengths)]
    return full[(slice(None), *(slice(c, c + L) for c, L in zip(crops, lengths)))]


def same_pads(sizes, kernel, strides, dilation):
    pads = []
    for n, k, s, d in zip(sizes, kernel, strides, dilation):
        total = max((math.ceil(n / s) - 1) * s + d * (k - 1) + 1 - n, 0)
        pads.append((total // 2, total - total // 2))
    return pads


def depthwise_reference(x, w, strides, dilation, padding):
    """One input channel at a time; output channel c * multiplier + m."""
    rank = w.ndim - 2
    pads = (same_pads(x.shape[1:-1], w.shape[:rank], strides, dilation) if padding == "same"
            else [(0, 0)] * rank)
    per_channel = [direct_conv(x[..., c:c + 1], w[..., c:c + 1, :], strides, dilation, pads)
                   for c in range(x.shape[-1])]
    return np.concatenate(per_channel, axis=-1)


def run(backend, build, *arrays):
    nodes = [gc.placeholder(a.shape, "float64") for a in arrays]
    return gc.function(nodes, build(*nodes), backend=backend)(*arrays)


def normal(*shape):
    return RNG.standard_normal(shape)


# (input spatial sizes, kernel size, strides, dilation, padding, output_padding)
TRANSPOSE_2D = [
    ((1, 7), (3, 3), (2, 2), (1, 1), "same", None),
    ((7, 1), (3, 2), (2, 1), (1, 1), "valid", None),
    ((7, 7), (3, 3), (2, 2), (1, 1), "same", (1, 0)),
    ((5, 6), (2, 3), (3, 2), (1, 1), "valid", (2, 1)),
    ((6, 5), (3, 3), (1, 1), (2, 1), "same", None),
    ((4, 4), (1, 1), (2, 3), (1, 1), "valid", None),
]
TRANSPOSE_1D = [
    ((33,), (5,), (2,), (1,), "same", None),
    ((1,), (3,), (3,), (1,), "valid", None),
    ((7,), (4,), (2,), (1,), "same", (1,)),
    ((7,), (3,), (1,), (3,), "valid", None),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("geometry", TRANSPOSE_2D + TRANSPOSE_1D)
def test_conv_transpose_matches_tensorflow_definition(geometry, backend):
    sizes, kernel, strides, dilation, padding, output_padding = geometry
    x, w = normal(2, *sizes, 3), normal(*kernel, 4, 3)
    got = run(backend, lambda a, b: conv_transpose(a, b, strides, padding, output_padding,
                                                   dilation, rank=len(sizes)), x, w)
    expected = transpose_reference(x, w, strides, dilation, padding, output_padding)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("backend", BACKENDS)
def test_conv_transpose_33_by_33_float32(backend):
    x, w = normal(1, 33, 33, 2).astype("float32"), normal(3, 3, 5, 2).astype("float32")
    nodes = [gc.placeholder(x.shape), gc.placeholder(w.shape)]
    y = conv_transpose(*nodes, strides=2, padding="same")
    got = gc.function(nodes, y, backend=backend)(x, w)
    expected = transpose_reference(x.astype("float64"), w.astype("float64"), (2, 2), (1, 1),
                                   "same", None)
    assert got.shape == (1, 66, 66, 5)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("rank,sizes,padding,strides,dilation,multiplier", [
    (2, (7, 7), "same", (1, 1), (1, 1), 2),
    (2, (33, 7), "valid", (2, 3), (1, 1), 1),
    (2, (1, 7), "same", (1, 2), (1, 1), 3),
    (1, (33,), "same", (1,), (2,), 2),
    (1, (7,), "valid", (2,), (1,), 1),
])
def test_depthwise_and_separable_match_per_channel_loops(rank, sizes, padding, strides,
                                                         dilation, multiplier, backend):
    x, wd = normal(2, *sizes, 3), normal(*(3,) * rank, 3, multiplier)
    pointwise = normal(*(1,) * rank, 3 * multiplier, 4)
    depthwise = depthwise_reference(x, wd, strides, dilation, padding)
    got = run(backend, lambda a, b: depthwise_conv(a, b, strides, padding, dilation, rank),
              x, wd)
    np.testing.assert_allclose(got, depthwise, rtol=1e-10, atol=1e-10)
    got = run(backend, lambda a, b, c: separable_conv(a, b, c, strides, padding, dilation, rank),
              x, wd, pointwise)
    expected = depthwise @ pointwise.reshape(3 * multiplier, 4)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("backend", BACKENDS)
def test_run_time_spatial_sizes(backend):
    """Sizes known only when called: the kernels' direct loop nests, values and gradients."""
    x, wt, wd = normal(2, 7, 5, 3), normal(3, 3, 4, 3), normal(3, 2, 3, 2)
    xs = gc.placeholder((None, None, None, 3), "float64")
    kernels = [gc.placeholder(w.shape, "float64") for w in (wt, wd)]
    up = conv_transpose(xs, kernels[0], strides=(2, 1), output_padding=(1, 0))
    down = depthwise_conv(xs, kernels[1], strides=(1, 2), dilation_rate=1)
    cost = gc.sum(up * up) + gc.sum(down * down)
    outputs = [up, down] + gc.grad(cost, [xs] + kernels)
    got = gc.function([xs] + kernels, outputs, backend=backend)(x, wt, wd)
    expected = gc.function([xs] + kernels, outputs, backend="numpy")(x, wt, wd)
    np.testing.assert_allclose(got[0], transpose_reference(x, wt, (2, 1), (1, 1), "valid",
                                                           (1, 0)), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(got[1], depthwise_reference(x, wd, (1, 2), (1, 1), "valid"),
                               rtol=1e-10, atol=1e-10)
    for a, b in zip(got[2:], expected[2:]):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)


def gradient_errors(build, arrays, backend):
    """Relative errors of d sum(weights * build(...)) / d each input against finite
    differences."""
    nodes = [gc.placeholder(a.shape, "float64") for a in arrays]
    out = build(*nodes)
    cost = gc.sum(out * gc.constant(normal(*out.shape)))
    grads = gc.function(nodes, gc.grad(cost, nodes), backend=backend)(*arrays)
    forward = gc.function(nodes, cost, backend="numpy")
    return [relative_error(g, numeric_gradient(lambda v: float(forward(*v)), list(arrays), i))
            for i, g in enumerate(grads)]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("build,shapes", [
    (lambda a, b: conv_transpose(a, b, (2, 1), "same", (1, 0)), [(2, 4, 3, 2), (3, 2, 3, 2)]),
    (lambda a, b: conv_transpose(a, b, 2, "valid", None, 1, rank=1), [(2, 7, 2), (3, 2, 2)]),
    (lambda a, b: depthwise_conv(a, b, 2, "same"), [(2, 5, 4, 2), (3, 2, 2, 2)]),
    (lambda a, b, c: separable_conv(a, b, c, 1, "valid", (1, 2)),
     [(2, 5, 6, 2), (3, 2, 2, 2), (1, 1, 4, 3)]),
])
def test_gradients_match_finite_differences(build, shapes, backend):
    errors = gradient_errors(build, [normal(*s) for s in shapes], backend)
    assert max(errors) < 1e-6, errors


def test_bad_inputs_name_the_op_the_shapes_and_this_line():
    x = gc.placeholder((None, 5, 5, 3))
    with pytest.raises(ShapeError, match=r"conv2d_transpose: .*channels.*test_conv_family_ops"):
        conv_transpose(x, gc.placeholder((3, 3, 4, 2)))
    with pytest.raises(ShapeError, match=r"output_padding must be 2 ints in \[0, stride\)"):
        conv_transpose(x, gc.placeholder((3, 3, 4, 3)), strides=2, output_padding=2)
    with pytest.raises(ShapeError, match=r"depthwise_conv2d: .*\(None, 5, 5, 3\).*ops.py:\d+"):
        depthwise_conv(x, gc.placeholder((3, 3, 2, 1)))
    with pytest.raises(ShapeError, match=r"separable_conv1d: pointwise kernel .*\(1, 1, 6\)"):
        separable_conv(gc.placeholder((None, 5, 3)), gc.placeholder((3, 3, 2)),
                       gc.placeholder((1, 1, 6)), rank=1)
