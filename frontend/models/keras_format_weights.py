"""Keras 3's weights layout (`model.weights.h5`, `*.weights.h5`), read and written with h5py.

Keras 3 stores a layer's variables as datasets '0', '1', ... of the group
`layers/<name>/vars`, where <name> is the snake_case of the layer's class, numbered in the
order of `model.layers` ('dense', 'dense_1', ...; never the layer's own name), and a layer
built of sublayers keeps their variables under the sublayer's attribute ('lstm/cell/vars',
'bidirectional/forward_layer/cell/vars', 'multi_head_attention/query_dense/vars'). Within a
group the order is Keras's trainable then non-trainable variables, which is graphc's order.
"""

from __future__ import annotations

import io
import re

import numpy as np

from frontend.models.archive import FileFormatError
from frontend.models.keras_format_h5 import h5py, require_h5py, stored_dataset, walk
from frontend.models.keras_format_masks import is_keras_op

RNN_CLASSES = ("LSTM", "GRU", "SimpleRNN", "RNN")
ATTENTION_GROUPS = ("query_dense", "key_dense", "value_dense", "output_dense")
MODEL_CLASSES = ("Sequential", "Functional", "Model")
# Variables Keras keeps after graphc's: Normalization's sample `count` (adapt() leaves it 0).
KERAS_ONLY_VARIABLES = {"Normalization": [np.zeros((), "int32")]}


def snake_case(class_name: str) -> str:
    """Keras's path name for a class ('PReLU' -> 'p_re_lu', 'Conv2D' -> 'conv2d')."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", re.sub(r"\W+", "", class_name))
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def layer_paths(layer_specs: list, prefix: str = "layers") -> list:
    """[(layer name, path)] for the non-input layers of a model config, in Keras's order."""
    used, paths = {}, []
    for spec in non_input(layer_specs):
        base = snake_case(spec["class_name"])
        count = used.get(base, 0)
        used[base] = count + 1
        name = spec.get("name") or spec["config"].get("name")
        paths.append((name, f"{prefix}/{base}" + (f"_{count}" if count else "")))
    return paths


def join_path(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p)


def variable_groups(spec: dict) -> list:
    """The groups below a layer's path that hold its variables, in graphc's weight order."""
    class_name, config = spec["class_name"], spec["config"]
    if class_name in RNN_CLASSES:
        return ["cell"]
    if class_name == "MultiHeadAttention":
        return list(ATTENTION_GROUPS)
    if class_name == "TimeDistributed":
        return [join_path("layer", g) for g in variable_groups(config["layer"])]
    if class_name == "Bidirectional":
        backward = config.get("backward_layer") or config["layer"]
        forward = [join_path("forward_layer", g) for g in variable_groups(config["layer"])]
        return forward + [join_path("backward_layer", g) for g in variable_groups(backward)]
    if class_name in MODEL_CLASSES:  # a nested model: its layers' paths below its own
        nested = zip(non_input(config["layers"]), layer_paths(config["layers"]))
        return [join_path(path, g) for sub, (_, path) in nested for g in variable_groups(sub)]
    return [""]


def non_input(layer_specs: list) -> list:
    """The layers that Keras keeps weights groups for: not inputs, not recorded Keras ops."""
    return [s for s in layer_specs if s["class_name"] != "InputLayer" and not is_keras_op(s)]


def vars_path(layer_path: str, group: str) -> str:
    return join_path(layer_path, group, "vars")


def read_group(h5file, path: str, where: str) -> list:
    """The datasets '0', '1', ... of `path` (none if Keras wrote no group: no variables),
    unread: their shapes are checked before their data (a tiny file may declare huge ones)."""
    group = walk(h5file, path, where)
    if group is None:
        return []
    if not isinstance(group, h5py.Group):
        raise FileFormatError(f"{where}: {path} is not an HDF5 group")
    keys = sorted(group.keys(), key=lambda k: int(k) if k.isdigit() else -1)
    if any(not k.isdigit() for k in keys):
        raise FileFormatError(f"{where}: {path} holds {keys}; Keras names variables 0, 1, ...")
    return [stored_dataset(walk(group, key, where), f"{path}/{key}", where) for key in keys]


def assign_layer_weights(layer, arrays: list, path: str, where: str) -> None:
    """Set `layer`'s weights to `arrays` (arrays or unread datasets), once their number and
    shapes all match."""
    wanted = [tuple(w.shape) for w in layer.weights]
    found = [tuple(a.shape) for a in arrays]
    if found != wanted:
        raise FileFormatError(
            f"{where}: layer '{layer.name}' ({type(layer).__name__}) has weights of shapes "
            f"{wanted}, but the file's {path} holds arrays of shapes {found}"
        )
    for var, value in zip(layer.weights, arrays):
        var.set_value(np.asarray(value[()]).astype(var.dtype))


def load_keras_weights(model, layer_specs: list, source, where: str) -> None:
    """Fill `model`'s layers from Keras 3 weights (a path or bytes of an .h5 file)."""
    require_h5py(where)
    model.weights  # noqa: B018 - builds a Sequential's layers once its input shape is known
    opened = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        with h5py.File(opened, "r") as h5file:
            for spec, (name, path) in zip(non_input(layer_specs), layer_paths(layer_specs)):
                groups = [vars_path(path, g) for g in variable_groups(spec)]
                arrays = [a for group in groups for a in read_group(h5file, group, where)]
                layer = model.get_layer(name)
                extra = len(KERAS_ONLY_VARIABLES.get(spec["class_name"], []))
                if extra and len(arrays) == len(layer.weights) + extra:
                    arrays = arrays[: len(layer.weights)]
                assign_layer_weights(layer, arrays, path, where)
    except OSError as err:
        raise FileFormatError(f"{where} is not a readable HDF5 weights file ({err})") from None


def write_keras_weights(model, layer_specs: list, target) -> None:
    """Write `model`'s weights in Keras 3's layout to `target` (a path or file object)."""
    require_h5py("Saving in Keras 3's format")
    with h5py.File(target, "w") as h5file:
        h5file.create_group("vars").attrs["name"] = model.name
        for spec, (name, path) in zip(non_input(layer_specs), layer_paths(layer_specs)):
            layer = model.get_layer(name)
            groups = variable_groups(spec)
            values = [w.get_value() for w in layer.weights]
            values += KERAS_ONLY_VARIABLES.get(spec["class_name"], [])
            if len(values) % len(groups):
                raise ValueError(
                    f"Cannot save layer '{name}' ({spec['class_name']}) in Keras 3's format: "
                    f"its {len(values)} weights do not split over Keras's groups {groups}"
                )
            per_group = len(values) // len(groups)
            for i, group in enumerate(groups):
                entry = h5file.create_group(vars_path(path, group))
                entry.attrs["name"] = name
                for j, value in enumerate(values[i * per_group : (i + 1) * per_group]):
                    entry.create_dataset(str(j), data=np.asarray(value))
