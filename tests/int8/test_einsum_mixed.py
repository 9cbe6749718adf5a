"""model.quantize("int8") on a mixed_bfloat16 model (Keras 3's int8_from_mixed_bfloat16): the
quantized Dense runs the int8 op on its bfloat16 input as float32, with the scale and bias its
policy reads as bfloat16, and returns bfloat16; EinsumDense, a float32 island, stays float32."""

import warnings

import ml_dtypes
import numpy as np

from frontend import layers, models

RNG = np.random.default_rng(23)


def through_bf16(a):
    return np.asarray(a, np.float32).astype(ml_dtypes.bfloat16).astype(np.float32)


def numpy_int8_dense_mixed(x, w, b, relu):
    """The int8 scheme on bfloat16 values: exact weight scales for the int8 kernel, the
    dequantizing scale and the bias rounded to bfloat16 as the policy reads them."""
    one, eps = np.float32(1), np.float32(1e-7)
    w_scale = np.float32(127) / (np.abs(w).max(0) + eps)
    w_q = np.clip(np.rint(w * w_scale), -127, 127).astype(np.int64)
    x = through_bf16(x)
    x_scale = np.float32(127) / (np.abs(x).max(1, keepdims=True) + eps)
    x_q = np.clip(np.rint(x * x_scale), -127, 127).astype(np.int64)
    acc = (x_q @ w_q).astype(np.int32).astype(np.float32)
    y = acc * ((one / x_scale) * (one / through_bf16(w_scale))) + through_bf16(b)
    return through_bf16(np.maximum(y, 0) if relu else y)


def test_a_mixed_bfloat16_model_quantizes_and_follows_the_scheme():
    model = models.Sequential([
        layers.Input((33,)),
        layers.Dense(16, activation="relu", dtype="mixed_bfloat16",
                     bias_initializer="glorot_uniform"),
        layers.Dense(7, dtype="mixed_bfloat16", bias_initializer="glorot_uniform"),
    ])
    x = RNG.standard_normal((9, 33)).astype(np.float32)
    before = model.predict(x, verbose=0).astype(np.float32)
    w1, b1, w2, b2 = model.get_weights()
    model.quantize("int8")
    after = model.predict(x, verbose=0)
    h = numpy_int8_dense_mixed(x, w1, b1, True)
    np.testing.assert_array_equal(after.astype(np.float32),
                                  numpy_int8_dense_mixed(h, w2, b2, False))
    assert np.abs(after.astype(np.float32) - before).max() < 0.05 * np.abs(before).max()


def test_einsum_dense_in_a_mixed_model_is_a_float32_island():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = models.Sequential([layers.Input((3, 20)),
                                   layers.EinsumDense("abc,cd->abd", (3, 5),
                                                      dtype="mixed_bfloat16")])
    x = RNG.standard_normal((2, 3, 20)).astype(np.float32)
    before = model.predict(x, verbose=0)
    model.quantize("int8")
    after = model.predict(x, verbose=0)
    assert model.layers[0].kernel.dtype == "int8" and after.dtype == np.float32
    assert np.abs(after - before).max() < 0.03 * np.abs(before).max()
