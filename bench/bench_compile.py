"""Compile time of training steps, in fresh processes: first (an empty disk cache: a fresh
machine), cold (the standard GEMM library prebuilt by `graphc cache prebuild`, the model's own
kernels not: a model's first compile on a set-up machine), new code (the step's kernels cached
but those another learning rate changes) and warm (everything from the disk cache), compiled by
one process or by several at once (GRAPHC_COMPILE_PROCESSES, backends/llvm/parallel_compile.py).
The clock covers `graphc.function` only: building the graph (the convnet's gradients, its
shared variables) and importing graphc are not compile time (before 2026-11-30's issue-13
session the convnet's cells counted them: ~15 ms of its warm time).
Interleaved rounds; the best of each counts. Each cell is wall ms and, in parentheses, CPU ms of
the compiling processes together (on a busy machine the wall time is mostly waiting; the CPU
time is what the compile costs).

    python bench/bench_compile.py [--rounds 5] [--models mlp,convnet] [--processes 1,2]
        [--code DIR,DIR...]
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
import graphc.api  # imported before the clock starts, as a user's graph code imports it
from graphc.backends.llvm import threads
threads.ensure_runtime()  # the pool is a process's cost, not a compile's
def children():  # the CPU time of the forked compiling processes, once they are waited for
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime
spent = []
def timed(*args, **kwargs):  # the compile is graphc.function: building the graph is not timed
    start, cpu = time.perf_counter(), time.process_time() + children()
    result = compile_step(*args, **kwargs)
    spent.append((time.perf_counter() - start, time.process_time() + children() - cpu))
    return result
compile_step, graphc.function = graphc.function, timed
if {model!r} == "mlp":
    from bench.bench_mlp import training_graph
    inputs, loss, updates = training_graph({lr!r})
    graphc.function(inputs, loss, updates=updates)
else:
    import numpy as np
    from bench import bench_conv
    bench_conv.LR = {lr!r}
    weights = bench_conv.init_weights("conv2d", np.random.default_rng(0))
    bench_conv.graphc_step("conv2d", weights, "llvm")
(wall, cpu), = spent
print(json.dumps({{"wall": wall, "cpu": cpu}}))
"""


def compile_once(code: Path, model: str, lr: float, cache: str, processes: int) -> tuple:
    env = dict(os.environ, GRAPHC_CACHE_DIR=cache, GRAPHC_COMPILE_PROCESSES=str(processes))
    env.pop("GRAPHC_CACHE", None)
    script = STEP.format(root=str(code), model=model, lr=lr)
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                          timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"{model}: {done.stderr.strip().splitlines()[-1]}")
    times = json.loads(done.stdout.strip().splitlines()[-1])
    return times["wall"], times["cpu"]


def prebuild(code: Path, cache: str) -> bool:
    """`graphc cache prebuild` of `code` into the folder `cache` (not timed); False when the
    code has no such command (an older commit: no cold column)."""
    script = f"import sys; sys.path.insert(0, {str(code)!r}); from graphc.cli import main; " \
             "sys.exit(main(['cache', 'prebuild']))"
    env = dict(os.environ, GRAPHC_CACHE_DIR=cache)
    env.pop("GRAPHC_CACHE", None)
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=600)
    if done.returncode == 2 and "invalid choice: 'prebuild'" in done.stderr:
        return False
    if done.returncode != 0:
        raise RuntimeError(f"graphc cache prebuild failed: {done.stderr.strip()}")
    return True


def one_round(code: Path, model: str, processes: int, salt: int, library: str | None) -> dict:
    """(wall, CPU) seconds: first, new code and warm in one empty cache folder, cold in a copy
    of `library` (a folder holding only the prebuilt GEMM library; None: no cold)."""
    times = {}
    with tempfile.TemporaryDirectory(prefix="graphc-bench-compile-") as folder:
        times["first"] = compile_once(code, model, 0.01, folder, processes)
        times["new code"] = compile_once(code, model, 0.01 + 1e-6 * (salt + 1), folder,
                                         processes)
        times["warm"] = compile_once(code, model, 0.01, folder, processes)
    if library is None:
        return times
    with tempfile.TemporaryDirectory(prefix="graphc-bench-compile-") as folder:
        cache = shutil.copytree(library, Path(folder) / "cache")
        times["cold"] = compile_once(code, model, 0.01, str(cache), processes)
    return times


def measure(codes: list, models: list, counts: list, rounds: int) -> dict:
    """{(code, model, processes, kind): best (wall, CPU) seconds} over interleaved rounds."""
    best: dict = {}
    with tempfile.TemporaryDirectory(prefix="graphc-bench-library-") as libraries:
        library = {}
        for k, code in enumerate(codes):
            folder = str(Path(libraries) / str(k))
            library[code] = folder if prebuild(code, folder) else None
        for k in range(rounds):
            for model in models:
                for count in counts:  # interleaved: a noisy minute hits every contender alike
                    for code in codes:
                        for kind, seconds in one_round(code, model, count, k,
                                                       library[code]).items():
                            key = (code, model, count, kind)
                            best[key] = tuple(map(min, best.get(key, seconds), seconds))
    return best


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--models", default="mlp,convnet")
    parser.add_argument("--processes", default="1,2")
    parser.add_argument("--code", default=str(ROOT),
                        help="graphc trees to compile with, comma-separated, interleaved (e.g. "
                             "a worktree of an older commit); default: this one")
    args = parser.parse_args(argv)
    codes = [Path(c).resolve() for c in args.code.split(",")]
    models, counts = args.models.split(","), [int(p) for p in args.processes.split(",")]
    best = measure(codes, models, counts, args.rounds)
    print(f"compile time, best of {args.rounds} interleaved rounds, ms "
          f"(1-min load average now {os.getloadavg()[0]:.1f})")
    print(f"{'model':10} {'processes':>9} " + " ".join(f"{kind:>13}" for kind in KINDS)
          + ("  code" if len(codes) > 1 else ""))
    for model in models:
        for count in counts:
            for code in codes:
                cells = [f"{best[key][0] * 1e3:.0f} ({best[key][1] * 1e3:.0f})" if key in best
                         else "-" for key in ((code, model, count, kind) for kind in KINDS)]
                print(f"{model:10} {count:>9} " + " ".join(f"{c:>13}" for c in cells)
                      + (f"  {code}" if len(codes) > 1 else ""))


if __name__ == "__main__":
    main()
