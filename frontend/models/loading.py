"""Rebuilding models: from a config dict, from `model.to_json()`, and from a file written by
`model.save` (see frontend/models/saving.py for the file's layout). Above `model` and
`sequential`, since it names their classes."""

from __future__ import annotations

import json
import os

from frontend.layers.lambda_layer import safe_mode as lambda_safe_mode
from frontend.layers.registry import LAYERS
from frontend.layers.stored_weights import weights_must_match
from frontend.models.archive import (
    FileFormatError,
    expansion_limit,
    npz_to_arrays,
    parse_json,
    read_model_archive,
)
from frontend.models.compile_config import compile_from_config
from frontend.models.config_check import check_saved_config, config_faults_named
from frontend.models.keras_format import is_keras_archive, load_keras_model
from frontend.models.legacy_h5 import load_legacy_h5
from frontend.models.legacy_h5_weights import is_hdf5
from frontend.models.model import Model
from frontend.models.saving import FORMAT, FORMAT_VERSION, assign_weights
from frontend.models.sequential import Sequential
from frontend.models.serialization import is_functional_config
from graphc.ir import user_site


def model_from_dict(spec: dict, custom_objects=None):
    cls = model_class(spec.get("class_name"), custom_objects)
    model = cls.from_config(spec["config"], custom_objects=custom_objects)
    if spec.get("build_config") is not None and not model.built_graph:
        model.build_from_config(spec["build_config"])
    return model


def is_subclass_spec(spec) -> bool:
    return (
        isinstance(spec, dict)
        and isinstance(spec.get("config"), dict)
        and spec.get("class_name") not in ("Functional", "Model", "Sequential")
        and not is_functional_config(spec["config"])
    )


def model_class(class_name, custom_objects=None) -> type:
    """The class a saved model names: a built-in model, one in `custom_objects`, or a Model
    subclass defined (so registered) in this program; the file's code is never run."""
    builtin = {"Functional": Model, "Model": Model, "Sequential": Sequential}
    cls = {**builtin, **(custom_objects or {})}.get(class_name) or LAYERS.get(class_name)
    if not (isinstance(cls, type) and issubclass(cls, Model)):
        raise ValueError(
            f"Unknown model class {class_name!r}: the file holds a subclassed model whose "
            f"class is not defined here. Define or import the class before loading, or pass "
            f"it: load_model(path, custom_objects={{{class_name!r}: {class_name}}})"
        )
    return cls


def model_from_json(json_string: str, custom_objects=None):
    """A model (with fresh weights) from `model.to_json()`."""
    return model_from_dict(json.loads(json_string), custom_objects)


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):  # noqa: A002
    """Load a model written by `model.save` (architecture, weights, compile settings and
    optimizer state), or by Keras 3 (`.keras`, and Keras 2 style full-model `.h5`; the format
    is read from the file's content). Nothing in the file is unpickled or run as code.

    Args:
        filepath: the saved zip file.
        custom_objects: {name: class or function} for custom layers, losses and metrics.
        compile: recompile with the saved settings (and restore the optimizer's state).
        safe_mode: refuse Lambda layers, whose functions are stored as bytecode; pass
            False only for files you trust.
    Example: `model = load_model("mnist_mlp.keras")`
    """
    path = os.fspath(filepath)
    if os.path.isfile(path) and (is_keras_archive(path) or is_hdf5(path)):  # Keras's files
        load = load_keras_model if is_keras_archive(path) else load_legacy_h5
        try:
            return load(path, custom_objects, compile=compile, safe_mode=safe_mode)
        except FileFormatError as err:  # name the user's load_model line
            raise type(err)(f"{err} (load_model at {user_site()})") from None
    try:
        members = read_model_archive(path)
    except (FileNotFoundError, FileFormatError) as err:  # name the user's load_model line
        raise type(err)(f"{err} (load_model at {user_site()})") from None
    check_metadata(parse_json(members["metadata.json"], f"{path}: metadata.json"), path)
    config = parse_json(members["config.json"], f"{path}: config.json")
    limit = expansion_limit(path)
    what = f"{path}: model.weights.npz"
    weights, names = npz_to_arrays(members["model.weights.npz"], what, limit)
    if not is_subclass_spec(config):  # a subclass's config holds its own __init__ arguments
        check_saved_config(config, f"{path}: config.json", custom_objects)
    with (
        lambda_safe_mode(safe_mode),
        weights_must_match([w.shape for w in weights], path),
        config_faults_named(f"{path}: config.json"),
    ):
        model = model_from_dict(config, custom_objects)
        assign_weights(model, weights, names, path)  # builds a lazy Sequential first
    if compile and config.get("compile_config"):
        with config_faults_named(f"{path}: config.json['compile_config']"):
            compile_from_config(model, config["compile_config"], custom_objects)
        if "optimizer.npz" in members and getattr(model, "compiled", False):
            what = f"{path}: optimizer.npz"
            restore_optimizer(model, npz_to_arrays(members["optimizer.npz"], what, limit)[0], what)
    return model


def check_metadata(meta, path: str) -> None:
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else meta
        raise FileFormatError(f"{path} is not a graphc model file (format {found!r})")
    version = meta.get("format_version", 0)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise FileFormatError(
            f"{path} was written by a newer graphc (format version {version!r}); upgrade "
            f"graphc to load it"
        )


def restore_optimizer(model, state: list, what: str) -> None:
    """The optimizer's slots, built now and filled from `state`: a state that does not fit
    fails here, naming the file and member, not at the next fit."""
    try:
        model.optimizer.build(model.trainable_weights)
        model.optimizer.set_state(state)
    except ValueError as err:
        raise FileFormatError(f"{what}: {err}") from None
