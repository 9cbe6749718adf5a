"""The viewer's scopes (a layer or a fused kernel, collapsed to one box and expanded again),
the changes each pass made, and stages that keep a node in place when switching; the page
driven in headless chromium (skipped with the reason where there is none)."""

import numpy as np
import pytest

import frontend as keras
import graphc as gc
from frontend import layers
from graphc.ir import Graph
from graphc.viz.view import view
from graphc.viz.view_scopes import changes
from tests.viz.browser import needs_browser, run_driver
from tests.viz.test_view import page_data

pytestmark = pytest.mark.needs_dot


@pytest.fixture(scope="module")
def fitted_page(tmp_path_factory):
    model = keras.Sequential([keras.Input((4,)), layers.Dense(3, activation="relu", name="hidden"),
                              layers.Dense(2, activation="softmax", name="out")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    model.fit(np.ones((8, 4), "float32"), np.eye(2, dtype="float32")[[0, 1] * 4], epochs=1,
              verbose=0)
    path = view(model, tmp_path_factory.mktemp("view") / "m.html")
    return path, page_data(path.read_text())


def stage(data, name):
    return next(s for s in data["stages"] if s["name"] == name)


def test_raw_and_grad_ops_are_scoped_by_the_layer_that_made_them(fitted_page):
    data = fitted_page[1]
    for name in ("raw", "grad"):
        nodes, scopes = stage(data, name)["nodes"], stage(data, name)["scopes"]
        assert set(scopes) == {"hidden", "out"}  # the optimizer's variables make no scope
        hidden = {(nodes[i]["op"], nodes[i]["name"]) for i in scopes["hidden"]}
        assert {("shared", "hidden/kernel"), ("matmul", ""), ("relu", "")} <= hidden
        assert all(nodes[i]["scope"] == s for s, ids in scopes.items() for i in ids)
    grad = stage(data, "grad")
    # the SGD update of hidden/kernel (kernel - lr * gradient) is hidden's
    subs = [grad["nodes"][i] for i in grad["scopes"]["hidden"] if grad["nodes"][i]["op"] == "sub"]
    assert len(subs) == 2


def test_fused_ops_are_scoped_by_their_kernel(fitted_page):
    fused = stage(fitted_page[1], "fused")
    kernels = {d["kernel"] for d in fused["nodes"].values() if d["kernel"]}
    assert set(fused["scopes"]) == kernels
    for name, ids in fused["scopes"].items():
        assert all(fused["nodes"][i]["kernel"] == name for i in ids)
    assert stage(fitted_page[1], "fused (kernels as boxes)")["scopes"] == {}


def test_a_pass_adds_rewrites_and_removes():
    x = gc.vector("x")
    before_exp = gc.exp(x)
    before = Graph((x,), (before_exp * x,))
    now_log = gc.log(x)
    now = Graph((x,), (now_log * x,))
    marks = changes(now, before, None)
    assert marks == {id(now_log): "added", id(now.outputs[0]): "rewritten"}
    dropped = changes(before, None, now)
    assert dropped == {id(before_exp): "removed", id(before.outputs[0]): "removed"}


def test_nodes_keep_one_key_across_stages(fitted_page):
    data = fitted_page[1]
    raw, grad = stage(data, "raw")["nodes"], stage(data, "grad")["nodes"]
    raw_keys = {d["key"]: d for d in raw.values()}
    kept = [d for d in grad.values() if "change" not in d or "added" not in d["change"]
            and "rewritten" not in d["change"]]
    assert kept and all(raw_keys[d["key"]]["op"] == d["op"] for d in kept)
    assert {d["change"] for d in raw.values() if d["op"] == "grad"} == {"removed"}


COLLAPSE = """
var v = window.graphcViewer;
v.showStage("raw");
var div = v.current().div, ids = v.stageInfo("raw").scopes.hidden;
function shown(sel) {
  return Array.prototype.filter.call(div.querySelectorAll(sel), function (g) {
    return g.style.display !== "none"; }).length;
}
var before = shown("g.node"), edgesBefore = shown("g.edge");
var paths = Array.prototype.map.call(div.querySelectorAll("g.edge path"),
                                     function (p) { return p.getAttribute("d"); });
out.collapsed = v.collapse("hidden");
out.again = v.collapse("hidden");
out.hidden = before - shown("g.node");
out.members = ids.length;
out.boxes = div.querySelectorAll("g.scope-box").length;
out.rerouted = div.querySelectorAll("g.edge.rerouted").length;
out.internal = edgesBefore - shown("g.edge");
var inner = 0;
div.querySelectorAll("g.edge").forEach(function (e) {
  var ends = e.querySelector("title").textContent.split("->");
  if (ids.indexOf(ends[0]) >= 0 && ids.indexOf(ends[1]) >= 0) { inner += 1; }
});
out.inner = inner;
var box = div.querySelector("g.scope-box rect").getBBox(), touching = 0;
div.querySelectorAll("g.edge.rerouted path").forEach(function (p) {
  var n = p.getAttribute("d").match(/-?[0-9.]+/g).map(Number);
  var ends = [[n[0], n[1]], [n[2], n[3]]].filter(function (q) {
    var onX = Math.abs(q[0] - box.x) < 0.5 || Math.abs(q[0] - box.x - box.width) < 0.5;
    var onY = Math.abs(q[1] - box.y) < 0.5 || Math.abs(q[1] - box.y - box.height) < 0.5;
    return onX || onY;
  });
  if (ends.length) { touching += 1; }
});
out.touching = touching;
div.querySelector("g.scope-box").dispatchEvent(new MouseEvent("click", {bubbles: true}));
out.afterExpand = shown("g.node") === before && shown("g.edge") === edgesBefore;
out.pathsBack = Array.prototype.every.call(div.querySelectorAll("g.edge path"),
  function (p, i) { return p.getAttribute("d") === paths[i]; });
out.boxesAfter = div.querySelectorAll("g.scope-box").length;
v.showStage("fused");
out.kernels = v.collapseAll();
out.kernelBoxes = v.current().div.querySelectorAll("g.scope-box").length;
out.expanded = v.expandAll();
"""


@needs_browser
def test_a_layer_collapses_to_one_box_and_expands_in_the_browser(fitted_page, tmp_path):
    page = tmp_path / "c.html"
    page.write_text(fitted_page[0].read_text())
    out, stderr = run_driver(page, COLLAPSE)
    assert out["collapsed"] is True and out["again"] is False
    assert out["hidden"] == out["members"] and out["boxes"] == 1
    assert out["rerouted"] > 0 and out["internal"] == out["inner"] > 0
    assert out["touching"] == out["rerouted"]  # each re-routed edge ends on the box's border
    assert out["afterExpand"] and out["pathsBack"] and out["boxesAfter"] == 0
    scopes = stage(fitted_page[1], "fused")["scopes"]
    assert out["kernels"] == out["kernelBoxes"] == out["expanded"] == len(scopes)
    assert "Uncaught" not in stderr


STABLE = """
var v = window.graphcViewer, info = v.stageInfo("raw").nodes;
v.showStage("raw");
var id = Object.keys(info).filter(function (k) { return info[k].op === "relu"; })[0];
var g = Array.prototype.filter.call(document.querySelectorAll(".stage:not([hidden]) g.node"),
  function (n) { return v.nodeId(n) === id; })[0];
v.select(g);
var a = g.getBoundingClientRect();
v.showStage("grad");
var s = document.querySelector(".stage:not([hidden]) g.node.selected");
var b = s.getBoundingClientRect();
out.moved = Math.abs(a.left - b.left) + Math.abs(a.top - b.top);
out.op = v.stageInfo("grad").nodes[v.nodeId(s)].op;
document.getElementById("changes").click();
out.added = document.querySelectorAll(".show-changes .stage:not([hidden]) g.change-added").length;
"""


@needs_browser
def test_switching_stages_keeps_the_selected_node_in_place(fitted_page, tmp_path):
    page = tmp_path / "s.html"
    page.write_text(fitted_page[0].read_text())
    out, stderr = run_driver(page, STABLE)
    assert out["op"] == "relu" and out["moved"] < 1.0
    grad = stage(fitted_page[1], "grad")["nodes"]
    assert out["added"] == sum("added" in d.get("change", "") for d in grad.values())
    assert "Uncaught" not in stderr
