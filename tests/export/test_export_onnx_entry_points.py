"""ONNX through the shared entry points: model.export(format="onnx") and `graphc export
--format onnx` for a saved model and for a Function in a Python file."""

import numpy as np
import pytest

pytest.importorskip("onnx", reason="ONNX export needs the onnx extra")
ort = pytest.importorskip("onnxruntime", reason="running the export needs onnxruntime")

from frontend.layers import Dense  # noqa: E402
from frontend.models import Sequential, load_model  # noqa: E402
from graphc.cli import main  # noqa: E402

FUNCTION_FILE = """
import numpy as np
import graphc as gc
x = gc.placeholder((None, 4), "float32", name="x")
w = gc.shared(np.arange(12, dtype="float32").reshape(4, 3) / 10, name="w")
scores = gc.function([x], gc.softmax(x @ w), name="scores")
"""


def run_onnx(path, x):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def small_model():
    model = Sequential([Dense(5, activation="relu", input_shape=(3,)), Dense(2)], name="tiny")
    model.build((None, 3))
    return model


def test_model_export_onnx_matches_predict(tmp_path, capsys):
    model = small_model()
    model.export(str(tmp_path / "tiny.onnx"), format="onnx", opset=17)
    assert "opset 17" in capsys.readouterr().out
    x = np.random.default_rng(1).random((7, 3)).astype("float32")
    np.testing.assert_allclose(run_onnx(tmp_path / "tiny.onnx", x),
                               model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_cli_exports_a_saved_model_and_a_function(tmp_path, monkeypatch, capsys):
    model = small_model()
    model.save(str(tmp_path / "tiny.zip"))
    assert main(["export", str(tmp_path / "tiny.zip"), "--format", "onnx",
                 "-o", str(tmp_path / "tiny.onnx")]) == 0
    x = np.ones((2, 3), "float32")
    want = load_model(str(tmp_path / "tiny.zip")).predict(x, verbose=0)
    np.testing.assert_allclose(run_onnx(tmp_path / "tiny.onnx", x), want, rtol=1e-5, atol=1e-6)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "scores.py").write_text(FUNCTION_FILE)
    assert main(["export", "scores.py:scores", "--format", "onnx", "-o", "s.onnx"]) == 0
    assert "ONNX opset" in capsys.readouterr().out
    logits = np.ones((2, 4)) @ (np.arange(12).reshape(4, 3) / 10)
    want = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(run_onnx(tmp_path / "s.onnx", np.ones((2, 4), "float32")),
                               want, rtol=1e-5)
