"""`model.summary()` in Keras's table format, and per-layer records for diagrams.

Sequential-like models get three columns (Layer (type), Output Shape, Param #; 65 characters);
other functional models a fourth, Connected to (98 characters), listing each input as
`layer[call index][tensor index]`. Totals follow with thousands separators.
"""

from __future__ import annotations

import numpy as np

from frontend import activations
from frontend.layers.core import InputLayer
from frontend.mixed_precision.autocast import compute_dtype_for
from frontend.models.functional import record_of


def count(weights) -> int:
    return int(sum(int(np.prod(w.shape)) for w in weights))


def shape_str(shapes):
    return str(shapes[0]) if len(shapes) == 1 else str(shapes)


def model_calls(model):
    """(layer, records of that layer in this model) in layer order."""
    graph = model._require_graph()
    by_layer = {}
    for rec in graph.records:
        by_layer.setdefault(id(rec.layer), []).append(rec)
    return [(layer, by_layer[id(layer)]) for layer in graph.layers], graph


def row(fields, positions) -> str:
    line = ""
    for i, field in enumerate(fields):
        if i > 0:
            line = line[:-1] + " "
        line += str(field)
        line = line[: positions[i]]
        line += " " * (positions[i] - len(line))
    return line


def print_summary(model, line_length=None, positions=None, print_fn=None):
    print_fn = print_fn or print
    if model.built_graph and model._graph is None:
        print_subclass_summary(model, line_length, positions, print_fn)
        return
    if not model.built_graph:
        raise ValueError(
            f"Model '{model.name}' has not been built yet, so it has no summary: "
            f"give it an input shape (Input(shape=...) or input_shape=...) or call "
            f"it on data first"
        )
    calls, graph = model_calls(model)
    sequential_like = type(model).__name__ == "Sequential" or graph.is_sequential_like()
    if sequential_like:
        line_length = line_length or 65
        positions = positions or [0.45, 0.85, 1.0]
        headers = ["Layer (type)", "Output Shape", "Param #"]
    else:
        line_length = line_length or 98
        positions = positions or [0.33, 0.55, 0.67, 1.0]
        headers = ["Layer (type)", "Output Shape", "Param #", "Connected to"]
    positions = print_header(model, headers, line_length, positions, print_fn)
    shown = [
        (layer, recs)
        for layer, recs in calls
        if not (sequential_like and isinstance(layer, InputLayer))
    ]
    for i, (layer, recs) in enumerate(shown):
        for line in layer_rows(layer, recs, graph, sequential_like):
            print_fn(row(line, positions))
        print_fn(("=" if i == len(shown) - 1 else "_") * line_length)
    print_totals(model, line_length, print_fn)


def print_subclass_summary(model, line_length, positions, print_fn):
    """Keras 3's table for a subclassed model: its tracked layers, whose output shapes are
    not recorded ('?'), and their parameter counts."""
    model._subclass_result()  # builds the weights
    line_length = line_length or 65
    positions = positions or [0.45, 0.85, 1.0]
    headers = ["Layer (type)", "Output Shape", "Param #"]
    positions = print_header(model, headers, line_length, positions, print_fn)
    layers = model.layers
    for i, layer in enumerate(layers):
        params = count(layer.weights)
        print_fn(row([f"{layer.name} ({type(layer).__name__})", "?", params], positions))
        print_fn(("=" if i == len(layers) - 1 else "_") * line_length)
    print_totals(model, line_length, print_fn)


def print_header(model, headers, line_length, positions, print_fn) -> list:
    """Print the title and column headers; returns the column stops in characters."""
    if positions[-1] <= 1:
        positions = [int(line_length * p) for p in positions]
    print_fn(f'Model: "{model.name}"')
    print_fn("_" * line_length)
    print_fn(row(headers, positions))
    print_fn("=" * line_length)
    return positions


def print_totals(model, line_length, print_fn):
    trainable = count(model.trainable_weights)
    total = count(model.weights)
    print_fn(f"Total params: {total:,}")
    print_fn(f"Trainable params: {trainable:,}")
    print_fn(f"Non-trainable params: {total - trainable:,}")
    print_fn("_" * line_length)


def layer_rows(layer, recs, graph, sequential_like) -> list[list]:
    shapes = [tuple(t.shape) for t in recs[0].outputs]
    shape = (
        f"[{shape_str(shapes)}]"
        if isinstance(layer, InputLayer) and not sequential_like
        else shape_str(shapes)
    )
    if len(recs) > 1:
        shape = "multiple"
    name = f"{layer.name} ({type(layer).__name__})"
    params = layer.count_params()
    if sequential_like:
        return [[name, shape, params]]
    connections = [c for rec in recs for c in graph.connections(rec)]
    rows = [[name, shape, params, connections[0] if connections else ""]]
    rows += [["", "", "", c] for c in connections[1:]]
    return rows


def activation_name(layer):
    fn = getattr(layer, "activation", None)
    if fn is None:
        return None
    try:
        return activations.serialize(fn)
    except ValueError:
        return getattr(fn, "__name__", str(fn))


def layer_records(model) -> list[dict]:
    """One record per layer, in model order, for diagrams (see frontend.utils.plot_model)."""
    calls, _ = model_calls(model)
    records = []
    for layer, recs in calls:
        inbound = []
        for rec in recs:
            for t in rec.input_tensors:
                name = record_of(t).layer.name
                if name not in inbound:
                    inbound.append(name)
        records.append(
            {
                "name": layer.name,
                "type": type(layer).__name__,
                "input_shapes": [tuple(t.shape) for rec in recs for t in rec.input_tensors]
                or [tuple(t.shape) for t in recs[0].outputs],
                "output_shapes": [tuple(t.shape) for rec in recs for t in rec.outputs],
                "dtype": layer.dtype,
                "params": layer.count_params(),
                "trainable": layer.trainable,
                "activation": activation_name(layer),
                "inbound": inbound,
            }
        )
        # what the layer really computes in: a float32 island of a mixed_bfloat16 model stays
        # float32 (autocast's rule), so diagrams frame only bfloat16 and int8 work in colour
        fed = recs[0].input_tensors[0].node if recs and recs[0].input_tensors else None
        compute = "int8" if layer.quantization_mode else compute_dtype_for(layer, fed)
        if compute != layer.dtype:
            records[-1]["compute_dtype"] = compute
    return records
