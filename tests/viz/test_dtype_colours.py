"""Diagrams colour ops, fused kernels and layers by the dtype they compute in (bfloat16, int8,
int32; float32 plain) with a legend, so the float32 islands of a mixed or quantized model show
(issue 14, "Bad input"); float32-only diagrams are unchanged."""

import re
import warnings

import numpy as np
import pytest

import graphc as gc
from frontend import layers, models
from graphc.viz import dtypes, layers_diagram, to_dot

INT8, BF16, INT32, F32 = (dtypes.COLOURS[c] for c in ("int8", "bfloat16", "int32", "float32"))


def node_colours(source: str) -> dict:
    """{first label line: the set of outline colours (None: default) of the nodes so
    labelled}."""
    found: dict = {}
    for label, attrs in re.findall(r'\[label="([^"]*)"([^\]]*)\]', source):
        colour = re.search(r'color="(#[0-9a-f]{6})"', attrs)
        found.setdefault(label.splitlines()[0], set()).add(colour.group(1) if colour else None)
    return found


def quantized_mlp():
    model = models.Sequential([layers.Input((20,)), layers.Dense(16, activation="relu"),
                               layers.Dense(3, activation="softmax")])
    model.predict(np.zeros((1, 20), np.float32), verbose=0)
    model.quantize("int8")
    model.predict(np.zeros((2, 20), np.float32), verbose=0)
    return model, next(iter(model._predict_functions.values()))


def test_quantized_ops_are_int8_and_softmax_a_float32_island():
    _, predict = quantized_mlp()
    source = to_dot(predict).source
    colours = node_colours(source)
    assert colours["quantized_matmul"] == {INT8} and colours["dense/kernel"] == {INT8}
    assert colours["softmax"] == {F32}  # the float32 island after the int8 layers
    assert "penwidth=2.2" in source
    legend = re.search(r"dtype_legend \[label=<(.*)>", source).group(1)
    assert "int8 / uint8" in legend and "float32" in legend and "bfloat16" not in legend


def test_fused_kernels_take_the_narrowest_dtype_of_their_ops():
    _, predict = quantized_mlp()
    source = to_dot(predict, stage="fused").source
    clusters = re.findall(r'subgraph cluster_\w+ \{\s*color="(#[0-9a-f]{6})"[^\n]*'
                          r'label="(\w+)', source)
    assert sorted(c for c, name in clusters if name.endswith("quantized_matmul")) == [INT8] * 2
    assert [c for c, name in clusters if "max_sum" in name] == ["#64748b"]  # float softmax
    collapsed = to_dot(predict, stage="fused", collapse_kernels=True).source
    assert re.search(r'quantized_matmul \(op\)[^\]]*color="' + INT8, collapsed)


def test_bfloat16_and_int32_ops_and_the_cast_between():
    x = gc.placeholder((None, 33), "float32", name="x")
    w = gc.shared(np.ones((33, 7), np.float32), name="w")
    product = gc.matmul(gc.cast(x, "bfloat16"), gc.cast(w, "bfloat16"))
    scores = gc.cast(product, "float32")
    labels = gc.argmax(scores, axis=-1)
    counts = gc.sum(gc.cast(gc.cast(labels, "int32") + 1, "float32"))
    colours = node_colours(to_dot([counts, gc.softmax(scores)]).source)
    # casts to and from bfloat16 are bfloat16, to int32 int32, int32 -> float32 float32
    assert colours["cast"] == {BF16, INT32, F32} and colours["matmul"] == {BF16}
    assert colours["add"] == {INT32} and colours["argmax"] == {F32}  # int64: the default outline
    assert colours["softmax"] == {F32}


def test_float32_diagrams_have_no_legend_and_default_outlines():
    x = gc.placeholder((None, 7), "float32", name="x")
    source = to_dot(gc.tanh(x @ gc.shared(np.ones((7, 3), np.float32), name="w"))).source
    assert "dtype_legend" not in source and "penwidth=2.2" not in source


@pytest.mark.filterwarnings("ignore:model.quantize")
def test_layer_diagram_frames_int8_and_bfloat16_layers():
    model, _ = quantized_mlp()
    records = model.layer_records()
    assert [r["compute_dtype"] for r in records[1:]] == ["int8", "int8"]
    source = layers_diagram(records).source
    assert source.count(f'border="2" color="{INT8}"') == 2 and "dtype_legend" in source
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mixed = models.Sequential([layers.Input((8,)), layers.Dense(4, dtype="mixed_bfloat16"),
                                   layers.Dense(2)])
    source = layers_diagram(mixed.layer_records()).source
    assert source.count(f'color="{BF16}"') == 2  # the framed layer and its legend entry
    assert "bfloat16" in re.search(r"dtype_legend \[label=<(.*)>", source).group(1)


def test_float32_islands_of_a_mixed_model_are_not_framed_bfloat16():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = models.Sequential([
            layers.Input((14, 14, 1)),
            layers.Conv2D(4, 3, dtype="mixed_bfloat16"),  # a 9-value receptive field: float32
            layers.MaxPooling2D(2, dtype="mixed_bfloat16"),  # fed float32
            layers.Conv2D(8, 3, dtype="mixed_bfloat16"),  # 36 values: bfloat16
            layers.MaxPooling2D(2, dtype="mixed_bfloat16")])  # fed bfloat16, windows tile
    computed = [r.get("compute_dtype", r["dtype"]) for r in model.layer_records()]
    assert computed[-4:] == ["float32", "float32", "bfloat16", "bfloat16"]


@pytest.mark.needs_dot
def test_the_viewer_outlines_int8_ops_and_layers(tmp_path):
    model, predict = quantized_mlp()
    page = gc.view(predict, tmp_path / "q.html").read_text()
    assert f'stroke="{INT8}"' in page  # the quantized ops and their int8 kernels
    layers_page = gc.view(model, tmp_path / "m.html").read_text()
    assert f'stroke="{INT8}"' in layers_page and "int8 / uint8" in layers_page
