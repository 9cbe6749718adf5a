"""Rebuilding models: from a config dict, from `model.to_json()`, and from a file written by
`model.save` (see frontend/models/saving.py for the file's layout). Above `model` and
`sequential`, since it names their classes."""

from __future__ import annotations

import json
import os

from frontend.layers.lambda_layer import SAFE_MODE
from frontend.models.compile_config import compile_from_config
from frontend.models.model import Model
from frontend.models.saving import (
    FORMAT,
    FORMAT_VERSION,
    assign_weights,
    npz_to_arrays,
    parse_json,
    read_archive,
)
from frontend.models.sequential import Sequential


def model_from_dict(spec: dict, custom_objects=None):
    classes = {
        "Functional": Model,
        "Model": Model,
        "Sequential": Sequential,
        **(custom_objects or {}),
    }
    if spec.get("class_name") not in classes:
        raise ValueError(
            f"Unknown model class {spec.get('class_name')!r}; pass it in custom_objects"
        )
    return classes[spec["class_name"]].from_config(spec["config"], custom_objects=custom_objects)


def model_from_json(json_string: str, custom_objects=None):
    """A model (with fresh weights) from `model.to_json()`."""
    return model_from_dict(json.loads(json_string), custom_objects)


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):  # noqa: A002
    """Load a model written by `model.save` (architecture, weights, compile settings and
    optimizer state). Nothing in the file is unpickled or run as code.

    Args:
        filepath: the saved zip file.
        custom_objects: {name: class or function} for custom layers, losses and metrics.
        compile: recompile with the saved settings (and restore the optimizer's state).
        safe_mode: refuse Lambda layers, whose functions are stored as bytecode; pass
            False only for files you trust.
    Example: `model = load_model("mnist_mlp.keras")`
    """
    path = os.fspath(filepath)
    members = read_archive(path)
    meta = parse_json(members["metadata.json"], f"{path}: metadata.json")
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path} is not a graphc model file (format {meta.get('format')!r})")
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(
            f"{path} was written by a newer graphc (format version "
            f"{meta['format_version']}); upgrade graphc to load it"
        )
    config = parse_json(members["config.json"], f"{path}: config.json")
    previous, SAFE_MODE["enabled"] = SAFE_MODE["enabled"], bool(safe_mode)
    try:
        model = model_from_dict(config, custom_objects)
    finally:
        SAFE_MODE["enabled"] = previous
    weights, names = npz_to_arrays(members["model.weights.npz"], f"{path}: model.weights.npz")
    assign_weights(model, weights, names, path)
    if compile and config.get("compile_config"):
        compile_from_config(model, config["compile_config"], custom_objects)
        if "optimizer.npz" in members and getattr(model, "compiled", False):
            state, _ = npz_to_arrays(members["optimizer.npz"], f"{path}: optimizer.npz")
            model.optimizer.set_state(state)
    return model
