"""Stable positions: the stages before fusion are cut from one layout of their union, so a
node drawn in two stages sits at the same coordinates in both; each stage keeps exactly its
own nodes and edges, under its own DOT ids."""

import html
import re

import numpy as np
import pytest

import graphc as gc
from graphc.viz import view_layout
from graphc.viz.graph import resolve
from graphc.viz.render import DiagramError
from graphc.viz.view import view, writer_for
from graphc.viz.view_layout import Union, cut_svg, parse_body, shared_layout
from tests.viz.browser import needs_browser, run_driver
from tests.viz.test_view import drawn_ids, llvm_step, page_data, stage_svgs

pytestmark = pytest.mark.needs_dot

NODE = re.compile(r'<g id="[^"]+" class="node">\s*<title>([^<]+)</title>(.*?)</g>', re.S)
EDGE = re.compile(r'<g id="[^"]+" class="edge">\s*<title>([^<]+)</title>', re.S)


def places(svg: str) -> dict:
    """{DOT id: every coordinate of its node's shapes and texts}."""
    found = {}
    for dot_id, inner in NODE.findall(svg):
        found[dot_id] = re.findall(r'\b(?:points|cx|cy|x|y|d)="([^"]+)"', inner)
        assert found[dot_id], dot_id
    return found


def places_by_node(page: str) -> dict:
    """{stage: {node identity (the page's "key"): coordinates}}."""
    data, svgs = page_data(page), stage_svgs(page)
    table = {}
    for stage in data["stages"]:
        where = places(svgs[stage["name"]])
        table[stage["name"]] = {info["key"]: where[dot_id]
                                for dot_id, info in stage["nodes"].items()
                                if "key" in info and dot_id in where}  # kernels: clusters
    return table


def assert_shared_nodes_stay(table: dict, names: list) -> int:
    shared = 0
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            common = table[first].keys() & table[second].keys()
            assert common, (first, second)
            for key in common:
                assert table[first][key] == table[second][key], (first, second, key)
            shared += len(common)
    return shared


def test_a_node_in_two_stages_has_the_same_coordinates_in_both(train_step, tmp_path):
    train_step(np.ones((5, 4), "float32"), np.eye(3, dtype="float32")[[0, 1, 2, 0, 1]])
    table = places_by_node(view(train_step, tmp_path / "v.html").read_text())
    before_fusion = [name for name in train_step.stages if name != "fused"]
    assert len(before_fusion) >= 3
    assert assert_shared_nodes_stay(table, before_fusion) > 20


def test_llvm_stages_before_fusion_share_positions_and_fused_has_its_own(tmp_path):
    step = llvm_step()
    step(np.ones((7, 4), "float32"), np.zeros((7, 3), "float32"))
    page = view(step, tmp_path / "v.html").read_text()
    table = places_by_node(page)
    assert assert_shared_nodes_stay(table, ["raw", "grad", "optimized", "expanded"]) > 10
    assert 'class="cluster"' in stage_svgs(page)["fused"]  # its own layout, kernels as clusters


@pytest.mark.parametrize("name", ["raw", "grad", "optimized"])
def test_each_stage_keeps_exactly_its_own_nodes_and_edges(train_step, name, tmp_path):
    writers = [writer_for(resolve(train_step, stage), False)
               for stage in ("raw", "grad", "optimized")]
    svgs = dict(zip(("raw", "grad", "optimized"), shared_layout(writers)))
    writer = writers[["raw", "grad", "optimized"].index(name)]
    own = parse_body(writer.dot.body)
    assert drawn_ids(svgs[name]) == {dot_id for dot_id, _ in own.nodes}
    edges = sorted(t.replace("&#45;", "-").replace("&gt;", ">") for t in EDGE.findall(svgs[name]))
    assert edges == sorted(f"{tail}->{head}" for tail, head, _ in own.edges)
    assert html.escape(f"stage '{name}'") in svgs[name]  # its own title, not the union's


