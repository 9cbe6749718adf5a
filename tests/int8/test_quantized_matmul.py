"""quantized_matmul: the LLVM kernel equals the NumPy interpreter bit for bit (both dtypes, odd
sizes, static and dynamic scales, 1 and 2 threads), the scheme stays within its error bound of
the float product, and bad input is named."""

import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest

import graphc as gc
from graphc.ops import quant

ODD = [1, 7, 33, 257]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def layer(rng, K, N, dtype, bias, activation, input_scale=None):
    x = gc.placeholder((None, K), dtype)
    w = rng.standard_normal((K, N)).astype(np.float32)
    w_q, scale = quant.quantize_kernel(w)
    b = gc.shared(rng.standard_normal(N).astype(dtype)) if bias else None
    y = gc.quantized_matmul(x, gc.shared(quant.pack_weights(w_q)), gc.shared(scale.astype(dtype)),
                            b, activation, input_scale)
    return x, y, w


def cases():
    for i, (m, k, n) in enumerate([(m, k, n) for m in ODD for k in ODD for n in ODD][::3]):
        yield m, k, n, ["float32", "float64"][i % 2], i % 3 != 0, ["linear", "relu"][i % 2]


def outputs_digest() -> str:
    """Every case through the llvm backend, hashed (run here and with 1 thread)."""
    rng, h = np.random.default_rng(3), hashlib.sha256()
    for m, k, n, dtype, bias, activation in cases():
        x, y, _ = layer(rng, k, n, dtype, bias, activation)
        h.update(gc.function([x], y)(rng.standard_normal((m, k)).astype(dtype)).tobytes())
    return h.hexdigest()


def test_llvm_equals_the_interpreter_on_odd_sizes():
    rng = np.random.default_rng(0)
    for m, k, n, dtype, bias, activation in cases():
        x, y, _ = layer(rng, k, n, dtype, bias, activation)
        xs = rng.standard_normal((m, k)).astype(dtype) * rng.uniform(0.01, 100)
        got = gc.function([x], y)(xs)
        want = gc.function([x], y, backend="numpy")(xs)
        np.testing.assert_array_equal(got, want, err_msg=f"{m}x{k}x{n} {dtype} {activation}")


def test_static_scale_and_saturation():
    """A static scale too large for some rows clips them to +-127, in both backends alike."""
    rng = np.random.default_rng(1)
    x, y, _ = layer(rng, 33, 7, "float32", True, "relu", input_scale=300.0)
    xs = rng.standard_normal((257, 33)).astype(np.float32)
    got, want = gc.function([x], y)(xs), gc.function([x], y, backend="numpy")(xs)
    np.testing.assert_array_equal(got, want)


def test_same_bits_on_one_thread():
    env = dict(os.environ, GRAPHC_NUM_THREADS="1", PYTHONPATH=ROOT)
    code = "import tests.int8.test_quantized_matmul as t; print(t.outputs_digest())"
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == outputs_digest()


def test_close_to_the_float_product():
    """Rounding moves each input by at most half its row's step (max|x| / 127) and each weight
    by half its column's: |xw - x'w'| <= sum |x - x'| |w| + sum |x'| |w - w'|."""
    rng = np.random.default_rng(2)
    x, y, w = layer(rng, 257, 33, "float32", False, "linear")
    xs = rng.standard_normal((64, 257)).astype(np.float32)
    got = gc.function([x], y)(xs)
    step_x = np.abs(xs).max(1, keepdims=True) / 254
    step_w = np.abs(w).max(0, keepdims=True) / 254
    bound = step_x * np.abs(w).sum(0) + (np.abs(xs) + step_x).sum(1, keepdims=True) * step_w
    bound += 1e-4  # float32 rounding of the sums and scales
    assert np.all(np.abs(got - xs @ w) <= bound)
    assert np.abs(got - xs @ w).max() < 0.02 * np.abs(xs @ w).max()


def test_bad_inputs_are_named():
    x = gc.placeholder((None, 5))
    packed = gc.shared(quant.pack_weights(np.zeros((5, 3), np.int8)))
    scale = gc.shared(np.ones(3, np.float32))
    with pytest.raises(gc.ir.ShapeError, match=r"packed kernel for 9 inputs and 3 units has "
                                               r"shape \(3, 16, 4\).*test_quantized_matmul"):
        gc.quantized_matmul(gc.placeholder((None, 9)), packed, scale)
    with pytest.raises(gc.ir.DtypeError,
                       match=r"must be int8 of 3 dimensions .*got float32 \(2, 16, 4\)"):
        gc.quantized_matmul(x, gc.shared(np.zeros((2, 16, 4), np.float32)), scale)
    with pytest.raises(gc.ir.ShapeError, match="activation 'tanh' is not fused"):
        gc.quantized_matmul(x, packed, scale, activation="tanh")
    with pytest.raises(gc.ir.ShapeError, match="positive number, got -1"):
        gc.quantized_matmul(x, packed, scale, input_scale=-1)
    with pytest.raises(gc.ir.DtypeError, match="vectors of x's dtype float32"):
        gc.quantized_matmul(x, packed, gc.shared(np.ones(3)))
