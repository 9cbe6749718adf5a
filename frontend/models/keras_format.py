"""Keras 3's `.keras` files, in and out.

Reading them (frontend/models/keras_format_save.py writes them). A Keras 3 file is a zip of
    config.json       the model as {module, class_name, config, registered_name, build_config,
                      compile_config} (frontend/models/keras_format_config.py translates it)
    metadata.json     {"keras_version", "date_saved"}
    model.weights.h5  the weights by layer path (frontend/models/keras_format_weights.py)
graphc's own files hold model.weights.npz instead, which is how `load_model` tells them apart
(by content, never by extension). Loading runs no code from the file: Lambda layers need
safe_mode=False, and even then Keras's Lambda bytecode is refused.
"""

from __future__ import annotations

import zipfile
import zlib

from frontend import backend
from frontend.layers.lambda_layer import safe_mode as lambda_safe_mode
from frontend.layers.registry import LAYERS
from frontend.models.archive import (
    FileFormatError,
    expansion_limit,
    parse_json,
    read_members,
)
from frontend.models.compile_config import compile_from_config
from frontend.models.config_check import config_faults_named
from frontend.models.keras_format_config import MODEL_CLASSES, from_keras
from frontend.models.keras_format_weights import load_keras_weights
from frontend.models.model import Model
from frontend.models.sequential import Sequential

KERAS_MEMBERS = ("config.json", "model.weights.h5")


def is_keras_archive(path: str) -> bool:
    """A zip holding Keras 3's members (graphc's own files hold model.weights.npz)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return set(KERAS_MEMBERS) <= set(archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def read_keras_archive(path: str) -> dict:
    try:
        with zipfile.ZipFile(path) as archive:
            return read_members(archive, list(KERAS_MEMBERS), path, expansion_limit(path))
    except (zipfile.BadZipFile, zlib.error, EOFError) as err:
        raise FileFormatError(f"{path} is corrupt or truncated ({err})") from None


def refuse_lambdas(spec, safe_mode: bool, where: str) -> None:
    """Keras's rule: a Lambda layer loads only with safe_mode=False."""
    if isinstance(spec, list):
        for item in spec:
            refuse_lambdas(item, safe_mode, where)
    elif isinstance(spec, dict):
        if spec.get("class_name") == "Lambda" and safe_mode:
            raise ValueError(
                f"{where}: Lambda layer {spec.get('config', {}).get('name')!r} holds Python "
                f"code; refusing to load it in safe mode. Pass safe_mode=False only for files "
                f"you trust"
            )
        for value in spec.values():
            refuse_lambdas(value, safe_mode, where)


def model_from_keras_config(config: dict, custom_objects, where: str):
    """The graphc model (with fresh weights) a Keras 3 model config describes."""
    class_name = config.get("class_name")
    if class_name not in MODEL_CLASSES:
        known = class_name in LAYERS or class_name in (custom_objects or {})
        raise FileFormatError(
            f"{where}: the model is a {class_name!r} ({config.get('module')}); graphc reads "
            f"Keras 3 Sequential and Functional models"
            + ("" if known else ", and has no class of that name (a subclassed Keras model)")
        )
    spec = from_keras(config, where)
    cls = Sequential if class_name == "Sequential" else Model
    model = cls.from_config(spec["config"], custom_objects=custom_objects)
    build_config = spec.get("build_config") or build_input_config(config["config"])
    if build_config is not None and not model.built_graph:
        model.build_from_config(build_config)
    return model


def build_input_config(model_config: dict):
    """Keras 2 files keep a Sequential's input shape in its config, not in build_config."""
    shape = model_config.get("build_input_shape")
    return {"input_shape": shape} if shape is not None else None


def load_keras_model(path: str, custom_objects=None, compile=True, safe_mode=True):  # noqa: A002
    """A graphc model from the Keras 3 file `path` (see the module docstring)."""
    members = read_keras_archive(path)
    where = f"{path}: config.json"
    config = parse_json(members["config.json"], where)
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise FileFormatError(f"{where} holds no model config")
    refuse_lambdas(config, safe_mode, where)
    with lambda_safe_mode(safe_mode), config_faults_named(where):
        model = model_from_keras_config(config, custom_objects, where)
    layers = config["config"].get("layers", [])
    load_keras_weights(model, layers, members["model.weights.h5"], f"{path}: model.weights.h5")
    if compile and config.get("compile_config"):
        where = f"{path}: config.json['compile_config']"
        with config_faults_named(where):
            keras_compile = from_keras(config["compile_config"], where)
            compile_from_config(model, graphc_compile_config(keras_compile), custom_objects)
    return model


def graphc_compile_config(config: dict) -> dict:
    """Keras 3's compile_config keeps the options graphc's compile takes; Keras names no
    graphc backend, so the model compiles for the default one."""
    keep = ("optimizer", "loss", "loss_weights", "metrics", "weighted_metrics")
    return {**{k: config.get(k) for k in keep}, "backend": backend.default_backend()}
