"""model.quantize("int8") for Dense, Conv1D and Conv2D: predictions equal a NumPy
implementation of the scheme (on both backends), stay close to float32, save and reload still
int8; training is refused, layers without an int8 path are named; calibrate gives static
scales."""

import numpy as np
import pytest

from frontend import layers, models, quantizers

RNG = np.random.default_rng(0)
X = RNG.standard_normal((257, 33)).astype(np.float32)
Y = RNG.integers(0, 7, 257)


def mlp(backend="llvm", last="linear"):
    model = models.Sequential([layers.Input((33,)), layers.Dense(64, activation="relu"),
                               layers.Dense(7, activation=last)])
    model.compile("adam", "sparse_categorical_crossentropy", backend=backend)
    return model


def numpy_int8_dense(x, w, b, relu, input_scale=None):
    """The scheme written out independently: abs-max scales, round half to even, int32 sums."""
    w_scale = np.float32(127) / (np.abs(w).max(0) + np.float32(1e-7))
    w_q = np.clip(np.rint(w * w_scale), -127, 127).astype(np.int32)
    if input_scale is None:
        x_scale = np.float32(127) / (np.abs(x).max(1, keepdims=True) + np.float32(1e-7))
    else:
        x_scale = np.full((len(x), 1), input_scale, np.float32)
    x_q = np.clip(np.rint(x * x_scale), -127, 127).astype(np.int32)
    one = np.float32(1)
    y = (x_q @ w_q).astype(np.float32) * ((one / x_scale) * (one / w_scale)) + b
    return np.maximum(y, 0) if relu else y


def reference(float_weights, x, scales=(None, None)):
    w1, b1, w2, b2 = float_weights
    h = numpy_int8_dense(x, w1, b1, True, scales[0])
    return numpy_int8_dense(h, w2, b2, False, scales[1])


def rounding_bound(x, w, x_error=0):
    """|x'w' - xw| per output when x (off by at most x_error already) is rounded to steps of
    max|x_row| / 127 and w to max|w_col| / 127, each by at most half a step."""
    half_x = (np.abs(x) + x_error).max(1, keepdims=True) / 254
    half_w = np.abs(w).max(0, keepdims=True) / 254
    x_off = np.broadcast_to(x_error + half_x, x.shape)
    return x_off @ np.abs(w) + (np.abs(x) + x_off).sum(1, keepdims=True) * half_w


def error_bound(float_weights, x):
    """The two layers' rounding bounds, the first's error carried through relu (1-Lipschitz)
    into the second; 1e-5 for float32 sums."""
    w1, b1, w2, _ = float_weights
    e1 = rounding_bound(x, w1)
    return rounding_bound(np.maximum(x @ w1 + b1, 0), w2, e1) + 1e-5


@pytest.mark.parametrize("backend", ["llvm", "numpy"])
def test_predictions_equal_the_numpy_scheme_and_stay_close(backend):
    model = mlp(backend)
    model.fit(X, Y, epochs=2, verbose=0)
    float_weights = model.get_weights()
    before = model.predict(X, verbose=0)
    model.quantize("int8")
    after = model.predict(X, verbose=0)
    np.testing.assert_array_equal(after, reference(float_weights, X))
    assert np.all(np.abs(after - before) <= error_bound(float_weights, X))
    assert (after.argmax(1) == before.argmax(1)).mean() > 0.97


def test_weights_are_int8_non_trainable_and_keras_quantized():
    model = mlp()
    w = model.layers[0].kernel.get_value()
    model.quantize("int8")
    dense = model.layers[0]
    assert dense.quantization_mode == "int8" and dense.kernel.dtype == "int8"
    assert [v.name.split("/")[-1] for v in dense.trainable_weights] == ["bias"]
    assert {v.name.split("/")[-1] for v in dense.non_trainable_weights} == {"kernel",
                                                                           "kernel_scale"}
    values, scale = quantizers.abs_max_quantize(w, axis=0)
    np.testing.assert_array_equal(quantizers.unpacked_kernel(dense), values)
    np.testing.assert_array_equal(dense.kernel_scale.get_value(), scale[0])


def test_save_and_reload_stay_int8(tmp_path):
    model = mlp(last="softmax")
    model.quantize("int8")
    model.calibrate(X[:100])
    want = model.predict(X, verbose=0)
    model.save(tmp_path / "q.keras")
    loaded = models.load_model(tmp_path / "q.keras")
    assert loaded.layers[0].kernel.dtype == "int8"
    assert loaded.layers[1].quantization == model.layers[1].quantization
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), want)


def test_training_a_quantized_model_is_refused():
    model = mlp()
    model.quantize("int8")
    with pytest.raises(ValueError, match=r"Dense 'dense.*' is quantized to int8: training it is "
                                         r"not supported.*test_quantize_model.py"):
        model.fit(X, Y, epochs=1, verbose=0)


