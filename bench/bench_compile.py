"""Compile time of training steps, in fresh processes: first (an empty disk cache: a fresh
machine), cold (the standard GEMM library prebuilt by `graphc cache prebuild`, the model's own
kernels not: a model's first compile on a set-up machine), new code (the step's kernels cached
but those another learning rate changes) and warm (everything from the disk cache), compiled by
one process or by several at once (GRAPHC_COMPILE_PROCESSES, backends/llvm/parallel_compile.py).
Interleaved rounds; the best of each counts. Each cell is wall ms and, in parentheses, CPU ms of
the compiling processes together (on a busy machine the wall time is mostly waiting; the CPU
time is what the compile costs).

    python bench/bench_compile.py [--rounds 5] [--models mlp,convnet] [--processes 1,2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("first", "cold", "new code", "warm")

STEP = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
import graphc
from graphc.backends.llvm import threads
threads.ensure_runtime()  # the pool is a process's cost, not a compile's
def children():  # the CPU time of the forked compiling processes, once they are waited for
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime
if {model!r} == "mlp":
    from bench.bench_mlp import training_graph
    inputs, loss, updates = training_graph({lr!r})
    start = time.perf_counter()
    cpu = time.process_time() + children()
    graphc.function(inputs, loss, updates=updates)
else:
    import numpy as np
    from bench import bench_conv
    bench_conv.LR = {lr!r}
    weights = bench_conv.init_weights("conv2d", np.random.default_rng(0))
    start = time.perf_counter()
    cpu = time.process_time() + children()
    bench_conv.graphc_step("conv2d", weights, "llvm")
wall, cpu = time.perf_counter() - start, time.process_time() + children() - cpu
print(json.dumps({{"wall": wall, "cpu": cpu}}))
"""


def compile_once(model: str, lr: float, cache: str, processes: int) -> tuple:
    env = dict(os.environ, GRAPHC_CACHE_DIR=cache, GRAPHC_COMPILE_PROCESSES=str(processes))
    env.pop("GRAPHC_CACHE", None)
    script = STEP.format(root=str(ROOT), model=model, lr=lr)
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                          timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"{model}: {done.stderr.strip().splitlines()[-1]}")
    times = json.loads(done.stdout.strip().splitlines()[-1])
    return times["wall"], times["cpu"]


def prebuild(cache: str) -> None:
    """`graphc cache prebuild` into the folder `cache` (not timed)."""
    script = f"import sys; sys.path.insert(0, {str(ROOT)!r}); from graphc.cli import main; " \
             "sys.exit(main(['cache', 'prebuild']))"
    env = dict(os.environ, GRAPHC_CACHE_DIR=cache)
    env.pop("GRAPHC_CACHE", None)
    subprocess.run([sys.executable, "-c", script], env=env, check=True, capture_output=True,
                   timeout=600)


def one_round(model: str, processes: int, salt: int, library: str) -> dict:
    """(wall, CPU) seconds: first, new code and warm in one empty cache folder, cold in a copy
    of `library` (a folder holding only the prebuilt GEMM library)."""
    times = {}
    with tempfile.TemporaryDirectory(prefix="graphc-bench-compile-") as folder:
        times["first"] = compile_once(model, 0.01, folder, processes)
        times["new code"] = compile_once(model, 0.01 + 1e-6 * (salt + 1), folder, processes)
        times["warm"] = compile_once(model, 0.01, folder, processes)
    with tempfile.TemporaryDirectory(prefix="graphc-bench-compile-") as folder:
        cache = shutil.copytree(library, Path(folder) / "cache")
        times["cold"] = compile_once(model, 0.01, str(cache), processes)
    return times


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--models", default="mlp,convnet")
    parser.add_argument("--processes", default="1,2")
    args = parser.parse_args(argv)
    models, counts = args.models.split(","), [int(p) for p in args.processes.split(",")]
    best: dict = {}
    with tempfile.TemporaryDirectory(prefix="graphc-bench-library-") as library:
        prebuild(library)
        for k in range(args.rounds):
            for model in models:
                for count in counts:  # interleaved: a noisy minute hits every contender alike
                    for kind, seconds in one_round(model, count, k, library).items():
                        key = (model, count, kind)
                        best[key] = tuple(map(min, best.get(key, seconds), seconds))
    print(f"compile time, best of {args.rounds} interleaved rounds, ms "
          f"(1-min load average now {os.getloadavg()[0]:.1f})")
    print(f"{'model':10} {'processes':>9} " + " ".join(f"{kind:>13}" for kind in KINDS))
    for model in models:
        for count in counts:
            cells = [f"{wall * 1e3:.0f} ({cpu * 1e3:.0f})" for wall, cpu in
                     (best[(model, count, kind)] for kind in KINDS)]
            print(f"{model:10} {count:>9} " + " ".join(f"{c:>13}" for c in cells))


if __name__ == "__main__":
    main()
