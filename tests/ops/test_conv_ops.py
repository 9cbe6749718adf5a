"""Convolution, pooling and padding ops: Keras's output-shape formulas, the fast NumPy
references against slow direct loops (hypothesis), gradients against finite differences,
and errors that name what went wrong. Gradients of every op's OP_CASES run in test_ops.py."""

import math
import sys

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import graphc as gc
from graphc.ops import OPS
from graphc.ops.conv import resolve_padding
from graphc.testing import In, case, check_gradient
from tests.fuzz.profiles import examples
from tests.strategies import conv_geometries


def run(output, inputs, *values):
    return gc.function(list(inputs), output, backend="numpy")(*values)


# ---- slow direct references: one output position and one kernel offset at a time ------------


def direct_conv(x, w, strides, dilation, padding):
    rank = w.ndim - 2
    out_size = [
        (n + lo + hi - d * (k - 1) - 1) // s + 1
        for n, k, s, d, (lo, hi) in zip(x.shape[1:-1], w.shape[:rank], strides, dilation, padding)
    ]
    out = np.zeros((x.shape[0], *out_size, w.shape[-1]))
    for o in np.ndindex(*out_size):
        for k in np.ndindex(*w.shape[:rank]):
            pos = [
                oi * s + ki * d - lo
                for oi, ki, s, d, (lo, _) in zip(o, k, strides, dilation, padding)
            ]
            if all(0 <= p < n for p, n in zip(pos, x.shape[1:-1])):
                out[(slice(None), *o)] += x[(slice(None), *pos)] @ w[k]
    return out


def direct_pool(x, kind, pool_size, strides, padding):
    rank = len(pool_size)
    out_size = [
        (n + lo + hi - k) // s + 1
        for n, k, s, (lo, hi) in zip(x.shape[1:-1], pool_size, strides, padding)
    ]
    out = np.zeros((x.shape[0], *out_size, x.shape[-1]))
    for o in np.ndindex(*out_size):
        window = []
        for k in np.ndindex(*pool_size):
            pos = [oi * s + ki - lo for oi, ki, s, (lo, _) in zip(o, k, strides, padding)]
            if all(0 <= p < n for p, n in zip(pos, x.shape[1:-1])):
                window.append(x[(slice(None), *pos)])
        reduce = np.max if kind == "max" else np.mean
        out[(slice(None), *o)] = reduce(np.stack(window), axis=0)
    assert rank in (1, 2)
    return out


# ---- Keras's documented output lengths ---------------------------------------------------------


def keras_conv_length(n, k, s, d, padding):
    # keras.src.utils.conv_utils.conv_output_length
    dilated = k + (k - 1) * (d - 1)
    length = {"same": n, "causal": n, "valid": n - dilated + 1}[padding]
    return (length + s - 1) // s


def keras_pool_length(n, k, s, padding):
    return (n - k) // s + 1 if padding == "valid" else (n - 1) // s + 1


@pytest.mark.parametrize("padding", ["valid", "same", "causal"])
@pytest.mark.parametrize("n,k,s,d", [(40, 3, 1, 1), (40, 5, 2, 1), (17, 3, 3, 2), (9, 4, 2, 2)])
def test_conv1d_output_length_is_keras(n, k, s, d, padding):
    x = gc.placeholder((None, n, 3))
    w = gc.placeholder((k, 3, 5))
    y = gc.conv1d(x, w, strides=s, padding=padding, dilation_rate=d)
    assert y.shape == (None, keras_conv_length(n, k, s, d, padding), 5)


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_conv2d_output_shape_is_keras(padding):
    x = gc.placeholder((None, 28, 27, 1))
    y = gc.conv2d(x, gc.placeholder((3, 5, 1, 8)), strides=(2, 3), padding=padding)
    expected = (keras_conv_length(28, 3, 2, 1, padding), keras_conv_length(27, 5, 3, 1, padding))
    assert y.shape == (None, *expected, 8)


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("n,k,s", [(28, 2, 2), (27, 3, 2), (10, 3, 1), (7, 2, 3)])
def test_pool_output_lengths_are_keras(n, k, s, padding):
    x1 = gc.placeholder((None, n, 4))
    assert gc.max_pool1d(x1, k, s, padding).shape == (None, keras_pool_length(n, k, s, padding), 4)
    x2 = gc.placeholder((None, n, n + 1, 4))
    size = (keras_pool_length(n, k, s, padding), keras_pool_length(n + 1, k, s, padding))
    assert gc.avg_pool2d(x2, k, s, padding).shape == (None, *size, 4)


def test_pool_strides_default_to_pool_size():
    x = gc.placeholder((None, 28, 28, 8))
    assert gc.max_pool2d(x, (2, 2)).shape == (None, 14, 14, 8)


# ---- fast references agree with the direct loops ----------------------------------------------


GEOMETRIES = conv_geometries(max_size=7, max_kernel=4)


@examples(60)
@given(GEOMETRIES, st.integers(1, 3), st.integers(1, 3), st.integers(0, 2**31))
def test_conv_matches_direct_loops(geometry, cin, cout, seed):
    sizes, kernel, strides, dilation, pads = (
        geometry.sizes, geometry.kernel, geometry.strides, geometry.dilation, geometry.pads
    )
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, *sizes, cin))
    w = rng.standard_normal((*kernel, cin, cout))
    rank = len(sizes)
    got = OPS[f"conv{rank}d"].impl(x, w, strides=strides, dilation=dilation, padding=pads)
    np.testing.assert_allclose(got, direct_conv(x, w, strides, dilation, pads), atol=1e-12)


