"""Overlays: gc.profile's share of the step and gc.compare's error per kernel, as colours and
numbers in to_dot diagrams and in the gc.view page (legend, worst-first table, details)."""

import json
import re
import subprocess

import numpy as np
import pytest

import frontend as keras
import graphc as gc
from frontend import layers
from graphc.profile import LEAVES
from graphc.profile import node_label as profiled_name
from graphc.profile_report import KernelTime, Profile
from graphc.viz.overlay import overlay_of, ranked, share_colour
from passes.fuse import kernel_nodes
from tests.viz.test_view import BROWSER

X = np.linspace(-1, 1, 12, dtype="float32").reshape(4, 3)


def step(backend: str):
    x = gc.matrix("x")
    w = gc.shared(np.linspace(-1, 1, 6, dtype="float32").reshape(3, 2), name="w")
    loss = gc.mean(gc.tanh(x @ w) ** 2)
    return gc.function([x], loss, updates=[(w, w - 0.1 * gc.grad(loss, w))], backend=backend)


def page_data(text: str) -> dict:
    found = re.search(r'<script type="application/json" id="graphc-data">(.*?)</script>', text,
                      re.S)
    return json.loads(found.group(1))


def fixed_profile(names_and_seconds) -> Profile:
    rows = [KernelTime(name, "elementwise", ("add",), 1, seconds, flops=2_000_000,
                       thread_seconds=[seconds]) for name, seconds in names_and_seconds]
    return Profile("llvm", rows, 1, sum(s for _, s in names_and_seconds))


def test_share_colours_and_the_worst_first_order():
    assert [share_colour(s) for s in (0.5, 0.25, 0.1, 0.05, 0.01)] == [
        "#dc2626", "#dc2626", "#ea580c", "#d97706", "#2563eb"]
    kind, stats = overlay_of(profile=fixed_profile([("a", 1.0), ("b", 6.0), ("c", 3.0)]))
    assert kind == "profile" and [key for key, _ in ranked(stats)] == ["b", "c", "a"]
    assert stats["b"]["label"] == "60.0% of step, 6000000.0 us"
    assert stats["b"]["details"]["GFLOP/s"] == round(2e6 / 6.0 / 1e9, 3)


def test_only_one_overlay_and_only_a_profile_as_profile():
    report = fixed_profile([("a", 1.0)])
    with pytest.raises(ValueError, match="not both"):
        overlay_of(profile=report, compare=report)
    with pytest.raises(TypeError, match="gc.profile report; got dict"):
        overlay_of(profile={"k0": 0.5})


def test_to_dot_colours_llvm_kernels_by_their_share():
    f = step("llvm")
    f(X)
    names = [k.attr("body").name for k in kernel_nodes(f.graph("fused"))]
    shares = dict.fromkeys(names, 1.0)
    shares[names[0]] = 96.0 - len(names)  # the hot kernel: over 90% of the step
    report = fixed_profile(shares.items())
    hot = f"{100 * report.share(report.kernels[0]):.1f}% of step"
    source = gc.to_dot(f, stage="fused", profile=report).source
    assert re.search(rf"{names[0]} \(\w+\)\n{hot}", source)
    assert source.count('color="#dc2626"') == 1  # only the hot kernel's outline is red
    assert source.count('color="#2563eb"') == len(names) - 1
    boxes = gc.to_dot(f, stage="fused", profile=report, collapse_kernels=True).source
    assert hot in boxes and boxes.count('color="#dc2626"') == 1


def test_to_dot_colours_interpreter_ops_by_their_share():
    f = step("numpy")
    ops = [n for n in f.graph("optimized").nodes() if n.op not in LEAVES]
    rows = [KernelTime(f"{n.op}_{k}", "op", (n.op,), 1, k + 1.0, nodes=[profiled_name(n)])
            for k, n in enumerate(ops)]  # distinct shares: one label per op
    report = Profile("numpy", rows, 1, sum(r.seconds for r in rows))
    source = gc.to_dot(f, stage="optimized", profile=report).source
    for row in rows:
        share = report.share(row)
        label = f"{100 * share:.1f}% of step"
        node = re.search(rf'label="[^"]*\n{re.escape(label)}[^"]*" color="(#\w+)"', source)
        assert node and node.group(1) == share_colour(share), row.name
    assert {share_colour(report.share(r)) for r in rows} >= {"#2563eb", "#ea580c"}


def test_to_dot_with_a_compare_report_labels_errors():
    f = step("llvm")
    report = gc.compare(f, X)
    source = gc.to_dot(f, stage="fused", compare=report).source
    for kernel in kernel_nodes(f.graph("fused")):
        assert re.search(rf"{kernel.attr('body').name} \(\w+\)\nerror ", source)
    assert "#dc2626" not in source and "#16a34a" in source


