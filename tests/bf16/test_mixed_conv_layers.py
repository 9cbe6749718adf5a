"""Conv layers under mixed_bfloat16: bfloat16 compute (bias and activation in the GEMM's
epilogue) from an im2col row of 16 on, a float32 island below; a small convnet trains the same
on both backends."""

import numpy as np
import pytest

import graphc as gc
from frontend import mixed_precision
from frontend.layers import Conv1D, Conv2D, Dense, Flatten, Input, MaxPooling2D
from frontend.models import Sequential


@pytest.fixture
def mixed_policy():
    mixed_precision.set_global_policy("mixed_bfloat16")
    yield
    mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("layer, shape, dtype", [
    (lambda: Conv2D(4, 3, activation="relu"), (8, 8, 2), "bfloat16"),  # 3 x 3 x 2 = 18
    (lambda: Conv2D(4, 3, activation="relu"), (8, 8, 1), "float32"),  # 3 x 3 x 1 = 9: island
    (lambda: Conv1D(4, 5), (9, 4), "bfloat16"),  # 5 x 4 = 20
    (lambda: Conv1D(4, 3), (9, 5), "float32"),  # 15
])
def test_conv_layers_compute_in_bfloat16_from_an_im2col_row_of_16(mixed_policy, layer, shape,
                                                                   dtype):
    conv = layer()
    y = conv(gc.placeholder((None, *shape)))
    assert y.dtype == dtype
    assert all(w.dtype == "float32" for w in conv.weights)  # master weights


def test_a_convolution_over_run_time_lengths_is_a_float32_island(mixed_policy):
    x = gc.placeholder((None, None, 8))
    y = Conv1D(4, 5)(x)  # the llvm bfloat16 kernels need static sizes
    assert y.dtype == "float32"
    xs = np.ones((2, 9, 8), np.float32)
    assert np.asarray(gc.function([x], y)(xs)).shape == (2, 5, 4)


def test_the_bias_and_activation_run_in_the_convolutions_epilogue(mixed_policy):
    x = gc.placeholder((None, 8, 8, 3))
    y = Conv2D(5, 3, activation="relu")(x)
    value = np.random.default_rng(0).standard_normal((7, 8, 8, 3)).astype(np.float32)
    report = gc.profile(gc.function([x], y), value, repeat=1, peak=False).kernels
    dense = [k for k in report if k.kind == "dense"]
    assert len(dense) == 1 and {"conv2d", "add", "relu"} <= set(dense[0].ops), report
    strays = [k.name for k in report if k.kind == "loop" and ({"add", "relu"} & set(k.ops))]
    assert strays == [], strays


def small_convnet():
    return Sequential([Input(shape=(10, 10, 2)), Conv2D(8, 3, activation="relu"),
                       MaxPooling2D(2), Conv2D(8, 3, activation="relu"), Flatten(),
                       Dense(3, activation="softmax")])


def fitted_losses(backend, weights=None):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((33, 10, 10, 2)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[(x[:, :5].sum(axis=(1, 2, 3)) > 0).astype(int) + (
        x[:, 5:].sum(axis=(1, 2, 3)) > 0).astype(int)]
    mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = small_convnet()
    finally:
        mixed_precision.set_global_policy("float32")
    if weights is not None:
        model.set_weights(weights)
    start = model.get_weights()
    model.compile(optimizer="adam", loss="categorical_crossentropy", backend=backend)
    history = model.fit(x, y, batch_size=11, epochs=4, shuffle=False, verbose=0)
    return np.array(history.history["loss"]), model, start


def test_a_mixed_convnet_trains_alike_on_both_backends():
    llvm_losses, model, start = fitted_losses("llvm")
    numpy_losses, _, _ = fitted_losses("numpy", start)
    assert model.layers[0].compute_dtype == "bfloat16"
    assert llvm_losses[-1] < llvm_losses[0]
    # the backends differ only in the float32 order of the convolutions' sums before their
    # bfloat16 rounding: losses agree to a few bfloat16 steps
    np.testing.assert_allclose(llvm_losses, numpy_losses, rtol=4 * 2.0**-8)
