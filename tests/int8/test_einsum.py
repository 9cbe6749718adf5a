"""EinsumDense.quantize("int8") (Keras 3's scheme: kernel scales per output channel along the
kernel's output axes, input scales per row over the contracted axes): predictions equal a NumPy
implementation of the scheme on both backends, stay close to float32, save and reload int8;
equations without an int8 path stay float32 and are named."""

import numpy as np
import pytest

from frontend import layers, models

RNG = np.random.default_rng(3)


def numpy_int8_einsum(equation, x, w, bias, relu, input_scale=None):
    """The scheme written out with np.einsum: abs-max scales over each operand's contracted
    axes, round half to even, exact integer sums, one multiplier (1/s_x)(1/s_w) per output."""
    lhs, out = equation.split("->")
    x_spec, w_spec = lhs.split(",")
    if "..." in x_spec:  # spell the ellipsis out in letters no spec uses
        fill = "XYZ"[: x.ndim - len(x_spec.replace("...", ""))]
        x_spec, out = x_spec.replace("...", fill), out.replace("...", fill)
    w_axes = tuple(i for i, c in enumerate(w_spec) if c in x_spec)
    x_axes = tuple(i for i, c in enumerate(x_spec) if c in w_spec)
    one, eps = np.float32(1), np.float32(1e-7)
    w_scale = np.float32(127) / (np.abs(w).max(w_axes, keepdims=True) + eps)
    if input_scale is None:
        x_scale = np.float32(127) / (np.abs(x).max(x_axes, keepdims=True) + eps)
    else:
        x_scale = np.full([1 if i in x_axes else d for i, d in enumerate(x.shape)], input_scale,
                          np.float32)
    w_q = np.clip(np.rint(w * w_scale), -127, 127).astype(np.int64)
    x_q = np.clip(np.rint(x * x_scale), -127, 127).astype(np.int64)
    spec = f"{x_spec},{w_spec}->{out}"
    acc = np.einsum(spec, x_q, w_q).astype(np.int32).astype(np.float32)
    # contracted axes of size 1: einsum places the product of the two reciprocals per output
    multiplier = np.einsum(spec, one / x_scale, one / w_scale)
    y = acc * multiplier
    y = y if bias is None else y + bias
    return np.maximum(y, np.float32(0)) if relu else y


EQUATIONS = [  # (equation, input shape, output_shape, bias_axes)
    ("abc,cde->abde", (7, 5, 33), (5, 3, 4), "de"),  # MultiHeadAttention's query projection
    ("abcd,cde->abe", (7, 5, 3, 11), (5, 17), "e"),  # ... and its output projection
    ("...b,bc->...c", (1, 2, 3, 257), (7,), "c"),
    ("ab...,bc->ac...", (7, 33, 2), (5,), None),  # contracted axis in the middle
    ("abc,cd->adb", (7, 3, 16), (2, 3), "d"),  # the output in another order
]


def einsum_model(equation, shape, output_shape, bias_axes, backend, activation="relu"):
    dense = layers.EinsumDense(equation, output_shape, bias_axes=bias_axes,
                               activation=activation, bias_initializer="glorot_uniform")
    model = models.Sequential([layers.Input(shape[1:]), dense])
    model.compile(loss="mse", backend=backend)
    return model


@pytest.mark.parametrize("backend", ["llvm", "numpy"])
@pytest.mark.parametrize("equation, shape, output_shape, bias_axes", EQUATIONS)
def test_predictions_equal_the_numpy_scheme(backend, equation, shape, output_shape, bias_axes):
    model = einsum_model(equation, shape, output_shape, bias_axes, backend)
    x = RNG.standard_normal(shape).astype(np.float32)
    before = model.predict(x, verbose=0)
    weights = model.get_weights()
    w, b = weights[0], (weights[1] if bias_axes else None)
    model.quantize("int8")
    dense = model.layers[0]
    assert dense.quantization_mode == "int8" and dense.kernel.dtype == "int8"
    after = model.predict(x, verbose=0)
    np.testing.assert_array_equal(after, numpy_int8_einsum(equation, x, w, b, True))
    assert np.abs(after - before).max() < 0.03 * np.abs(before).max()  # ~2/127 steps


