"""Benchmark: what thread-count-independent results cost. Times bench_mlp.py's training step
(784-500-500-10 MLP, batch 100, graphc llvm) for the code of a git ref from before the change
and for this tree, alternating fresh processes for each. Each process times single steps; the
fastest step and the 5th percentile are reported (on a shared machine the quiet steps are the
ones that measure the code, and a step is short: ~2 ms).

    python bench/bench_determinism.py [--before e7bc29d] [--rounds 4] [--seconds 3]

Measured (2-core Zen 4 VM shared with other jobs, load ~5; before = 3b6ff29, the commit before
the fixed blocks): 2 threads 1.889 -> 1.841 ms fastest step, 2.026 -> 1.993 ms 5th percentile;
1 thread 2.745 -> 2.700 ms, 2.884 -> 2.839 ms. Bit-identical results across thread counts cost
nothing measurable here (differences within the run-to-run noise of about 5%).

The ref is exported (git archive) to a temporary folder; both trees compile into one temporary
disk cache (their sources differ, so their keys do). Thread count: GRAPHC_NUM_THREADS.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

STEP_SCRIPT = """
import sys, time
sys.path.insert(0, {root!r})
from bench.bench_mlp import ROWS, data
from graphc.backends.llvm import threads
x, y = data()
step = ROWS["graphc llvm"](threads.num_threads())
for _ in range(20):
    step(x, y)
times, stop = [], time.perf_counter() + {seconds!r}
while time.perf_counter() < stop:
    start = time.perf_counter()
    step(x, y)
    times.append(time.perf_counter() - start)
times.sort()
print(times[0] * 1e3, times[len(times) // 20] * 1e3)
"""


def export(ref: str, folder: str) -> str:
    """The files of `ref` in `folder` (a tree of its own), as a path."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
    return folder


def step_ms(tree: str, seconds: float, env: dict) -> tuple:
    """(fastest, 5th percentile) ms of one step, in a fresh process running `tree`."""
    script = STEP_SCRIPT.format(root=tree, seconds=seconds)
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=300, cwd=tree)
    if done.returncode != 0:
        raise RuntimeError(f"{tree}: {done.stderr.strip().splitlines()[-1]}")
    return tuple(float(v) for v in done.stdout.split()[-2:])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="e7bc29d", help="git ref of the code before")
    parser.add_argument("--rounds", type=int, default=4, help="processes per tree")
    parser.add_argument("--seconds", type=float, default=3.0, help="timing per process")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as before, tempfile.TemporaryDirectory() as cache:
        trees = {f"before ({args.before})": export(args.before, before), "this tree": str(ROOT)}
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["GRAPHC_CACHE_DIR"] = cache
        best = dict.fromkeys(trees, (float("inf"), float("inf")))
        for _ in range(args.rounds):
            for label, tree in trees.items():
                best[label] = tuple(map(min, best[label], step_ms(tree, args.seconds, env)))
    threads = os.environ.get("GRAPHC_NUM_THREADS", "all cores")
    print(f"MLP training step, graphc llvm, GRAPHC_NUM_THREADS={threads}; 1-min load average "
          f"{os.getloadavg()[0]:.2f}")
    base = best[next(iter(trees))]
    print(f"{'':24} {'fastest step':>14} {'5th percentile':>16}")
    for label, (fastest, p5) in best.items():
        print(f"{label:24} {fastest:8.3f} ms {fastest / base[0]:.3f}x {p5:8.3f} ms "
              f"{p5 / base[1]:.3f}x")


if __name__ == "__main__":
    main()
