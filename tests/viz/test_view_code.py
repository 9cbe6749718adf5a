"""Node details in the viewer: a kernel's LLVM IR and its assembly (as compiled), its FLOPs
and the user's line; the model's layers linked to the ops they made and back."""

import numpy as np
import pytest

import frontend as keras
from frontend import layers
from graphc.viz.view import view
from graphc.viz.view_details import assembly_functions
from tests.viz.browser import needs_browser, run_driver
from tests.viz.test_view import llvm_step, page_data

pytestmark = pytest.mark.needs_dot

ASSEMBLY = """\t.text
\t.file\t"m"
\t.p2align\t4, 0x90
\t.type\tk0_add,@function
k0_add:
\tretq
.Lfunc_end0:
\t.size\tk0_add, .Lfunc_end0-k0_add
.LCPI1_0:
\t.long\t1
k0_add.block:
.LBB1_1:
\tjmp\t.LBB1_1
.Lfunc_end1:
"""


def test_the_assembly_is_split_by_function():
    found = assembly_functions(ASSEMBLY)
    assert list(found) == ["k0_add", "k0_add.block"]
    assert found["k0_add"] == "k0_add:\n\tretq\n.Lfunc_end0:"
    assert ".LBB1_1:" in found["k0_add.block"] and "LCPI" not in found["k0_add.block"]


def test_each_llvm_kernel_carries_its_assembly(tmp_path):
    step = llvm_step()
    step(np.ones((7, 4), "float32"), np.zeros((7, 3), "float32"))
    data = page_data(view(step, tmp_path / "v.html").read_text())
    assert set(data["asm"]) == set(data["ir"]) == {k.name for k in step.kernels}
    for kernel in step.kernels:
        text = data["asm"][kernel.name]
        assert text.startswith(kernel.function + ":") and "ret" in text
        assert "define" not in text  # assembly, not IR
    assert all(d["flops"] is not None for d in data["kernels"].values())


def test_a_numpy_function_has_no_assembly(train_step, tmp_path):
    data = page_data(view(train_step, tmp_path / "v.html").read_text())
    assert data["asm"] == {} and data["ir"] == {}


@pytest.fixture(scope="module")
def model_page(tmp_path_factory):
    model = keras.Sequential([keras.Input((4,)), layers.Dense(3, activation="relu", name="hidden"),
                              layers.Dense(2, name="out")])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((8, 4), "float32"), np.zeros((8, 2), "float32"), epochs=1, verbose=0)
    path = view(model, tmp_path_factory.mktemp("code") / "m.html")
    return path, page_data(path.read_text())


def test_layers_link_to_their_ops_and_the_ops_back(model_page):
    data = model_page[1]
    stages = {s["name"]: s for s in data["stages"]}
    layer_ids = {d["name"]: i for i, d in stages["layers"]["nodes"].items()}
    hidden = stages["layers"]["nodes"][layer_ids["hidden"]]
    for name in ("grad", "optimized", "expanded"):
        linked = [stages[name]["nodes"][i] for i in hidden["links"][name]]
        assert linked and {d["scope"] for d in linked} == {"hidden"}
        assert all(d["links"]["layers"] == [layer_ids["hidden"]] for d in linked)
    relu = next(d for d in stages["raw"]["nodes"].values() if d["op"] == "relu")
    assert relu["links"]["layers"] == [layer_ids["hidden"]]
    assert "fused" not in hidden["links"]  # fused stages are scoped by kernel


CLICK = """
var v = window.graphcViewer;
v.showStage("fused");
var info = v.stageInfo("fused").nodes;
var g = Array.prototype.filter.call(document.querySelectorAll(".stage:not([hidden]) g.node"),
  function (n) { return info[v.nodeId(n)] && info[v.nodeId(n)].op === "matmul"; })[0];
v.select(g);
out.summaries = Array.prototype.map.call(document.querySelectorAll("#details summary"),
  function (s) { return s.textContent; });
out.text = document.getElementById("details").textContent;
v.showStage("raw");
var relu = Array.prototype.filter.call(document.querySelectorAll(".stage:not([hidden]) g.node"),
  function (n) { var d = v.stageInfo("raw").nodes[v.nodeId(n)]; return d && d.op === "relu"; })[0];
v.select(relu);
var back = Array.prototype.filter.call(document.querySelectorAll("#details button"),
  function (b) { return b.textContent.indexOf("stage layers") >= 0; })[0];
back.click();
out.stage = v.current().name;
out.linked = Array.prototype.map.call(document.querySelectorAll("g.node.linked"),
  function (n) { return v.stageInfo("layers").nodes[v.nodeId(n)].name; });
"""


@needs_browser
def test_the_details_panel_shows_ir_assembly_and_links_back(model_page, tmp_path):
    page = tmp_path / "c.html"
    page.write_text(model_page[0].read_text())
    out, stderr = run_driver(page, CLICK)
    assert any(s.startswith("LLVM IR of") for s in out["summaries"])
    assert any(s.startswith("assembly of") for s in out["summaries"])
    assert "flops" in out["text"] and "site" in out["text"]
    assert out["stage"] == "layers" and out["linked"] == ["hidden"]
    assert "Uncaught" not in stderr
