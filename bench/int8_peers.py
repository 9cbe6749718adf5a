"""The peers of bench_int8.py predict: the same models (same weights) in PyTorch (fp32 and
torch.ao.quantization.quantize_dynamic int8) and in onnxruntime (fp32 and
onnxruntime.quantization.quantize_dynamic int8, QInt8 weights). The ONNX graphs are written
with onnx.helper (no exporter): NCHW for the convnet, as the PyTorch model."""

from __future__ import annotations

import os
import tempfile

import numpy as np


def dense_weights(model, nchw=False) -> list:
    """[(kernel [K, N], bias, activation name)] of a float model's Dense layers; with `nchw`,
    the first kernel's rows follow an NCHW flatten (channels first) instead of NHWC's."""
    from frontend import activations
    out = [(layer.kernel.get_value(), layer.bias.get_value(),
            activations.serialize(layer.activation))
           for layer in model.layers if type(layer).__name__ == "Dense"]
    if nchw:
        w, b, act = out[0]
        channels = conv_weights(model)[-1][0].shape[-1]
        side = int(round((w.shape[0] // channels) ** 0.5))
        w = w.reshape(side, side, channels, -1).transpose(2, 0, 1, 3).reshape(w.shape)
        out[0] = (np.ascontiguousarray(w), b, act)
    return out


def conv_weights(model) -> list:
    return [(layer.kernel.get_value(), layer.bias.get_value())
            for layer in model.layers if type(layer).__name__ == "Conv2D"]


def torch_model(model, kind: str, threads: int):
    """fp32 and dynamic-int8 callables (numpy in, numpy out) of the MLP or the convnet."""
    import torch
    from torch import nn
    torch.set_num_threads(threads)
    layers = []
    for k, b in conv_weights(model) if kind == "cnn" else []:
        conv = nn.Conv2d(k.shape[2], k.shape[3], k.shape[:2])
        conv.weight.data = torch.from_numpy(k.transpose(3, 2, 0, 1).copy())
        conv.bias.data = torch.from_numpy(b)
        layers += [conv, nn.ReLU(), nn.MaxPool2d(2)]
    if kind == "cnn":
        layers.append(nn.Flatten())
    for w, b, act in dense_weights(model, kind == "cnn"):
        linear = nn.Linear(*w.shape)
        linear.weight.data, linear.bias.data = torch.from_numpy(w.T.copy()), torch.from_numpy(b)
        layers += [linear, nn.ReLU() if act == "relu" else nn.Softmax(-1)]
    fp32 = nn.Sequential(*layers).eval()
    int8 = torch.ao.quantization.quantize_dynamic(fp32, {nn.Linear}, dtype=torch.qint8)
    nchw = (lambda x: x.transpose(0, 3, 1, 2)) if kind == "cnn" else (lambda x: x)

    def call(net):
        def run(x):
            with torch.inference_mode():
                return net(torch.from_numpy(np.ascontiguousarray(nchw(x)))).numpy()
        return run
    return call(fp32), call(int8)


def onnx_graph(model, kind: str):
    """The model as an ONNX ModelProto (opset 17)."""
    from onnx import TensorProto, helper, numpy_helper
    nodes, inits, x = [], [], "x"
    if kind == "cnn":
        for i, (k, b) in enumerate(conv_weights(model)):
            inits += [numpy_helper.from_array(k.transpose(3, 2, 0, 1).copy(), f"k{i}"),
                      numpy_helper.from_array(b, f"kb{i}")]
            nodes += [helper.make_node("Conv", [x, f"k{i}", f"kb{i}"], [f"c{i}"]),
                      helper.make_node("Relu", [f"c{i}"], [f"r{i}"]),
                      helper.make_node("MaxPool", [f"r{i}"], [f"p{i}"], kernel_shape=[2, 2],
                                       strides=[2, 2])]
            x = f"p{i}"
        nodes.append(helper.make_node("Flatten", [x], ["flat"]))
        x = "flat"
    for i, (w, b, act) in enumerate(dense_weights(model, kind == "cnn")):
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(b, f"b{i}")]
        nodes += [helper.make_node("MatMul", [x, f"w{i}"], [f"m{i}"]),
                  helper.make_node("Add", [f"m{i}", f"b{i}"], [f"a{i}"]),
                  helper.make_node("Relu" if act == "relu" else "Softmax", [f"a{i}"], [f"y{i}"])]
        x = f"y{i}"
    shape = ["batch", 1, 28, 28] if kind == "cnn" else ["batch", 784]
    graph = helper.make_graph(
        nodes, f"mnist_{kind}", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["batch", 10])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def onnxruntime_model(model, kind: str, threads: int):
    """fp32 and quantize_dynamic int8 sessions as callables (numpy in, numpy out)."""
    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic
    folder = tempfile.mkdtemp(prefix="bench_int8_")
    fp32_path, int8_path = os.path.join(folder, "fp32.onnx"), os.path.join(folder, "int8.onnx")
    onnx.save(onnx_graph(model, kind), fp32_path)
    quantize_dynamic(fp32_path, int8_path, weight_type=QuantType.QInt8)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    nchw = (lambda x: x.transpose(0, 3, 1, 2)) if kind == "cnn" else (lambda x: x)

    def call(path):
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        return lambda x: session.run(None, {"x": np.ascontiguousarray(nchw(x))})[0]
    return call(fp32_path), call(int8_path)
