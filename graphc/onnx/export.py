"""`export_onnx`: write a frontend model's or a `gc.function`'s inference graph as ONNX."""

from __future__ import annotations

import onnx

from graphc.files import atomic_write
from graphc.function import Function
from graphc.ir import user_site
from graphc.onnx.convert import check_exportable, to_onnx

MIN_OPSET = 13  # Squeeze/Unsqueeze/Slice take their axes as inputs from here on
# opset 21 is the newest that onnxruntime >= 1.18 runs; an older onnx package caps it lower
DEFAULT_OPSET = min(21, onnx.defs.onnx_opset_version())


def export_onnx(model_or_function, path, opset=None) -> onnx.ModelProto:
    """Write the inference graph of a model (its `predict`) or of a `gc.function` to `path`
    as an ONNX model, and return the model.

    Args:
        model_or_function: a built frontend model (anything with `make_predict_function`) or a
            graphc Function without updates.
        path: the .onnx file to write (atomically: an old file stays whole on a failure).
        opset: the ONNX opset, from 13 (MIN_OPSET) to what the installed onnx knows; default
            21 (DEFAULT_OPSET, lower if the installed onnx stops earlier). LayerNormalization
            is one node from opset 17 on, written out in Reduce ops before.
    Inputs keep the placeholders' names and a dynamic batch size ('batch'); outputs are
    named output_0, output_1, ...
    Raises:
        OnnxExportError listing every op ONNX cannot express (name, op, file:line), before
        anything is written.
    Example:
        export_onnx(model, "model.onnx"); onnxruntime.InferenceSession("model.onnx")
    """
    function, what = inference_function(model_or_function)
    opset = checked_opset(opset)
    graph = function.graph("optimized")
    check_exportable(graph, what)
    model = to_onnx(graph, opset, function.name or "graphc")
    onnx.checker.check_model(model, full_check=True)
    data = model.SerializeToString()
    atomic_write(path, lambda f: f.write(data))
    return model


def inference_function(obj) -> tuple[Function, str]:
    """The Function to export and how to name it in errors."""
    if isinstance(obj, Function):
        label = f"function {obj.name!r}" if obj.name else "function"
        return obj, f"{label} (built at {obj.site})"
    if hasattr(obj, "make_predict_function"):
        return obj.make_predict_function("numpy"), f"model {getattr(obj, 'name', '')!r}"
    raise TypeError(
        f"export_onnx exports a model or a gc.function, got {type(obj).__name__} "
        f"(at {user_site()})"
    )


def checked_opset(opset) -> int:
    if opset is None:
        return DEFAULT_OPSET
    newest = onnx.defs.onnx_opset_version()
    if not isinstance(opset, int) or isinstance(opset, bool) or not MIN_OPSET <= opset <= newest:
        raise ValueError(
            f"export_onnx: opset must be an int from {MIN_OPSET} to {newest} (the installed "
            f"onnx's newest), got {opset!r} (at {user_site()})"
        )
    return opset
