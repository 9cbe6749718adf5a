"""gc.matmul on bfloat16 operands: the llvm GEMM (vdpbf16ps or its emulation) against the
interpreter, every transpose, batches, the fused bias+activation epilogue, odd sizes; and
gradients of a mixed-precision graph against float64."""

import ml_dtypes
import numpy as np
import pytest

import graphc as gc
from tests.bf16.mixed_gradients import assert_normwise_within, mixed_and_exact_gradients

BF16 = ml_dtypes.bfloat16
ULP = 2.0**-8  # bfloat16's relative spacing: 8 significant bits


def run_both(inputs, output, values):
    return [np.asarray(gc.function(inputs, output, backend=b)(*values)) for b in ("numpy", "llvm")]


def assert_within_a_rounding(got, ref, scale):
    """Both round a float32 sum (summed in different orders) to bfloat16 once: they differ by at
    most one bfloat16 step of the result plus float32 order effects on the scale of |A||B|."""
    got, ref = got.astype(np.float64), ref.astype(np.float64)
    assert np.all(np.abs(got - ref) <= ULP * np.abs(ref) + 1e-5 * scale)


@pytest.mark.parametrize("ta,tb", [(False, False), (False, True), (True, False), (True, True)])
@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (7, 33, 7), (33, 257, 1), (257, 7, 33)])
def test_matmul_matches_the_interpreter(ta, tb, m, k, n):
    rng = np.random.default_rng(0)
    a_shape, b_shape = ((k, m) if ta else (m, k)), ((n, k) if tb else (k, n))
    a, b = gc.placeholder(a_shape, "bfloat16"), gc.placeholder(b_shape, "bfloat16")
    values = [rng.standard_normal(s).astype(BF16) for s in (a_shape, b_shape)]
    node = gc.matmul(a, b, transpose_a=ta, transpose_b=tb)
    ref, got = run_both([a, b], node, values)
    assert got.dtype == BF16 and got.shape == (m, n)
    wide = [v.astype(np.float64) for v in values]
    scale = np.abs(wide[0].T if ta else wide[0]) @ np.abs(wide[1].T if tb else wide[1])
    assert_within_a_rounding(got, ref, scale)


def test_batched_matmul_with_fused_bias_and_relu():
    rng = np.random.default_rng(1)
    x, w = gc.placeholder((None, 5, 33), "bfloat16"), gc.placeholder((33, 7), "bfloat16")
    bias = gc.placeholder((7,), "bfloat16")
    y = gc.relu(gc.matmul(x, w) + bias)
    values = [rng.standard_normal(s).astype(BF16) for s in ((3, 5, 33), (33, 7), (7,))]
    ref, got = run_both([x, w, bias], y, values)
    assert got.dtype == BF16
    assert_within_a_rounding(got, ref, np.abs(values[0].astype(float)) @ np.abs(
        values[1].astype(float)) + 1)


def mixed_loss(x, t, w1, w2):
    """Two bfloat16 dense layers on float32 master weights, a float32 loss."""
    h = gc.relu(gc.matmul(gc.cast(x, "bfloat16"), gc.cast(w1, "bfloat16")))
    y = gc.cast(gc.matmul(h, gc.cast(w2, "bfloat16")), "float32")
    return gc.mean((y - t) ** 2)


def mlp_loss(x, t, w1, w2, dtype):
    """mixed_loss in bfloat16, its exact value in float64."""
    if dtype == "bfloat16":
        return mixed_loss(x, t, w1, w2)
    return gc.mean((gc.matmul(gc.relu(gc.matmul(x, w1)), w2) - t) ** 2)


@pytest.mark.parametrize("backend", ["numpy", "llvm"])
def test_mixed_precision_gradients_against_float64(backend):
    rng = np.random.default_rng(2)
    xs, ts = rng.standard_normal((33, 20)), rng.standard_normal((33, 7))
    w1s, w2s = rng.standard_normal((20, 16)) * 0.3, rng.standard_normal((16, 7)) * 0.3
    grads = mixed_and_exact_gradients(mlp_loss, (xs, ts), (w1s, w2s), backend)
    # inputs, weights and activations are rounded to bfloat16 (relative 2^-9 each) at
    # four places on the way to a gradient: a normwise error of a few 2^-8 at most
    assert_normwise_within(grads, 4 * ULP)


def test_gradient_of_a_broadcast_bfloat16_bias_sums_in_float32():
    x, b = gc.placeholder((None, 3), "float32"), gc.shared(np.zeros(3, np.float32))
    y = gc.cast(gc.cast(x, "bfloat16") + gc.cast(b, "bfloat16"), "float32")
    g = gc.grad(gc.sum(y * y), b)
    values = np.full((300, 3), 1.0 + 2.0**-7, np.float32)  # 300 equal terms: bf16 sums lose
    for backend in ("numpy", "llvm"):
        got = gc.function([x], g, backend=backend)(values)
        # float32 sum of 300 * 2.0156 = 604.69, rounded once to bfloat16 (604 or 606, step 4)
        assert np.allclose(got, float(np.float32(604.6875).astype(BF16))), got


@pytest.mark.parametrize("n", [1, 17])
def test_stores_stay_inside_the_output_with_a_one_column_tail(monkeypatch, n):
    """A compile-time N with a one-column tail: LLVM 22 once turned that masked bfloat16
    store into a 4-byte store, one element past each row (found by GRAPHC_CHECK_BOUNDS)."""
    monkeypatch.setenv("GRAPHC_CHECK_BOUNDS", "1")
    rng = np.random.default_rng(3)
    a, b = gc.placeholder((33, 7), "bfloat16"), gc.placeholder((7, n), "bfloat16")
    values = [rng.standard_normal(s).astype(BF16) for s in ((33, 7), (7, n))]
    ref, got = run_both([a, b], gc.matmul(a, b), values)
    assert_within_a_rounding(got, ref, np.abs(values[0].astype(float)) @ np.abs(
        values[1].astype(float)))