def test_linear_and_other_activations_follow_the_product():
    model = einsum_model("abc,cde->abde", (2, 4, 20), (4, 2, 3), "e", "llvm", "tanh")
    x = RNG.standard_normal((2, 4, 20)).astype(np.float32)
    w, b = model.get_weights()
    model.quantize("int8")
    want = np.tanh(numpy_int8_einsum("abc,cde->abde", x, w, b, False))
    np.testing.assert_allclose(model.predict(x, verbose=0), want, rtol=1e-6, atol=1e-6)


def test_calibrated_scale_is_static(tmp_path):
    equation = "abc,cde->abde"
    model = einsum_model(equation, (5, 3, 17), (3, 2, 4), "de", "llvm")
    x = RNG.standard_normal((5, 3, 17)).astype(np.float32)
    w, b = model.get_weights()
    model.quantize("int8")
    scales = model.calibrate(x)
    scale = scales[model.layers[0].name]
    assert scale == pytest.approx(127 / np.abs(x).max(), rel=1e-6)
    got = model.predict(x * 0.5, verbose=0)
    np.testing.assert_array_equal(got, numpy_int8_einsum(equation, x * 0.5, w, b, True, scale))
    model.save(tmp_path / "e.keras")
    loaded = models.load_model(tmp_path / "e.keras")
    assert loaded.layers[0].quantization == {"mode": "int8", "input_scale": scale}
    np.testing.assert_array_equal(loaded.predict(x * 0.5, verbose=0), got)


def test_save_and_reload_stay_int8(tmp_path):
    model = einsum_model("ab...,bc->ac...", (7, 33, 2), (5,), None, "llvm")
    x = RNG.standard_normal((7, 33, 2)).astype(np.float32)
    model.quantize("int8")
    want = model.predict(x, verbose=0)
    model.save(tmp_path / "q.keras")
    loaded = models.load_model(tmp_path / "q.keras")
    assert loaded.layers[0].kernel.dtype == "int8"
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), want)


def test_equations_without_an_int8_path_stay_float_and_are_named():
    model = models.Sequential([
        layers.Input((3, 20)),
        layers.EinsumDense("abc,bcd->abd", (3, 4)),  # 'b' in input, kernel and output
        layers.EinsumDense("abc,cd->abd", (3, 2)),  # contracts 4 values: faster in float32
    ])
    x = RNG.standard_normal((2, 3, 20)).astype(np.float32)
    before = model.predict(x, verbose=0)
    with pytest.warns(UserWarning, match=r"stay float32: EinsumDense 'einsum_dense.*' \(.*"
                                         r"equation 'abc,bcd->abd' has no int8 path: axis 'b' is "
                                         r"in the input, the kernel and the output.*\); "
                                         r"EinsumDense .*contracts 4 values per output"):
        model.quantize("int8")
    assert [layer.kernel.dtype for layer in model.layers] == ["float32", "float32"]
    np.testing.assert_array_equal(model.predict(x, verbose=0), before)


def test_bad_requests_are_named():
    model = einsum_model("abc,cde->abde", (2, 4, 20), (4, 2, 3), "e", "llvm")
    with pytest.raises(ValueError, match=r"mode 'int4' is not supported"):
        model.layers[0].quantize("int4")
    with pytest.raises(ValueError, match=r"Cannot quantize EinsumDense .* not built"):
        layers.EinsumDense("ab,bc->ac", 4).quantize("int8")
    model.quantize("int8")
    with pytest.raises(ValueError, match=r"EinsumDense 'einsum_dense.*' is already quantized"):
        model.layers[0].quantize("int8")
    with pytest.raises(ValueError, match=r"EinsumDense 'einsum_dense.*' is quantized to int8: "
                                         r"training it is not supported.*test_einsum.py"):
        model.compile("sgd", "mse")
        model.fit(RNG.standard_normal((2, 4, 20)), np.zeros((2, 4, 2, 3)), verbose=0)
