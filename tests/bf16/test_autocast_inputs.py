"""Keras's autocast: a layer casts its float inputs to its compute dtype, whatever its policy
(Dense(3, dtype="bfloat16") or dtype="float64" on float32 data, a float32 layer on float64)."""

import ml_dtypes
import numpy as np
import pytest

import graphc as gc
from frontend.layers import Conv1D, Dense


def _dense_numbers(layer, x):
    kernel, bias = (np.asarray(w, "float64") for w in layer.get_weights())
    return x.astype("float64") @ kernel + bias


@pytest.mark.parametrize("backend", ["numpy", "llvm"])
@pytest.mark.parametrize("dtype, x_dtype", [("bfloat16", "float32"), ("float64", "float32"),
                                            ("float32", "float64")])
def test_dense_casts_its_float_inputs_to_its_compute_dtype(backend, dtype, x_dtype):
    layer = Dense(3, dtype=dtype)
    x = gc.placeholder((None, 4), x_dtype)
    y = layer(x)
    assert y.dtype == dtype
    xs = np.linspace(-1, 1, 7 * 4).reshape(7, 4).astype(x_dtype)
    got = np.asarray(gc.function([x], y, backend=backend)(xs)).astype("float64")
    tolerance = 0.05 if dtype == "bfloat16" else 1e-5
    np.testing.assert_allclose(got, _dense_numbers(layer, xs), atol=tolerance, rtol=tolerance)


def test_a_bfloat16_layer_outside_bfloat16_math_reads_its_weights_as_float32():
    layer = Conv1D(2, 3, dtype="bfloat16")  # a float32 island with bfloat16 variables
    x = gc.placeholder((None, 5, 1), "bfloat16")
    y = layer(x)
    assert y.dtype == "float32"
    assert all(w.dtype == "bfloat16" for w in layer.weights)
    xs = np.ones((1, 5, 1), ml_dtypes.bfloat16)
    assert np.asarray(gc.function([x], y, backend="numpy")(xs)).shape == (1, 3, 2)

