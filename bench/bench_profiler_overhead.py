"""Benchmark: what profiling costs. The MLP training step of bench_mlp.py (784-500-500-10,
batch 100, Adam) timed, each in a fresh process:

  before      the code at REV (default: the commit before the profiler), profiling off
  after       this checkout, profiling off: no cycle-counter read in its LLVM IR (counted),
              the same code as without a profiler and so the same time, within noise (the
              IR digest is printed for both; commits after REV may change the kernels)
  profiled    this checkout's profiling build (cycle counters around every kernel)

plus gc.profile's per-kernel sum against the measured step time.

    python bench/bench_profiler_overhead.py [--before REV] [--seconds 5] [--rounds 3]

Rows alternate between the trees for `rounds` rounds and the best of each counts (a shared
machine slows whichever runs during someone else's burst).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

CHILD = """
import hashlib, json, re, sys
COUNTER_READ = r'call i64 @"?llvm.readcyclecounter"?[(]'
sys.path.insert(0, {bench!r})
import bench_mlp as mlp
from graphc.backends import get_backend
from graphc.backends.llvm.emit import generate
from passes.manager import PipelineRun

f = mlp.graphc_step("llvm")
x, y = mlp.data()
run = PipelineRun(stages={{k: f.graph(k) for k in ("raw", "grad", "optimized")}})
normal = get_backend("llvm").compile(run, use_cache=False)
text = generate(normal.program)[0]
out = {{"ir_sha256": hashlib.sha256(text.encode()).hexdigest()[:16],
        "counter_reads": len(re.findall(COUNTER_READ, text)),
        "ms": mlp.best_ms(normal, x, y, {seconds} / 4)}}
if {profiled}:
    import graphc as gc
    run = PipelineRun(stages={{k: f.graph(k) for k in ("raw", "grad", "optimized")}})
    profiled = get_backend("llvm").compile(run, use_cache=False, profile=True)
    out["profiled_ms"] = mlp.best_ms(profiled, x, y, {seconds} / 4)
for _ in range(3):  # the builds in turns in one process: neither is always the first timed
    out["ms"] = min(out["ms"], mlp.best_ms(normal, x, y, {seconds} / 4))
    if {profiled}:
        out["profiled_ms"] = min(out["profiled_ms"], mlp.best_ms(profiled, x, y, {seconds} / 4))
if {profiled}:
    profiled_text = generate(normal.program, profile=True)[0]
    out["profiled_counter_reads"] = len(re.findall(COUNTER_READ, profiled_text))
    report = gc.profile(f, x, y, repeat=50, peak=False)
    out["kernel_sum_over_step"] = report.kernel_seconds / report.step_seconds
    out["table"] = str(report)
print(json.dumps(out))
"""


def measure(tree: Path, seconds: float, profiled: bool) -> dict:
    code = CHILD.format(bench=str(HERE), seconds=seconds, profiled=profiled)
    env = dict(os.environ, PYTHONPATH=str(tree))
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=tree, check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def export(rev: str, folder: str) -> Path:
    """The tree of commit `rev`, unpacked into `folder`."""
    archive = Path(folder) / "tree.tar"
    subprocess.run(["git", "archive", "-o", str(archive), rev], cwd=ROOT, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(Path(folder) / "tree", filter="data")
    return Path(folder) / "tree"


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--before", default="36fb932", help="the commit to compare with")
    p.add_argument("--seconds", type=float, default=5.0, help="timing per row and round")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds (best counts)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        tree = export(args.before, folder)
        rounds = [(measure(tree, args.seconds, profiled=False),
                   measure(ROOT, args.seconds, profiled=True)) for _ in range(args.rounds)]
    before = min((b for b, _ in rounds), key=lambda r: r["ms"])
    after = min((a for _, a in rounds), key=lambda r: r["ms"])
    after["profiled_ms"] = min(a["profiled_ms"] for _, a in rounds)
    print(f"{'':<28} {'ms/step':>8}  step IR sha256")
    print(f"{'before (' + args.before + ')':<28} {before['ms']:>8.3f}  {before['ir_sha256']}")
    print(f"{'after, profiling off':<28} {after['ms']:>8.3f}  {after['ir_sha256']}")
    print(f"{'after, profiling build':<28} {after['profiled_ms']:>8.3f}  "
          f"(+{100 * (after['profiled_ms'] / after['ms'] - 1):.1f}%)")
    same = "identical" if before["ir_sha256"] == after["ir_sha256"] else (
        "different (commits since --before changed the kernels; the counter check below is "
        "what says profiling is absent)")
    print(f"normal build's IR before/after: {same}")
    print(f"cycle-counter reads in the IR: normal build {after['counter_reads']}, profiling "
          f"build {after['profiled_counter_reads']}")
    print(f"gc.profile: kernels sum to {100 * after['kernel_sum_over_step']:.1f}% of the "
          f"measured step\n\n{after['table']}")


if __name__ == "__main__":
    main()
