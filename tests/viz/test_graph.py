"""to_dot: a Function at every stage, Graphs and nodes; forward/backward parts; updates."""

import re

import numpy as np
import pytest

import graphc as gc
from graphc.viz import DiagramError, to_dot
from graphc.viz.parts import BACKWARD, FORWARD, LEAF, parts_of_graph, parts_of_stage

NODE = re.compile(r'(n\d+) \[label=(?:"([^"]*)"|(\S+)) ([^\]]*)\]')


def labels_with_fill(source: str, fill: str) -> list:
    """First line of the label of every node drawn with `fill`."""
    return [
        (m.group(2) or m.group(3)).split("\n")[0]
        for m in NODE.finditer(source)
        if f'fillcolor="{fill}"' in m.group(4)
    ]


BACKWARD_FILL, FORWARD_FILL = "#fee2e2", "#ffffff"


@pytest.mark.parametrize("stage", ["raw", "grad", "optimized"])
@pytest.mark.needs_dot
def test_every_stage_draws(train_step, stage, tmp_path):
    diagram = to_dot(train_step, stage=stage, to_file=tmp_path / f"{stage}.svg")
    assert (tmp_path / f"{stage}.svg").read_text().lstrip().startswith("<?xml")
    assert f"train_step: stage '{stage}'" in diagram.source


def test_raw_stage_marks_grad_nodes_and_update_arithmetic_backward(train_step):
    source = to_dot(train_step, stage="raw").source
    backward = labels_with_fill(source, BACKWARD_FILL)
    assert sorted(backward) == ["grad"] * 3 + ["mul"] * 3 + ["sub"] * 3
    forward = labels_with_fill(source, FORWARD_FILL)
    assert {"relu", "softmax", "log", "neg"} <= set(forward)


def test_optimized_stage_keeps_forward_and_backward_apart(train_step):
    graph = train_step.graph("optimized")
    parts = parts_of_stage(train_step.pipeline.stages, "optimized")
    by_op = {}
    for node in graph.nodes():
        by_op.setdefault(node.op, set()).add(parts[id(node)])
    assert by_op["relu"] == {FORWARD} and by_op["log_softmax"] == {FORWARD}
    assert by_op["greater"] == {BACKWARD}  # relu's mask exists only for the gradient
    assert by_op["matmul"] == {FORWARD, BACKWARD}
    assert by_op["shared"] == {LEAF} and by_op["placeholder"] == {LEAF}
    assert all(parts[id(expr)] == BACKWARD for _, expr in graph.updates)
    assert parts[id(graph.outputs[0])] == FORWARD


def test_updates_are_edges_into_the_shared_variable(train_step):
    source = to_dot(train_step, stage="optimized", readable=False).source
    for name in ("W1", "b1", "W2"):
        (line,) = [ln for ln in source.splitlines() if f'label="{name} :="' in ln]
        target = line.split("->")[1].split()[0]
        assert re.search(rf'\b{target} \[label="{name}\n', source)
        assert "constraint=false" in line
    assert "output 0" in source


def test_leaves_are_styled_by_kind(train_step):
    source = to_dot(train_step, stage="raw").source
    assert "x\n(?, ?) float32" in source
    assert re.search(r'label="W1\n\(4, 8\) float32" .*shape=cylinder', source)
    assert re.search(r'label="?0\.1"? .*shape=plaintext', source)
    hidden = to_dot(train_step, stage="raw", show_constants=False).source
    assert "0.1" not in hidden


def test_graph_without_history_uses_outputs(train_step):
    graph = train_step.graph("optimized")
    parts = parts_of_graph(graph)
    assert parts[id(graph.outputs[0])] == FORWARD
    assert all(parts[id(expr)] == BACKWARD for _, expr in graph.updates)
    assert "stage" not in to_dot(graph).source


def test_function_without_gradients_is_all_forward():
    x = gc.vector("x")
    counter = gc.shared(np.zeros((), "float32"), name="calls")
    f = gc.function([x], gc.exp(x) * 2.0, updates=[(counter, counter + 1.0)], backend="numpy")
    source = to_dot(f).source
    assert labels_with_fill(source, BACKWARD_FILL) == []
    assert "calls :=" in source


def test_gradient_as_output_is_backward():
    x = gc.vector("x")
    w = gc.shared(np.ones(3, "float32"), name="w")
    f = gc.function([x], gc.grad(gc.sum(gc.tanh(x * w)), w), backend="numpy")
    parts = parts_of_stage(f.pipeline.stages, "optimized")
    graph = f.graph("optimized")
    assert parts[id(graph.outputs[0])] == BACKWARD
    assert any(n.op == "tanh" and parts[id(n)] == FORWARD for n in graph.nodes())


def test_nodes_and_lists_of_nodes():
    x = gc.vector("x")
    y = gc.exp(x) + 1.0
    assert "exp" in to_dot(y).source
    assert to_dot([y, gc.log(x)]).source.count("output") == 2


def test_attributes_shown_and_false_flags_hidden():
    a, b = gc.matrix("a"), gc.matrix("b")
    source = to_dot(gc.matmul(a, b, transpose_b=True).sum(axis=1)).source
    assert "transpose_b=True" in source and "transpose_a" not in source
    assert "axis=(1,)" in source


@pytest.mark.parametrize(
    "obj, message",
    [
        (42, "got int"),
        ([], "got list"),
        ("graph.svg", "got str"),
    ],
)
def test_undrawable_objects_are_named(obj, message):
    with pytest.raises(DiagramError, match=message):
        to_dot(obj)


def test_unknown_stage_lists_the_stages(train_step):
    with pytest.raises(DiagramError, match="no stage 'fused'.*raw, grad, optimized"):
        to_dot(train_step, stage="fused")


def test_empty_graph_is_an_error():
    with pytest.raises(DiagramError, match="nothing to draw"):
        to_dot(gc.Graph((), ()))


def test_bad_rankdir(train_step):
    with pytest.raises(DiagramError, match="rankdir"):
        to_dot(train_step, rankdir="up")


def test_without_dot_writes_text(train_step, tmp_path, no_dot, capsys):
    to_dot(train_step, to_file=tmp_path / "step.png")
    assert "digraph" in (tmp_path / "step.dot").read_text()
    assert capsys.readouterr().err.count("\n") == 1


def test_diagram_in_a_notebook_without_dot_is_text(train_step, no_dot):
    bundle = to_dot(train_step)._repr_mimebundle_()
    assert list(bundle) == ["text/plain"]
