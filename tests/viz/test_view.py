"""gc.view: one self-contained HTML page with every pipeline stage, node details and a script
that parses (node) and runs in a headless browser (chromium), each skipped with its reason
when that program is not installed."""

import argparse
import json
import re
import shutil
import subprocess

import numpy as np
import pytest

import frontend as keras
import graphc as gc
from frontend import layers
from graphc import cli_view
from graphc.viz.render import DiagramError
from graphc.viz.view import view
from graphc.viz.view_assets import SCRIPT
from graphc.viz.view_collapse import COLLAPSE_SCRIPT
from tests.viz.browser import BROWSER

pytestmark = pytest.mark.needs_dot


def page_data(text: str) -> dict:
    found = re.search(r'<script type="application/json" id="graphc-data">(.*?)</script>', text,
                      re.S)
    return json.loads(found.group(1))


def stage_svgs(text: str) -> dict:
    """{stage name: the HTML of its div}."""
    canvas = text[text.index('<div id="canvas">') : text.index('<aside id="details">')]
    parts = re.split(r'<div class="stage" data-stage="([^"]+)" hidden>', canvas)[1:]
    return dict(zip(parts[0::2], parts[1::2]))


def drawn_ids(svg: str) -> set:
    return set(re.findall(r'<g id="[^"]+" class="node">\s*<title>([^<]+)</title>', svg))


def llvm_step():
    rng = np.random.default_rng(1)
    x, y = gc.matrix("x"), gc.matrix("y")
    w = gc.shared(rng.normal(size=(4, 3)).astype("float32"), name="W")
    loss = gc.mean(gc.square(gc.relu(x @ w) - y))
    return gc.function([x, y], loss, updates=[(w, w - 0.1 * gc.grad(loss, w))], name="step")


def test_the_page_needs_no_network(train_step, tmp_path):
    text = view(train_step, tmp_path / "v.html").read_text()
    assert not re.search(r'(src|href)\s*=\s*["\']?\s*(https?:)?//', text)
    assert "<script src" not in text and "<link" not in text
    assert "@import" not in text and "url(http" not in text
    assert text.count("<script") == 2  # the data block and the inline script


def test_every_stage_is_in_the_page_and_its_node_ids_match_the_graph(train_step, tmp_path):
    text = view(train_step, tmp_path / "v.html").read_text()
    data, svgs = page_data(text), stage_svgs(text)
    assert [s["name"] for s in data["stages"]] == train_step.stages == list(svgs)
    for stage in data["stages"]:
        tags = {i for i in drawn_ids(svgs[stage["name"]]) if re.fullmatch(r"(out|update)\d+", i)}
        assert drawn_ids(svgs[stage["name"]]) - tags == set(stage["nodes"]), stage["name"]
        graph_ops = sorted(n.op for n in train_step.graph(stage["name"]).nodes())
        assert sorted(d["op"] for d in stage["nodes"].values()) == graph_ops
    assert data["initial"] == train_step.stages[-1]


def test_details_name_the_users_line_shape_and_flops(train_step, tmp_path):
    data = page_data(view(train_step, tmp_path / "v.html").read_text())
    raw = data["stages"][0]["nodes"]
    matmul = next(d for d in raw.values() if d["op"] == "matmul")
    assert matmul["site"].startswith(__file__.replace(".py", "").rsplit("/", 1)[0])
    assert matmul["shape"] == "(?, 8)" and matmul["dtype"] == "float32"
    assert matmul["flops"] is None  # the batch is known only at run time
    assert "numpy interpreter" in data["no_ir"]
    assert data["ir"] == {}


def test_llvm_kernels_carry_their_ir_and_flops_after_a_call(tmp_path):
    step = llvm_step()
    step(np.ones((5, 4), "float32"), np.zeros((5, 3), "float32"))
    data = page_data(view(step, tmp_path / "v.html").read_text())
    fused = next(s["nodes"] for s in data["stages"] if s["name"] == "fused")
    inner = [d for d in fused.values() if d["kernel"] and d["op"] == "matmul"]
    assert inner and inner[0]["flops"] == 2 * 5 * 4 * 3
    assert set(data["ir"]) == set(data["kernels"]) == {k.name for k in step.kernels}
    kernel = inner[0]["kernel"]
    assert data["ir"][kernel].startswith("define ")
    assert data["kernels"][kernel]["flops"] is not None


def test_a_model_shows_its_layers_linked_to_the_ops_of_its_training_step(tmp_path):
    model = keras.Sequential([keras.Input((4,)), layers.Dense(3, name="hidden"),
                              layers.Dense(2, name="out")])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((8, 4), "float32"), np.zeros((8, 2), "float32"), epochs=1, verbose=0)
    text = view(model, tmp_path / "m.html").read_text()
    data = page_data(text)
    names = ["layers", *model.train_function.stages, "fused (kernels as boxes)"]
    assert [s["name"] for s in data["stages"]] == names
    layer_nodes = data["stages"][0]["nodes"]
    hidden = next(d for d in layer_nodes.values() if d["name"] == "hidden")
    raw = data["stages"][1]["nodes"]
    assert {raw[i]["name"] for i in hidden["links"]["raw"]} == {"hidden/kernel", "hidden/bias"}
    assert drawn_ids(stage_svgs(text)["layers"]) == set(layer_nodes)


