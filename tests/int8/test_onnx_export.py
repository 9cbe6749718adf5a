"""Quantized models export to ONNX as int8 (graphc/onnx/emit_quant.py): the file holds int8
kernels and MatMulInteger, and onnxruntime (default optimizations) computes bit for bit what
graphc computes, for gc.quantized_matmul, gc.quantized_conv1d/2d and quantized models."""

import warnings

import numpy as np
import pytest

import graphc as gc
from frontend import layers, models
from graphc.ops import quant
from tests.export.onnx_checks import MIN_OPSET, exported_outputs, onnx

RNG = np.random.default_rng(11)


def quantized_dense(k, n, *, bias=True, activation="linear", input_scale=None, rank=2):
    w_q, scale = quant.quantize_kernel(RNG.standard_normal((k, n)).astype(np.float32))
    x = gc.placeholder((None,) * (rank - 1) + (k,), "float32", name="x")
    b = gc.shared(RNG.standard_normal(n).astype(np.float32)) if bias else None
    return x, gc.quantized_matmul(x, gc.shared(quant.pack_weights(w_q)), gc.shared(scale), b,
                                  activation=activation, input_scale=input_scale)


@pytest.mark.parametrize("backend", ["llvm", "numpy"])
@pytest.mark.parametrize("rows, k, n, kwargs", [
    (1, 33, 7, {}),
    (7, 257, 33, {"activation": "relu"}),
    (257, 16, 1, {"bias": False}),
    (33, 40, 17, {"input_scale": 9.5, "activation": "relu"}),
])
def test_quantized_matmul_is_bit_exact(backend, rows, k, n, kwargs, tmp_path):
    x, y = quantized_dense(k, n, **kwargs)
    fn = gc.function([x], y, backend=backend)
    xs = (RNG.standard_normal((rows, k)) * 3).astype(np.float32)
    (got,) = exported_outputs(fn, [xs], tmp_path)
    np.testing.assert_array_equal(got, fn(xs))


def test_leading_axes_and_the_lowest_opset(tmp_path):
    x, y = quantized_dense(20, 9, activation="relu", rank=3)
    fn = gc.function([x], y)
    xs = RNG.standard_normal((2, 5, 20)).astype(np.float32)
    (got,) = exported_outputs(fn, [xs], tmp_path, opset=MIN_OPSET)
    np.testing.assert_array_equal(got, fn(xs))


@pytest.mark.parametrize("rank, kernel, strides, dilation, padding", [
    (1, (3,), (2,), (1,), "same"),
    (2, (3, 3), (1, 1), (1, 1), "valid"),
    (2, (2, 3), (2, 1), (1, 2), "same"),
])
def test_quantized_conv_is_bit_exact(rank, kernel, strides, dilation, padding, tmp_path):
    cin, filters = 5, 7
    w_q, scale = quant.quantize_kernel(
        RNG.standard_normal((np.prod(kernel) * cin, filters)).astype(np.float32))
    x = gc.placeholder((None,) + (9,) * rank + (cin,), "float32", name="x")
    y = gc.quantized_conv(x, gc.shared(quant.pack_weights(w_q)), gc.shared(scale),
                          gc.shared(RNG.standard_normal(filters).astype(np.float32)),
                          kernel_size=kernel, strides=strides, padding=padding,
                          dilation_rate=dilation, activation="relu")
    fn = gc.function([x], y)
    xs = RNG.standard_normal((3,) + (9,) * rank + (cin,)).astype(np.float32)
    (got,) = exported_outputs(fn, [xs], tmp_path)
    np.testing.assert_array_equal(got, fn(xs))


def quantized(model, x):
    model.predict(x[:1], verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # layers that stay float32 are named: not tested here
        model.quantize("int8")
    return model


def int8_initializers(path):
    model = onnx.load(str(path))
    return ({t.name for t in model.graph.initializer if t.data_type == onnx.TensorProto.INT8},
            [n.op_type for n in model.graph.node])


def test_quantized_mlp_and_convnet_export_int8_and_equal_predict(tmp_path):
    mlp = models.Sequential([layers.Input((64,)), layers.Dense(33, activation="relu"),
                             layers.Dense(10)])
    convnet = models.Sequential([
        layers.Input((12, 12, 1)), layers.Conv2D(8, 3, activation="relu"),
        layers.Conv2D(16, 3, padding="same", activation="relu"), layers.MaxPooling2D(2),
        layers.Flatten(), layers.Dense(10)])
    for model, shape in ((mlp, (7, 64)), (convnet, (7, 12, 12, 1))):
        x = RNG.standard_normal(shape).astype(np.float32)
        quantized(model, x)
        (got,) = exported_outputs(model, [x], tmp_path)
        np.testing.assert_array_equal(got, model.predict(x, verbose=0))
        names, ops = int8_initializers(tmp_path / "model.onnx")
        int8_layers = [layer for layer in model.layers if layer.quantization]
        assert {n.split("/")[0] for n in names} == {layer.name for layer in int8_layers}
        assert ops.count("MatMulInteger") == len(int8_layers)


def test_quantized_attention_exports_int8(tmp_path):
    x_in = layers.Input((6, 32))
    model = models.Model(x_in, layers.MultiHeadAttention(2, 16)(x_in, x_in))
    x = RNG.standard_normal((7, 6, 32)).astype(np.float32)
    quantized(model, x)
    (got,) = exported_outputs(model, [x], tmp_path)
    # the projections are bit-exact; the float32 attention between them rounds its own way
    np.testing.assert_allclose(got, model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    assert int8_initializers(tmp_path / "model.onnx")[1].count("MatMulInteger") == 4
