"""The model as layers, like Keras's plot_model: one box per layer with its name, type and
input/output shapes (and optionally dtype, parameters, activation, trainable), arrows for
the connections between layers. A layer whose record's compute_dtype is bfloat16 or int8
(quantized) is framed in that dtype's colour, with a legend (graphc/viz/dtypes.py)."""

from __future__ import annotations

from html import escape
from pathlib import Path

import graphviz

from graphc.function import shape_text
from graphc.viz import dtypes
from graphc.viz.render import Diagram, DiagramError, check_rankdir, render

FILL = {"input": "#dbeafe", "weights": "#fef3c7", "frozen": "#e5e7eb", "plain": "#f8fafc"}


def shapes_text(shapes) -> str:
    """'(None, 784)' for one shape, '[(None, 4), (None, 8)]' for several."""
    shapes = list(shapes or [])
    if not shapes:
        return "?"
    if len(shapes) == 1:
        return shape_text(shapes[0])
    return "[" + ", ".join(map(shape_text, shapes)) + "]"


def check_records(records) -> list:
    records = list(records or [])
    if not records:
        raise DiagramError(
            "cannot draw the model: it has no layers (build it, e.g. by calling "
            "it on an Input or fitting it, before plotting)"
        )
    names = set()
    for i, record in enumerate(records):
        for key in ("name", "type"):
            if not isinstance(record, dict) or key not in record:
                raise DiagramError(f"layer record {i} has no {key!r}: got {record!r}")
        if record["name"] in names:
            raise DiagramError(f"two layers are named {record['name']!r}")
        names.add(record["name"])
    for record in records:
        for source in record.get("inbound", []):
            if source not in names:
                raise DiagramError(
                    f"layer {record['name']!r} takes input from {source!r}, "
                    f"which is not among the layers drawn"
                )
    return records


def fill_colour(record: dict) -> str:
    if record["type"] in ("InputLayer", "Input"):
        return FILL["input"]
    if not record.get("params"):
        return FILL["plain"]
    return FILL["weights"] if record.get("trainable", True) else FILL["frozen"]


def layer_label(record: dict, options: dict) -> str:
    """An HTML-like graphviz label: a small table, like Keras's boxes."""
    title = (
        f"<b>{escape(str(record['name']))}</b> ({escape(str(record['type']))})"
        if options["show_layer_names"]
        else f"<b>{escape(str(record['type']))}</b>"
    )
    rows = [f'<tr><td colspan="2" bgcolor="{fill_colour(record)}">{title}</td></tr>']
    if options["show_shapes"]:
        rows.append(
            f"<tr><td>Input shape: {escape(shapes_text(record.get('input_shapes')))}"
            f"</td><td>Output shape: {escape(shapes_text(record.get('output_shapes')))}"
            f"</td></tr>"
        )
    extras = []
    if options["show_dtype"]:
        extras.append(f"dtype: {record.get('dtype') or '?'}")
    if options["show_params"]:
        extras.append(f"Params: {int(record.get('params') or 0):,}")
    if options["show_layer_activations"] and record.get("activation"):
        extras.append(f"Activation: {record['activation']}")
    if options["show_trainable"]:
        extras.append(f"Trainable: {record.get('trainable', True)}")
    rows.extend(f'<tr><td colspan="2">{escape(text)}</td></tr>' for text in extras)
    cls = dtypes.dtype_class(record.get("compute_dtype") or "float32")
    frame = dtypes.outline(cls)  # a layer computing in bfloat16 or int8 framed in its colour
    border = f' border="2" color="{frame["color"]}"' if frame else ' border="0"'
    return (
        f'<<table{border} cellborder="1" cellspacing="0" cellpadding="6">'
        + "".join(rows)
        + "</table>>"
    )


LAYER_OPTIONS = {
    "show_shapes": False,
    "show_dtype": False,
    "show_layer_names": True,
    "rankdir": "TB",
    "show_layer_activations": False,
    "show_trainable": False,
    "show_params": False,
}


def with_defaults(options: dict) -> dict:
    """`options` over LAYER_OPTIONS; a misspelt option is an error, not ignored."""
    unknown = sorted(set(options) - set(LAYER_OPTIONS))
    if unknown:
        raise TypeError(
            f"unknown layer-diagram option {', '.join(unknown)}; "
            f"the options are {', '.join(LAYER_OPTIONS)}"
        )
    return {**LAYER_OPTIONS, **options}


def layers_digraph(records, **options) -> graphviz.Digraph:
    records = check_records(records)
    options = with_defaults(options)
    check_rankdir(options["rankdir"])
    dot = graphviz.Digraph(
        "model",
        graph_attr={
            "rankdir": options["rankdir"],
            "nodesep": "0.3",
            "ranksep": "0.35",
            "bgcolor": "white",
        },
        node_attr={"shape": "plain", "fontname": "Helvetica", "fontsize": "11"},
        edge_attr={"arrowsize": "0.7"},
    )
    ids = {record["name"]: f"layer{i}" for i, record in enumerate(records)}
    legend = dtypes.DtypeLegend()
    for record in records:
        legend.note(dtypes.dtype_class(record.get("compute_dtype") or "float32"))
        dot.node(ids[record["name"]], layer_label(record, options))
        for source in record.get("inbound", []):
            dot.edge(ids[source], ids[record["name"]])
    legend.draw(dot)
    return dot


def draw_layers(
    records,
    to_file="model.png",
    show_shapes=False,
    show_dtype=False,
    show_layer_names=True,
    rankdir="TB",
    dpi=96,
    show_layer_activations=False,
    show_trainable=False,
    show_params=False,
) -> Path:
    """Draw a model given as one record per layer; returns the path written.

    Args:
        records: one dict per layer, in order: name, type, input_shapes and output_shapes
            (lists of tuples, None for the batch), dtype, compute_dtype (e.g. 'bfloat16',
            'int8' once quantized), params (int), trainable (bool),
            activation (str or None), inbound (names of the layers feeding this one).
        to_file: .png, .svg, .pdf or .dot; without graphviz's `dot` the .dot text is written.
        rankdir: 'TB' (top to bottom), 'LR', 'BT' or 'RL'.
    Example:
        draw_layers([{"name": "dense", "type": "Dense", "input_shapes": [(None, 784)],
                      "output_shapes": [(None, 10)], "inbound": []}], "model.svg")
    """
    digraph = layers_digraph(
        records,
        show_shapes=show_shapes,
        show_dtype=show_dtype,
        show_layer_names=show_layer_names,
        rankdir=rankdir,
        show_layer_activations=show_layer_activations,
        show_trainable=show_trainable,
        show_params=show_params,
    )
    return render(digraph.source, to_file, dpi)


def layers_diagram(records, dpi=96, **options) -> Diagram:
    """Like draw_layers, but returns the Diagram (for notebooks) instead of writing a file.

    Example:
        layers_diagram(model.layer_records(), show_shapes=True)  # shown inline in Jupyter
    """
    return Diagram(layers_digraph(records, **options), dpi)
