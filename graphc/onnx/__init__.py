"""ONNX export of graphc inference graphs: `export_onnx(model_or_function, path, opset=None)`.

Needs the optional `onnx` package (the `onnx` extra of this checkout, `pip install -e '.[onnx]'`,
which also installs onnxruntime to run the exported models). See docs/export.md for what exports.
"""

try:
    import onnx  # noqa: F401  (checked here so the error says what to install)
except ImportError as err:
    raise ImportError(
        "ONNX export needs the onnx package: pip install onnx onnxruntime"
    ) from err

from graphc.onnx.convert import OnnxExportError
from graphc.onnx.export import DEFAULT_OPSET, MIN_OPSET, export_onnx

__all__ = ["export_onnx", "OnnxExportError", "DEFAULT_OPSET", "MIN_OPSET"]
