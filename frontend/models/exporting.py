"""`model.export(filepath, format=...)`, as in Keras 3: one exporter per format in EXPORTERS
(each a function of the model, the path, verbose and the format's own keyword arguments)."""

from __future__ import annotations

import graphc as gc
from graphc.ir import user_site


def export_shared_library(model, filepath, verbose=True, train_step=False, **kwargs):
    """The model's inference (predict) as a C library: libNAME.so, libNAME.a, NAME.h and a
    README in the folder `filepath` (see graphc.export.export for name, cpu, weights_file and
    batch_chunk). train_step=True adds NAME_train_step: the compiled training step that the
    model's last fit or train_on_batch ran, for fine-tuning without Python."""
    kwargs["name"] = kwargs.get("name") or model.name
    if train_step:
        kwargs["train_function"] = model.train_function
        if kwargs["train_function"] is None:
            raise ValueError(f"Model.export: train_step=True needs the compiled training step "
                             f"of model {model.name!r}: compile it and run fit or "
                             f"train_on_batch once first (called at {user_site()})")
    result = gc.export(model.make_predict_function("llvm"), filepath, **kwargs)
    if verbose:
        print(f"Saved the C library {result.name} (lib{result.name}.so, lib{result.name}.a, "
              f"{result.name}.h) for cpu {result.cpu} at '{filepath}'.")
    return result


def export_onnx_file(model, filepath, verbose=True, opset=None):
    """The model's inference (predict) as one ONNX file (graphc.onnx.export_onnx; needs the
    onnx extra); `opset` as there."""
    onnx_model = gc.export_onnx(model, filepath, opset=opset)
    if verbose:
        print(f"Saved the ONNX model {model.name!r} (opset {onnx_model.opset_import[0].version}) "
              f"at '{filepath}'.")
    return onnx_model


EXPORTERS = {"so": export_shared_library, "onnx": export_onnx_file}


def export_model(model, filepath, format="so", verbose=True, **kwargs):  # noqa: A002 - Keras's
    exporter = EXPORTERS.get(format)
    if exporter is None:
        raise ValueError(f"Model.export: unknown format {format!r}; graphc exports "
                         f"{', '.join(sorted(EXPORTERS))} (called at {user_site()})")
    return exporter(model, filepath, verbose=verbose, **kwargs)
