"""export_onnx's contract: gc.functions export too, with a dynamic batch and the layers' names;
the opset is the user's; anything ONNX cannot express is listed in one error before writing."""

import numpy as np
import pytest

import frontend.layers as L
import graphc as gc
from frontend.models import Model
from tests.export.onnx_checks import (
    DEFAULT_OPSET,
    MIN_OPSET,
    OnnxExportError,
    assert_close,
    export_onnx,
    exported_outputs,
    onnx,
)


def theano_style_function(backend: str):
    x = gc.placeholder((None, 5), name="x")
    W = gc.shared(np.random.default_rng(0).normal(size=(5, 3)).astype("float32"), name="W")
    hidden = gc.tanh(gc.matmul(x, W)) + gc.maximum(x[:, :3], 0.0)
    scores = gc.concatenate([hidden, gc.exp(-hidden)], axis=1)
    outputs = [gc.softmax(scores), gc.sum(scores * scores, axis=1)]
    return gc.function([x], outputs, backend=backend, name="scores")


@pytest.mark.parametrize("backend", ["numpy", "llvm"])
@pytest.mark.parametrize("batch", [1, 7])
def test_function_matches_itself(backend, batch, tmp_path):
    fn = theano_style_function(backend)
    x = np.random.default_rng(batch).normal(size=(batch, 5)).astype("float32")
    assert_close(exported_outputs(fn, [x], tmp_path), fn(x))


def test_inputs_keep_names_and_a_dynamic_batch(tmp_path):
    model = export_onnx(theano_style_function("numpy"), tmp_path / "f.onnx")
    (x,) = model.graph.input
    dims = x.type.tensor_type.shape.dim
    assert x.name == "x" and dims[0].dim_param == "batch" and dims[1].dim_value == 5
    assert [o.name for o in model.graph.output] == ["output_0", "output_1"]
    assert model.opset_import[0].version == DEFAULT_OPSET


def test_nodes_are_named_after_layers(tmp_path):
    inputs = L.Input((4,))
    model = Model(inputs, L.Dense(2, name="classifier")(L.Dense(3, name="hidden")(inputs)))
    names = [n.name for n in export_onnx(model, tmp_path / "m.onnx").graph.node]
    assert any(n.startswith("hidden/MatMul") for n in names)
    assert any(n.startswith("classifier/MatMul") for n in names)


@pytest.mark.parametrize("opset", [MIN_OPSET, 17, DEFAULT_OPSET])
def test_opset_is_the_users(opset, tmp_path):
    inputs = L.Input((3, 4))
    model = Model(inputs, L.LayerNormalization()(L.Dense(4)(inputs)))
    written = export_onnx(model, tmp_path / "m.onnx", opset=opset)
    assert written.opset_import[0].version == opset
    layer_norm_nodes = [n for n in written.graph.node if n.op_type == "LayerNormalization"]
    assert bool(layer_norm_nodes) == (opset >= 17)
    x = np.random.default_rng(0).normal(size=(2, 3, 4)).astype("float32")
    assert_close(exported_outputs(model, [x], tmp_path, opset), [model.predict(x, verbose=0)])


@pytest.mark.parametrize("opset", [MIN_OPSET - 1, onnx.defs.onnx_opset_version() + 1, "21"])
def test_bad_opset_is_refused(opset, tmp_path):
    with pytest.raises(ValueError, match=r"opset must be an int from 13 .*test_onnx_api.py:\d+"):
        export_onnx(theano_style_function("numpy"), tmp_path / "f.onnx", opset=opset)


def test_unexportable_ops_are_all_listed_before_writing(tmp_path):
    x = gc.placeholder((None, 4), name="x")
    W = gc.shared(np.ones((4, 2), "float32"), name="W")
    noise = gc.random_uniform(gc.constant(np.int64(7)), x)
    loss = gc.sum(gc.matmul(x * noise, W))
    counter = gc.shared(np.zeros((), "float32"), name="calls")
    fn = gc.function([x], [loss, gc.grad(loss, x)], updates=[(counter, counter + 1)],
                     backend="numpy")
    path = tmp_path / "f.onnx"
    path.write_bytes(b"old")
    with pytest.raises(OnnxExportError) as caught:
        export_onnx(fn, path)
    message = str(caught.value)
    assert "random_uniform" in message and "ONNX has no equivalent" in message
    assert "'calls'" in message or "calls (op 'shared'" in message
    assert "updates this variable" in message and "test_onnx_api.py:" in message
    assert path.read_bytes() == b"old"


def test_stateful_model_is_refused(tmp_path):
    inputs = L.Input((3, 2), batch_size=2)
    model = Model(inputs, L.LSTM(2, stateful=True)(inputs))
    with pytest.raises(OnnxExportError, match="an ONNX model has no state between runs"):
        export_onnx(model, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_other_objects_are_refused(tmp_path):
    with pytest.raises(TypeError, match=r"exports a model or a gc.function, got list"):
        export_onnx([1, 2], tmp_path / "x.onnx")


def test_recurrent_nodes_read_the_layers_weights(tmp_path):
    inputs = L.Input((5, 3))
    x = L.LSTM(4, return_sequences=True, name="encoder")(inputs)
    model = Model(inputs, L.GRU(2, name="decoder")(x))
    graph = export_onnx(model, tmp_path / "m.onnx").graph
    kinds = {n.op_type: n for n in graph.node}
    assert kinds["LSTM"].name.startswith("encoder/") and kinds["GRU"].name.startswith("decoder/")
    gru_attrs = {a.name: a.i for a in kinds["GRU"].attribute}
    assert gru_attrs == {"hidden_size": 2, "linear_before_reset": 1}
    weights = {i.name for i in graph.initializer}
    assert {"encoder/kernel", "encoder/recurrent_kernel", "decoder/kernel"} <= weights
    assert not any(name.endswith("/W") for name in weights)  # no identity input kernel


@pytest.mark.parametrize("steps", [1, 9])
def test_run_time_sequence_length(steps, tmp_path):
    inputs = L.Input((None, 3))
    x = L.LSTM(4, return_sequences=True)(L.Conv1D(4, 3, padding="same")(inputs))
    model = Model(inputs, L.Bidirectional(L.GRU(2))(x))
    written = export_onnx(model, tmp_path / "m.onnx")
    time_axis = written.graph.input[0].type.tensor_type.shape.dim[1]
    assert time_axis.dim_param and not time_axis.dim_value
    x = np.random.default_rng(steps).normal(size=(2, steps, 3)).astype("float32")
    assert_close(exported_outputs(model, [x], tmp_path), [model.predict(x, verbose=0)])
