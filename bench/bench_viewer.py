"""Benchmark: gc.view at size. The 2-block Transformer classifier's training step
(examples/transformer_classifier.py, Adam, llvm backend; or with --model mlp the MNIST MLP's,
examples/mnist_mlp.py) is viewed, and the page is loaded in headless chromium, which then
switches to every stage, searches, and collapses every scope of a stage.

Reported: nodes per stage, the seconds gc.view takes (one dot layout shared by the stages
before fusion, one for fused and one for its kernels as boxes; the assembly disassembled
from the cached object code) and the machine's load meanwhile, the page's size, and in the
browser the time to load (scripts done), to show each stage, to search, and to collapse
and expand all.

    python bench/bench_viewer.py [--model transformer|mlp] [--rounds N] [--out PAGE.html]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))

import mnist_mlp  # noqa: E402
from transformer_classifier import build_model, make_sentences  # noqa: E402

import graphc as gc  # noqa: E402

DRIVER = """<script>
var out = {loaded: performance.now(), show: {}}, v = window.graphcViewer;
function timed(f) { var a = performance.now(); var r = f(); return [performance.now() - a, r]; }
v.data.stages.forEach(function (s) {
  out.show[s.name] = timed(function () { v.showStage(s.name); })[0]; });
v.showStage("grad");
out.search = timed(function () { return v.search("matmul"); });
out.collapse_layers = timed(v.collapseAll);
out.expand_layers = timed(v.expandAll);
v.showStage("fused");
out.collapse_kernels = timed(v.collapseAll);
var pre = document.createElement("pre"); pre.id = "result";
pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
</script>"""


def fitted_model(kind: str = "transformer"):
    """The model whose training step is viewed, fitted a little (llvm backend)."""
    rng = np.random.default_rng(0)
    if kind == "mlp":
        model, loss = mnist_mlp.build_model(), "categorical_crossentropy"
        x = rng.random((200, 784), dtype=np.float32)
        y = np.eye(10, dtype="float32")[rng.integers(0, 10, 200)]
    else:
        model, loss = build_model(), "binary_crossentropy"
        x, y = make_sentences(128, rng)
    model.compile(optimizer="adam", loss=loss, metrics=["accuracy"], backend="llvm")
    model.fit(x, y, batch_size=32, epochs=2, verbose=0)
    return model


def children_cpu() -> float:
    """CPU seconds of the finished child processes (dot, objdump) so far."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def browser_times(page: Path) -> dict:
    browser = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome")
                    if shutil.which(b)), None)
    if browser is None:
        return {"skipped": "no chromium on PATH"}
    driven = page.with_name("driven-" + page.name)
    driven.write_text(page.read_text().replace("</body>", DRIVER + "</body>"))
    done = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                           "--window-size=1400,900", "--dump-dom", driven.as_uri()],
                          capture_output=True, text=True, timeout=600)
    driven.unlink()
    return json.loads(re.search(r'<pre id="result">(.*?)</pre>', done.stdout, re.S).group(1))


def timed_view(model, out: str) -> Path:
    """gc.view of `model`, printing its wall time, its CPU time and the load meanwhile."""
    start = time.perf_counter()
    cpu, dot_cpu = time.process_time(), children_cpu()
    page = gc.view(model, out)
    print(f"gc.view: {time.perf_counter() - start:.1f} s (CPU: Python "
          f"{time.process_time() - cpu:.1f} s, dot {children_cpu() - dot_cpu:.1f} s; "
          f"load average {os.getloadavg()[0]:.1f}), page {page.stat().st_size / 1e6:.1f} MB")
    return page


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("transformer", "mlp"), default="transformer")
    parser.add_argument("--rounds", type=int, default=1, help="gc.view this many times")
    parser.add_argument("--out", default=None, help="the page to write; default MODEL-view.html")
    args = parser.parse_args(argv)
    model = fitted_model(args.model)
    step = model.train_function
    print("nodes per stage:", {s: len(step.graph(s).nodes()) for s in step.stages})
    for _ in range(args.rounds):  # the machine is shared: the best round is the least disturbed
        page = timed_view(model, args.out or f"{args.model}-view.html")
    times = browser_times(page)
    if "skipped" in times:
        print("browser:", times["skipped"])
        return
    print(f"chromium: loaded (scripts done) after {times['loaded']:.0f} ms")
    print("show a stage, ms:", {k: round(v) for k, v in times["show"].items()})
    for key in ("search", "collapse_layers", "expand_layers", "collapse_kernels"):
        ms, result = times[key]
        print(f"{key}: {ms:.0f} ms ({result} {'found' if key == 'search' else 'scopes'})")


if __name__ == "__main__":
    main()
