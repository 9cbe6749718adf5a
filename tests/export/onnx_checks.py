"""Shared by the ONNX export tests: export, check with onnx.checker, run with onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="ONNX export needs onnx (pip install onnx)")
ort = pytest.importorskip("onnxruntime", reason="running exports needs onnxruntime "
                          "(pip install onnxruntime)")

from graphc.onnx import (  # noqa: E402, F401  (after the skips: it needs onnx)
    DEFAULT_OPSET,
    MIN_OPSET,
    OnnxExportError,
    export_onnx,
)
from graphc.onnx.convert import EMITTERS  # noqa: E402, F401  (for the tests, after the skips)


def run_exported(path, arrays) -> list:
    """The outputs onnxruntime computes from the file at `path` for `arrays`, in input order."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {i.name: np.asarray(a) for i, a in zip(session.get_inputs(), arrays)}
    return session.run(None, feed)


def exported_outputs(model_or_function, arrays, tmp_path, opset=None) -> list:
    """Export, check the file with onnx.checker, and run it on `arrays`."""
    path = tmp_path / "model.onnx"
    export_onnx(model_or_function, path, opset=opset)
    onnx.checker.check_model(str(path), full_check=True)
    return run_exported(path, arrays)


def assert_close(got: list, want: list, atol=1e-5) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == np.shape(w) and g.dtype == np.asarray(w).dtype
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=atol)


def assert_model_matches_predict(model, arrays, tmp_path, opset=None) -> None:
    """The exported model equals `model.predict` on `arrays` (one array per input)."""
    want = model.predict(arrays if len(arrays) > 1 else arrays[0], verbose=0)
    want = want if isinstance(want, list) else [want]
    assert_close(exported_outputs(model, arrays, tmp_path, opset), want)