@pytest.mark.needs_dot
@pytest.mark.parametrize("backend", ["llvm", "numpy"])
def test_view_shows_a_profile_as_colours_legend_table_and_details(backend, tmp_path):
    f = step(backend)
    report = gc.profile(f, X, repeat=2, peak=False)
    text = gc.view(f, tmp_path / "p.html", profile=report).read_text()
    overlay = re.search(r'<details id="overlay" open>(.*?)</details>', text, re.S).group(1)
    assert "share of the step" in overlay and "25% of the step or more" in overlay  # legend
    listed = re.findall(r"</span>([^<]+)</td>", overlay)
    assert listed[: len(report.kernels)] == [row.name for row in report.kernels]  # slowest first
    stage = "fused" if backend == "llvm" else "optimized"
    assert f"{100 * report.share(report.kernels[0]):.1f}% of step" in text
    nodes = next(s for s in page_data(text)["stages"] if s["name"] == stage)["nodes"]
    shown = {info["profiled"] for info in nodes.values() if "profiled" in info}
    assert shown == {row.name for row in report.kernels if row.name != "(copies)"}
    timed = next(info for info in nodes.values() if "profiled" in info)
    assert {"share of step", "time per call (us)", "GFLOP/s"} <= set(timed)
    assert any(share_colour(report.share(r)) in text for r in report.kernels)
    for row_stage, ids in re.findall(r'<tr data-stage="([^"]+)" data-ids="([^"]+)">', overlay):
        assert row_stage == stage and set(ids.split()) <= set(nodes)  # a click shows them
    assert len(re.findall("<tr data-stage", overlay)) == len(shown)


@pytest.mark.needs_dot
def test_view_shows_a_compare_report_worst_kernel_first(tmp_path):
    f = step("llvm")
    report = gc.compare(f, X)
    text = gc.view(f, tmp_path / "c.html", compare=report).read_text()
    assert "compare: error per kernel" in text and "max relative error &lt;= 1e-5" in text
    worst = max(report.kernels, key=lambda row: row.max_rel)
    overlay = re.search(r'<details id="overlay" open>(.*?)</details>', text, re.S).group(1)
    assert re.findall(r"</span>([^<]+)</td>", overlay)[0] == worst.name
    nodes = next(s for s in page_data(text)["stages"] if s["name"] == "fused")["nodes"]
    assert any("max relative error" in info for info in nodes.values())


@pytest.mark.needs_dot
def test_view_without_an_overlay_has_no_overlay_box(tmp_path):
    text = gc.view(step("numpy"), tmp_path / "n.html").read_text()
    assert 'id="overlay"' not in text


@pytest.mark.needs_dot
def test_view_of_a_fitted_model_with_its_profiler_callbacks_report(tmp_path):
    model = keras.Sequential([keras.Input((3,)), layers.Dense(4, activation="relu"),
                              layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    profiler = keras.callbacks.ProfilerCallback(tmp_path / "p.json", batch_size=4, repeat=2)
    model.fit(X, X[:, :1], batch_size=4, epochs=1, verbose=0, callbacks=[profiler])
    text = gc.view(model, tmp_path / "m.html", profile=profiler.profile).read_text()
    slowest = profiler.profile.kernels[0].name
    overlay = re.search(r'<details id="overlay" open>(.*?)</details>', text, re.S).group(1)
    assert re.findall(r"</span>([^<]+)</td>", overlay)[0] == slowest
    stages = {s["name"]: s["nodes"] for s in page_data(text)["stages"]}
    drawn = next(k.name for k in profiler.profile.kernels if k.name != "(copies)")
    assert any(info.get("profiled") == drawn for info in stages["fused"].values())


CLICK_FIRST_ROW = """<script>
document.querySelector("#overlay tr[data-stage]").click();
var out = {stage: document.getElementById("stage").value,
           linked: document.querySelectorAll(".stage:not([hidden]) g.node.linked").length};
var pre = document.createElement("pre"); pre.id = "result";
pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
</script>"""


@pytest.mark.needs_dot
@pytest.mark.skipif(BROWSER is None, reason="no chromium installed (CI: apt-get install chromium)")
def test_clicking_a_table_row_shows_that_kernels_ops_in_a_browser(tmp_path):
    f = step("llvm")
    page = gc.view(f, tmp_path / "v.html", profile=gc.profile(f, X, repeat=2, peak=False))
    page.write_text(page.read_text().replace("</body>", CLICK_FIRST_ROW + "</body>"))
    done = subprocess.run(
        [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
         "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    result = json.loads(re.search(r'<pre id="result">(.*?)</pre>', done.stdout).group(1))
    assert result["stage"] == "fused" and result["linked"] >= 1
    assert "Uncaught" not in done.stderr
