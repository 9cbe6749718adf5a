"""to_dot at real sizes: update tags instead of long edges, weights ranked beside the op that
reads them, and a size cap whose message points to gc.view."""

import re

import numpy as np
import pytest

import graphc as gc
from graphc.viz import DiagramError, to_dot
from graphc.viz.graph import FAST_LAYOUT, FAST_LAYOUT_ABOVE, READABLE_ABOVE


def rank_groups(source: str) -> list:
    return re.findall(r"\{\s*rank=same\s+(\w+)\s+(\w+)\s*\}", source)


def test_a_big_step_draws_updates_as_tags_under_their_values(train_step):
    source = to_dot(train_step, stage="optimized").source
    assert len(train_step.graph("optimized").nodes()) > READABLE_ABOVE
    assert ":=\"" not in source and "constraint=false" not in source
    for name in ("W1", "b1", "W2"):
        (tag,) = re.findall(rf'(update\d+) \[label="{name} := this"', source)
        assert re.search(rf"\b\w+ -> {tag}\b", source)


def test_weights_share_the_rank_of_the_op_that_first_reads_them(train_step):
    graph = train_step.graph("optimized")
    source = to_dot(train_step, stage="optimized").source
    ids = dict(re.findall(r'^\s*(n\d+) \[label="(\w+)\n', source, re.M))
    groups = {ids.get(leaf): user for leaf, user in rank_groups(source)}
    assert {"W1", "b1", "W2", "x", "y"} <= set(groups)
    first_user = next(n for n in graph.nodes() if any(i.name == "W1" for i in n.inputs))
    assert first_user.op == "matmul"
    assert re.search(rf'\b{groups["W1"]} \[label="matmul', source)


def test_small_graphs_keep_update_edges():
    x = gc.vector("x")
    counter = gc.shared(np.zeros((), "float32"), name="calls")
    f = gc.function([x], gc.exp(x), updates=[(counter, counter + 1.0)], backend="numpy")
    source = to_dot(f).source
    assert 'label="calls :="' in source and "rank=same" not in source


def test_too_big_a_diagram_points_to_view(train_step):
    with pytest.raises(DiagramError, match=r"has \d+ nodes.*gc\.view.*max_nodes=None"):
        to_dot(train_step, stage="optimized", max_nodes=10)
    assert to_dot(train_step, stage="optimized", max_nodes=None).source


@pytest.mark.needs_dot
def test_the_readable_layout_is_narrower(train_step, tmp_path):
    def width(readable):
        svg = to_dot(train_step, "optimized", readable=readable).save(tmp_path / "d.svg")
        return float(re.search(r'<svg width="([\d.]+)pt"', svg.read_text()).group(1))

    assert width(True) < width(False)


def test_big_diagrams_get_the_quicker_layout():
    x = gc.vector("x")
    small = gc.exp(x)
    big = x
    for _ in range(FAST_LAYOUT_ABOVE):
        big = gc.tanh(big)
    assert "mclimit" not in to_dot(small).source
    assert all(f"{k}={v}" in to_dot(big).source for k, v in FAST_LAYOUT.items())