def test_a_stage_over_the_cap_says_how_to_draw_it(train_step, tmp_path):
    data_text = view(train_step, tmp_path / "v.html", max_nodes=10).read_text()
    svgs = stage_svgs(data_text)
    assert "max_nodes=" in svgs["raw"] and "<svg" not in svgs["raw"]


def test_a_graph_and_nodes_are_one_stage(tmp_path):
    x = gc.vector("x")
    data = page_data(view(gc.exp(x) + 1, tmp_path / "n.html").read_text())
    assert [s["name"] for s in data["stages"]] == ["graph"]


def test_what_cannot_be_viewed_is_named(tmp_path):
    with pytest.raises(DiagramError, match="got dict"):
        view({"not": "a graph"}, tmp_path / "x.html")


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed: no JS check")
@pytest.mark.parametrize("text", [SCRIPT, COLLAPSE_SCRIPT], ids=["viewer", "collapse"])
def test_the_script_parses(tmp_path, text):
    script = tmp_path / "viewer.js"
    script.write_text(text)
    done = subprocess.run(["node", "--check", str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_the_command_line_writes_the_page(tmp_path):
    source = tmp_path / "step.py"
    source.write_text(
        "import graphc as gc\n"
        "x = gc.vector('x')\n"
        "f = gc.function([x], gc.exp(x) * 2, backend='numpy', name='f')\n"
    )
    parser = argparse.ArgumentParser()
    cli_view.arguments(parser)
    out = tmp_path / "f.html"
    assert cli_view.run(parser.parse_args([f"{source}:f", "-o", str(out)])) == 0
    assert [s["name"] for s in page_data(out.read_text())["stages"]] == ["raw", "grad",
                                                                          "optimized"]


# Runs in the page after the viewer: switch stage, search, click a node; the results go into
# the DOM, which the browser dumps.
DRIVER = """<script>
var v = window.graphcViewer, out = {};
v.showStage("raw");
out.found = v.search("matmul");
out.details = document.getElementById("details").textContent;
out.visible = document.querySelectorAll(".stage:not([hidden])").length;
var pre = document.createElement("pre"); pre.id = "result";
pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
</script>"""


@pytest.mark.skipif(BROWSER is None, reason="no chromium installed (CI: apt-get install chromium)")
def test_the_page_works_in_a_headless_browser(train_step, tmp_path):
    page = view(train_step, tmp_path / "v.html")
    page.write_text(page.read_text().replace("</body>", DRIVER + "</body>"))
    done = subprocess.run(
        [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
         "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    result = json.loads(re.search(r'<pre id="result">(.*?)</pre>', done.stdout).group(1))
    assert result["found"] == 2 and result["visible"] == 1
    assert "matmul" in result["details"] and "site" in result["details"]
    assert "Uncaught" not in done.stderr


def test_a_model_before_fit_shows_its_layers_and_says_why_no_step(tmp_path):
    model = keras.Sequential([keras.Input((4,)), layers.Dense(2)])
    text = view(model, tmp_path / "m.html").read_text()
    assert [s["name"] for s in page_data(text)["stages"]] == ["layers"]
    assert "fit it to see the compiled graphs" in stage_svgs(text)["layers"]


def test_each_stage_tells_which_nodes_its_pass_made(train_step, tmp_path):
    data = page_data(view(train_step, tmp_path / "v.html").read_text())
    raw, grad = data["stages"][0]["nodes"], data["stages"][1]["nodes"]
    assert all("new in this stage" not in d for d in raw.values())
    made = {d["op"] for d in grad.values() if d["new in this stage"]}
    kept = {d["op"] for d in grad.values() if not d["new in this stage"]}
    assert "grad" not in made | kept and "matmul" in made and "placeholder" in kept


def test_the_fused_stage_comes_again_with_kernels_as_boxes(tmp_path):
    step = llvm_step()
    text = view(step, tmp_path / "v.html").read_text()
    data, svgs = page_data(text), stage_svgs(text)
    boxes = next(s for s in data["stages"] if s["name"] == "fused (kernels as boxes)")
    assert {d["op"] for d in boxes["nodes"].values()} >= {"kernel"}
    assert "cluster" not in svgs["fused (kernels as boxes)"] and "cluster" in svgs["fused"]
    assert data["initial"] == "fused"
    all_ids = re.findall(r'\bid="([^"]+)"', text)
    assert len(all_ids) == len(set(all_ids))  # no two SVGs share an element id
