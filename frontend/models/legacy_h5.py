"""Keras 2 full-model `.h5` files (which Keras 3 still writes for `model.save("x.h5")`).

The file's root attributes hold `model_config` (the model's JSON config) and
`training_config` (its compile settings, with `optimizer_config`); the group `model_weights`
lists its layers in the attribute `layer_names`, and each layer's group lists its datasets in
`weight_names`, in the layer's weight order. Nothing in the file runs as code.
"""

from __future__ import annotations

from frontend.layers.lambda_layer import safe_mode as lambda_safe_mode
from frontend.models.archive import FileFormatError
from frontend.models.compile_config import compile_from_config
from frontend.models.config_check import config_faults_named
from frontend.models.keras_format import (
    graphc_compile_config,
    model_from_keras_config,
    refuse_lambdas,
)
from frontend.models.keras_format_config import from_keras
from frontend.models.keras_format_h5 import h5py, require_h5py, walk
from frontend.models.legacy_h5_weights import json_attribute, load_legacy_weights


def load_legacy_h5(path: str, custom_objects=None, compile=True, safe_mode=True):  # noqa: A002
    """A graphc model from a Keras 2 style full-model .h5 file (see the module docstring)."""
    require_h5py(f"Loading {path}")
    try:
        h5file = h5py.File(path, "r")
    except OSError as err:
        raise FileFormatError(f"{path} is not a readable HDF5 file ({err})") from None
    with h5file:
        config = json_attribute(h5file, "model_config", path)
        if not isinstance(config, dict) or "model_weights" not in h5file:
            raise FileFormatError(
                f"{path} is an HDF5 file but not a Keras full-model file (it lacks "
                f"model_config or model_weights; a weights-only file loads with load_weights)"
            )
        where = f"{path}: model_config"
        refuse_lambdas(config, safe_mode, where)
        with lambda_safe_mode(safe_mode), config_faults_named(where):
            model = model_from_keras_config(config, custom_objects, where)
        load_legacy_weights(model, walk(h5file, "model_weights", path), path)
        training = json_attribute(h5file, "training_config", path)
    if compile and isinstance(training, dict):
        where = f"{path}: training_config"
        with config_faults_named(where):
            settings = from_keras(training, where)
            settings["optimizer"] = settings.pop("optimizer_config", None)
            compile_from_config(model, graphc_compile_config(settings), custom_objects)
    return model