@examples(60)
@given(GEOMETRIES, st.sampled_from(["max", "avg"]), st.integers(0, 2**31))
def test_pool_matches_direct_loops(geometry, kind, seed):
    sizes, pool_size, strides = geometry.sizes, geometry.kernel, geometry.strides
    pads = resolve_padding("same", sizes, pool_size, strides, (1,) * len(sizes))
    if seed % 2:
        pads = tuple((0, 0) for _ in sizes)
        assume(all(n >= k for n, k in zip(sizes, pool_size)))
    x = np.random.default_rng(seed).standard_normal((2, *sizes, 3))
    op = OPS[f"{kind}_pool{len(sizes)}d"]
    got = op.impl(x, pool_size=pool_size, strides=strides, padding=pads)
    np.testing.assert_allclose(got, direct_pool(x, kind, pool_size, strides, pads), atol=1e-12)


# ---- gradients on random geometries (the fixed OP_CASES run in test_ops.py) ------------------


@examples(12)
@given(GEOMETRIES, st.integers(0, 100))
def test_conv_gradients_on_random_geometries(geometry, seed):
    rank = geometry.rank
    spec = case(
        In((2, *geometry.sizes, 2)),
        In((*geometry.kernel, 2, 3)),
        strides=geometry.strides,
        dilation=geometry.dilation,
        padding=geometry.pads,
    )
    assert max(check_gradient(f"conv{rank}d", spec, seed)) < 1e-6


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_overlapping_pool_gradients(kind):
    spec = case(In((2, 6, 5, 2)), pool_size=(3, 3), strides=(2, 1), padding=((1, 1), (1, 1)))
    assert max(check_gradient(f"{kind}_pool2d", spec)) < 1e-6


def test_max_pool_gradient_goes_to_the_first_maximum_only():
    x = gc.placeholder((1, 4, 1), "float64")
    loss = gc.sum(gc.max_pool1d(x, 2))
    g = run(gc.grad(loss, x), [x], np.array([[[3.0], [3.0], [1.0], [5.0]]]))
    np.testing.assert_array_equal(g[0, :, 0], [1.0, 0.0, 0.0, 1.0])


def test_same_average_pool_excludes_padding_from_the_count():
    x = gc.placeholder((1, 3, 1), "float64")
    y = run(gc.avg_pool1d(x, 2, strides=2, padding="same"), [x], np.array([[[1.0], [2.0], [6.0]]]))
    np.testing.assert_array_equal(y[0, :, 0], [1.5, 6.0])


def test_causal_conv_never_sees_the_future():
    x = gc.placeholder((1, 6, 1), "float64")
    w = gc.constant(np.ones((3, 1, 1)))
    y = gc.conv1d(x, w, padding="causal", dilation_rate=2)
    grads = run(gc.grad(y[0, 2, 0], x), [x], np.zeros((1, 6, 1)))
    np.testing.assert_array_equal(grads[0, :, 0], [1, 0, 1, 0, 0, 0])


# ---- public helpers built from existing ops -------------------------------------------------


def test_global_pooling_upsampling_and_zero_padding():
    x = gc.placeholder((None, 2, 3, 2), "float64")
    v = np.arange(24.0).reshape(2, 2, 3, 2)
    outs = run(
        [
            gc.global_avg_pool(x),
            gc.global_max_pool(x),
            gc.upsample(x, (2, 3)),
            gc.zero_pad(x, ((1, 0), (2, 1))),
        ],
        [x],
        v,
    )
    np.testing.assert_allclose(outs[0], v.mean(axis=(1, 2)))
    np.testing.assert_allclose(outs[1], v.max(axis=(1, 2)))
    np.testing.assert_array_equal(outs[2], v.repeat(2, axis=1).repeat(3, axis=2))
    np.testing.assert_array_equal(outs[3], np.pad(v, ((0, 0), (1, 0), (2, 1), (0, 0))))


def test_float32_stays_float32():
    x = gc.placeholder((None, 8, 8, 3))
    y = gc.avg_pool2d(gc.conv2d(x, gc.placeholder((3, 3, 3, 4)), padding="same"), 2)
    out = run(y, [x, y.inputs[0].inputs[1]], np.ones((2, 8, 8, 3)), np.ones((3, 3, 3, 4)))
    assert y.dtype == "float32" and out.dtype == np.float32 and out.shape == (2, 4, 4, 4)
    assert math.isclose(out[0, 1, 1, 0], 27.0)


# ---- errors name the op, what it received and the user's line ---------------------------------


def test_channel_mismatch_names_op_shapes_and_site():
    x = gc.placeholder((None, 10, 3))
    w = gc.placeholder((3, 4, 8))
    with pytest.raises(gc.ShapeError) as err:
        gc.conv1d(x, w)
    line = sys._getframe().f_lineno - 1
    message = str(err.value)
    assert "conv1d" in message and "(3, 4, 8)" in message and f"{__file__}:{line}" in message


def test_window_larger_than_input_is_a_shape_error():
    with pytest.raises(gc.ShapeError, match="larger than the padded input"):
        gc.conv2d(gc.placeholder((None, 2, 2, 1)), gc.placeholder((3, 3, 1, 1)))


def test_bad_padding_and_strides_are_rejected():
    x = gc.placeholder((None, 10, 10, 1))
    with pytest.raises(gc.ShapeError, match="causal"):
        gc.conv2d(x, gc.placeholder((3, 3, 1, 1)), padding="causal")
    with pytest.raises(ValueError, match="strides"):
        gc.max_pool2d(x, 2, strides=(0, 1))
    with pytest.raises(gc.ShapeError, match="valid"):
        gc.max_pool2d(x, 2, padding="full")