def test_statements_and_tags_are_merged_by_node_identity(train_step):
    raw, grad = (writer_for(resolve(train_step, stage), False) for stage in ("raw", "grad"))
    union = Union()
    union.add(raw)
    union.add(grad)
    raw_ids, grad_ids = set(union.cuts[0].names), set(union.cuts[1].names)
    assert len(raw_ids & grad_ids) > len(raw_ids) // 2  # the forward pass is in both
    assert set(union.nodes) == raw_ids | grad_ids
    tags = [u for u in union.nodes if u.startswith("out0_at_")]
    assert len(tags) == 1  # the loss output hangs from the same node in both stages


def test_a_cut_without_elements_is_still_an_svg():
    union = Union()
    svg = ('<svg><g id="graph0" class="graph"><title>graphc</title>'
           '<text>@@graphcstagetitle@@</text>\n</g>\n</svg>\n')
    union_cut = type("Cut", (), {"label": "empty <stage>", "names": {}, "edges": set()})
    assert cut_svg(svg, union_cut()).endswith("</g>\n</svg>\n")
    assert "empty &lt;stage&gt;" in cut_svg(svg, union_cut())
    assert union.nodes == {}


def two_layer_step(seed: int):
    rng = np.random.default_rng(seed)
    x = gc.matrix("x")
    w = gc.shared(rng.normal(size=(4, 3)).astype("float32"), name="W")
    loss = gc.mean(gc.tanh(x @ w))
    return gc.function([x], loss, updates=[(w, w - 0.1 * gc.grad(loss, w))], backend="numpy")


def test_a_pass_copy_of_a_node_is_drawn_where_the_original_was():
    """Two functions built alike stand for a pass that rebuilt every node: each node is
    matched with the one that looks the same and sits at its coordinates."""
    first, second = (writer_for(resolve(two_layer_step(seed), "grad"), False) for seed in (0, 1))
    union = Union()
    union.add(first)
    union.add(second)
    assert len(union.nodes) == len(union.cuts[0].names) == len(union.cuts[1].names)
    svgs = shared_layout([first, second])
    where = [places(svg) for svg in svgs]
    by_look = [{view_layout.look(n): first.ids[id(n)] for n in first.drawing.graph.nodes()},
               {view_layout.look(n): second.ids[id(n)] for n in second.drawing.graph.nodes()}]
    assert by_look[0].keys() == by_look[1].keys()
    for key, dot_id in by_look[0].items():
        assert where[0][dot_id] == where[1][by_look[1][key]]


SAME_PLACE = """
var v = window.graphcViewer;
function boxes(name) {
  v.showStage(name);
  var info = v.stageInfo(name).nodes, found = {};
  document.querySelectorAll(".stage:not([hidden]) g.node").forEach(function (g) {
    var d = info[v.nodeId(g)];
    if (d && d.key !== undefined) {
      var b = g.getBBox(); found[d.key] = [b.x, b.y, b.width, b.height].join(",");
    }
  });
  return found;
}
var raw = boxes("raw"), grad = boxes("grad");
out.common = 0; out.moved = [];
out.places = Object.keys(raw).map(function (k) { return raw[k]; }).filter(function (b, i, all) {
  return all.indexOf(b) === i; }).length;  // drawn boxes, not all empty
Object.keys(raw).forEach(function (k) {
  if (k in grad) { out.common += 1; if (raw[k] !== grad[k]) { out.moved.push(k); } }
});
"""


@needs_browser
def test_in_the_browser_a_node_stays_put_when_the_stage_changes(train_step, tmp_path):
    page = view(train_step, tmp_path / "v.html")
    out, stderr = run_driver(page, SAME_PLACE)
    assert out["common"] > 10 and out["moved"] == []
    assert out["places"] > 10
    assert "Uncaught" not in stderr


def test_a_statement_the_union_cannot_merge_is_named():
    with pytest.raises(DiagramError, match="subgraph cluster_k0"):
        parse_body(["\tsubgraph cluster_k0 {\n"])