def windows(x, k):
    """im2col of a valid k x k convolution: (batch, oh, ow, k * k * cin), rows (kh, kw, cin)."""
    view = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(1, 2))
    return view.transpose(0, 1, 2, 4, 5, 3).reshape(*view.shape[:3], -1)


def test_convnet_equals_the_numpy_scheme_and_stays_close():
    model = models.Sequential([layers.Input((9, 9, 2)), layers.Conv2D(33, 3, activation="relu"),
                               layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(5)])
    images = RNG.standard_normal((7, 9, 9, 2)).astype(np.float32)
    before = model.predict(images, verbose=0)
    w1, b1, w2, b2 = model.get_weights()
    model.quantize("int8")
    assert model.layers[0].kernel.dtype == "int8"
    after = model.predict(images, verbose=0)
    cols = windows(images, 3)
    h = numpy_int8_dense(cols.reshape(-1, 18), w1.reshape(18, 33), b1, True)
    h = h.reshape(7, 7, 7, 33)[:, :6, :6].reshape(7, 3, 2, 3, 2, 33).max((2, 4))
    np.testing.assert_array_equal(after, numpy_int8_dense(h.reshape(7, -1), w2, b2, False))
    assert np.abs(after - before).max() < 0.02 * np.abs(before).max()  # ~2 x 1/127 per layer


def test_conv1d_quantizes_and_reloads(tmp_path):
    model = models.Sequential([layers.Input((12, 6)),
                               layers.Conv1D(8, 3, padding="same", activation="relu"),
                               layers.Conv1D(2, 2, strides=2, activation="tanh")])
    x = RNG.standard_normal((5, 12, 6)).astype(np.float32)
    before = model.predict(x, verbose=0)
    model.quantize("int8")
    assert [layer.kernel.dtype for layer in model.layers] == ["int8", "int8"]
    after = model.predict(x, verbose=0)
    assert np.abs(after - before).max() < 0.03
    model.save(tmp_path / "c.keras")
    np.testing.assert_array_equal(models.load_model(tmp_path / "c.keras").predict(x, verbose=0),
                                  after)


def test_layers_without_an_int8_path_are_named_and_stay_float():
    model = models.Sequential([layers.Input((6, 6, 2)), layers.Conv2DTranspose(4, 3),
                               layers.Conv2D(3, 1), layers.Flatten(), layers.Dense(5)])
    images = RNG.standard_normal((4, 6, 6, 2)).astype(np.float32)
    before = model.predict(images, verbose=0)
    with pytest.warns(UserWarning, match=r"stay float32: Conv2DTranspose 'conv2d_transpose.*' "
                                         r"\(Layer Conv2DTranspose does not have a `quantize\(\)` "
                                         r"method implemented.\); Conv2D 'conv2d.*' \(.*kernel "
                                         r"rows hold 4 values \(< 16\), faster in float32\)"):
        model.quantize("int8")
    assert [layer.kernel.dtype for layer in (model.layers[0], model.layers[1], model.layers[3])] \
        == ["float32", "float32", "int8"]
    after = model.predict(images, verbose=0)
    assert np.abs(after - before).max() < 0.02 * np.abs(before).max()


def test_bad_requests_are_named():
    model = mlp()
    with pytest.raises(ValueError, match=r"mode 'int4' is not supported.*\('int8',\)"):
        model.quantize("int4")
    unbuilt = models.Sequential([layers.Dense(3)])
    with pytest.raises(ValueError, match="Cannot quantize model .* not built yet"):
        unbuilt.quantize("int8")
    model.quantize("int8")
    with pytest.raises(ValueError, match="Dense 'dense.*' is already quantized"):
        model.layers[0].quantize("int8")
    with pytest.raises(ValueError, match="calibrate: model .* has no quantized layer"):
        mlp().calibrate(X)
    with pytest.raises(ValueError, match="input_scale must be a positive number"):
        layers.Dense(3, quantization={"mode": "int8", "input_scale": -2})


def test_calibrated_scales_are_static_and_match_the_numpy_scheme():
    model = mlp()
    model.fit(X, Y, epochs=1, verbose=0)
    float_weights = model.get_weights()
    model.quantize("int8")
    scales = model.calibrate(X, batch_size=100)
    assert set(scales) == {model.layers[0].name, model.layers[1].name}
    amax = np.abs(X).max()
    assert scales[model.layers[0].name] == pytest.approx(127 / amax, rel=1e-6)
    got = model.predict(X, verbose=0)
    want = reference(float_weights, X, (scales[model.layers[0].name],
                                        scales[model.layers[1].name]))
    np.testing.assert_array_equal(got, want)
