"""Writing Keras 3 files: `model.save(path, format="keras3")` and `save_weights("x.weights.h5")`.

The zip holds config.json (graphc's config in Keras 3's form, see keras_format_config.py),
metadata.json and model.weights.h5 (Keras 3's layer-path layout, see keras_format_weights.py).
Keras keeps its optimizer's variables too; graphc's differ from Keras's, so a Keras 3 file
from graphc holds none and Keras starts the optimizer afresh (graphc's own format keeps it).
"""

from __future__ import annotations

import datetime
import io
import json
import os
import zipfile

import graphc
from frontend.layers.tensor import flatten
from frontend.models.compile_config import compile_config
from frontend.models.keras_format_config import to_keras
from frontend.models.keras_format_weights import write_keras_weights
from frontend.models.serialization import model_to_dict
from graphc.files import atomic_write

KERAS_LAYOUT_VERSION = "3.0.0"  # the Keras 3 file layout written (Keras reads no version)
GRAPHC_ONLY = ("OpLayer", "Lambda")


def tensor_specs(model) -> dict:
    """{(layer, call, output): (shape, dtype)} of a functional model's tensors."""
    graph = model._require_graph()
    tensors = flatten(graph.inputs) + flatten(graph.outputs)
    for record in graph.records:
        tensors += flatten(record.inputs)
    return {(t.history[0].name, *t.history[1:]): (t.shape, str(t.dtype)) for t in tensors}


def keras_config(model) -> dict:
    spec = model_to_dict(model)
    spec.pop("module", None)
    functional = spec["class_name"] == "Functional"
    config = to_keras(spec, tensor_specs(model) if functional else {})
    config["compile_config"] = keras_compile_config(model)
    return config


def keras_compile_config(model):
    config = compile_config(model)
    if config is None:
        return None
    optimizer = to_keras(config["optimizer"], {}, "keras.optimizers")
    optimizer["registered_name"] = optimizer["class_name"]  # as Keras writes optimizers
    keras_keys = ("loss", "loss_weights", "metrics", "weighted_metrics")  # compile() takes
    return {"optimizer": optimizer, **{k: config.get(k) for k in keras_keys}}


def save_keras_model(model, path: str) -> None:
    """Write `model` as a Keras 3 file, atomically (the optimizer's state is not kept)."""
    refuse_non_keras_layers(model)
    config = keras_config(model)
    weights = io.BytesIO()
    write_keras_weights(model, config["config"].get("layers", []), weights)
    metadata = {
        "keras_version": KERAS_LAYOUT_VERSION,
        "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
        "written_by": f"graphc {graphc.__version__}",
    }
    members = {
        "metadata.json": json.dumps(metadata).encode(),
        "config.json": json.dumps(config).encode(),
        "model.weights.h5": weights.getvalue(),
    }

    def write(f):
        with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in members.items():
                archive.writestr(name, data)

    atomic_write(os.fspath(path), write)


def refuse_non_keras_layers(model) -> None:
    """Keras 3 loads only its own layer classes: graphc's OpLayer (an op on a symbolic
    tensor), Lambda functions of graphc nodes and user-defined layers cannot be saved."""
    if type(model).__name__ not in ("Sequential", "Model"):
        raise ValueError(
            f"Cannot save model '{model.name}' in Keras 3's format: it is a subclassed model "
            f"({type(model).__name__}), whose code Keras 3 does not have. Save it in graphc's "
            f"format (format=None) instead"
        )
    foreign = [
        f"'{name}' ({type(layer).__name__})"
        for name, layer in nested_layers(model)
        if type(layer).__name__ in GRAPHC_ONLY or not type(layer).__module__.startswith("frontend.")
    ]
    if foreign:
        raise ValueError(
            f"Cannot save model '{model.name}' in Keras 3's format: Keras 3 cannot load its "
            f"layers {', '.join(foreign)}. Save it in graphc's format (format=None) instead"
        )


def nested_layers(layer, prefix: str = "") -> list:
    """[(path name, layer)] of `layer`'s sublayers at every depth: a nested model's layers,
    a wrapper's (TimeDistributed, Bidirectional) layer, an RNN's cell."""
    found = []
    for sub in layer._sublayers():
        name = f"{prefix}{sub.name}"
        found += [(name, sub), *nested_layers(sub, f"{name}/")]
    return found
