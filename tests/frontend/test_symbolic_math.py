"""Math directly on symbolic KerasTensors while a functional model is built (Keras 3 allows
it): each operator or frontend.ops call becomes an op layer, listed by summary, drawn by
plot_model, trained, saved and reloaded in safe mode (no code) on both backends."""

import json

import numpy as np
import pytest

import frontend as keras
from frontend import ops
from frontend.layers.op_layer import OpLayer
from frontend.models import load_model
from tests.frontend.conftest import BACKENDS

W = np.arange(12, dtype="float32").reshape(4, 3) / 10


def build():
    inputs = keras.Input(shape=(4,))
    h = keras.layers.Dense(4, name="dense")(inputs)
    x = h + inputs  # residual
    x = 2 - x * 2
    x = -x / 4.0
    y = x @ W  # a NumPy constant, stored in the config
    first = y[:, 0]
    mean = ops.mean(y, axis=1)
    stacked = ops.stack([first, mean], axis=1)
    positive = stacked > 0
    out = ops.where(positive, stacked, ops.zeros_like(stacked))
    return keras.Model(inputs, [out, positive], name="symbolic"), (x, y, first, positive)


def expected(model, data):
    kernel, bias = model.get_layer("dense").get_weights()
    x = -(2 - (data @ kernel + bias + data) * 2) / 4.0
    y = x @ W
    stacked = np.stack([y[:, 0], y.mean(axis=1)], axis=1)
    return np.where(stacked > 0, stacked, 0), stacked > 0


def test_each_operation_is_an_op_layer_named_like_keras():
    model, (x, y, first, positive) = build()
    ops_layers = [layer for layer in model.layers if isinstance(layer, OpLayer)]
    assert [layer.name for layer in ops_layers] == [
        "add",
        "multiply",
        "subtract",
        "negative",
        "true_divide",
        "matmul",
        "get_item",
        "mean",
        "stack",
        "greater",
        "zeros_like",
        "where",
    ]
    assert x.shape == (None, 4) and y.shape == (None, 3) and first.shape == (None,)
    assert positive.dtype == "bool" and x.dtype == "float32"
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "add (OpLayer)" in text and "mean (OpLayer)" in text and "get_item (OpLayer)" in text


def test_plot_model_draws_the_op_layers(tmp_path, monkeypatch):
    import graphc.viz

    seen = {}
    monkeypatch.setattr(
        graphc.viz,
        "draw_layers",
        lambda records, to_file, **kw: seen.update(records=records),
        raising=False,
    )
    model, _ = build()
    keras.utils.plot_model(model, str(tmp_path / "m.png"))
    names = [r["name"] for r in seen["records"]]
    assert {"add", "matmul", "get_item", "mean"} <= set(names)


@pytest.mark.parametrize("backend", BACKENDS)
def test_predicts_and_reloads_in_safe_mode_on_each_backend(backend, tmp_path):
    keras.backend.set_default_backend(backend)
    model, _ = build()
    data = np.random.default_rng(1).standard_normal((6, 4)).astype("float32")
    out, positive = model.predict(data, verbose=0)
    want_out, want_positive = expected(model, data)
    np.testing.assert_allclose(out, want_out, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(positive, want_positive)

    path = str(tmp_path / "symbolic.keras")
    model.save(path)
    config = json.dumps(model.get_config())
    assert "bytecode" not in config and '"function": "matmul"' in config
    loaded = load_model(path)  # safe mode: op layers load from their names, no code runs
    again, _ = loaded.predict(data, verbose=0)
    np.testing.assert_array_equal(again, out)


@pytest.mark.parametrize("backend", BACKENDS)
def test_model_with_symbolic_math_trains(backend):
    inputs = keras.Input(shape=(3,))
    h = keras.layers.Dense(8, activation="relu")(inputs)
    h = ops.concatenate([h, inputs * 0.5], axis=-1)
    out = keras.layers.Dense(1)(h) + ops.sum(inputs, axis=1, keepdims=True)
    model = keras.Model(inputs, out)
    model.compile(optimizer="adam", loss="mse", backend=backend)
    x = np.random.default_rng(0).standard_normal((64, 3)).astype("float32")
    y = 2 * x.sum(axis=1, keepdims=True)
    history = model.fit(x, y, epochs=4, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_reverse_operators_comparisons_and_indexing():
    inputs = keras.Input(shape=(2, 3))
    outs = [
        1.0 - inputs,
        3 * inputs,
        1.0 / (inputs + 2.0),
        inputs**2,
        abs(inputs),
        inputs[:, 0],
        inputs[..., 1:],
        inputs[:, None, 1, ::2],
        inputs >= 0.5,
        np.ones(3, "float32") + inputs,
        inputs != 0.5,
        round(inputs * 4),
        inputs.reshape((-1, 6)),
        inputs[:, np.int64(1)] * np.float32(2),
    ]
    model = keras.Model(inputs, outs)
    data = np.random.default_rng(2).uniform(0, 1, (4, 2, 3)).astype("float32")
    got = model.predict(data, verbose=0)
    want = [
        1.0 - data,
        3 * data,
        1.0 / (data + 2.0),
        data**2,
        np.abs(data),
        data[:, 0],
        data[..., 1:],
        data[:, None, 1, ::2],
        data >= 0.5,
        1 + data,
        data != 0.5,
        np.round(data * 4),
        data.reshape((-1, 6)),
        data[:, 1] * 2,
    ]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-6)


def test_mixing_a_graph_node_with_keras_tensors_is_refused():
    import graphc as gc

    inputs = keras.Input(shape=(2,))
    with pytest.raises(TypeError, match="cannot mix a graphc node"):
        ops.add(inputs, gc.constant(np.ones(2, "float32")))


def test_unknown_op_in_a_config_is_refused_with_the_known_names():
    with pytest.raises(ValueError, match="OpLayer: unknown op 'ad'.*Did you mean `add`"):
        OpLayer.from_config({"function": "ad", "arguments": {"args": [], "kwargs": {}}})
