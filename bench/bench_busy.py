"""Benchmark: graphc on a busy machine. Times the MLP training step (bench_mlp), the wide MLP
784-2048-2048-10 at batch 256 (bench_bf16's float32 step), the MNIST convnet training step
(bench_conv's conv2d, batch 128), the LSTM(128) step at 50 time steps and batch 64 (bench_rnn),
a Transformer block's step at batch 8, sequence 64 (bench_transformer) and a 100x500 column sum on
a quiet machine and with a competing busy process pinned to one core (`taskset -c 1 python -c "while
1: pass"`, started and stopped by this script), all in one run, each three ways in one process
with a 2-thread pool, interleaved in short rounds (the best round of each is reported):

  1 thread   every call on the calling thread alone (what GRAPHC_NUM_THREADS=1 runs)
  2T pool    every call on the pool of 2 threads (graphc before adaptive runs)
  2T         the default: pool or calling thread, whichever has been faster for the step

    python bench/bench_busy.py [--rounds 6] [--seconds 0.3] [--models mlp,wide,convnet,...]
                               [--against /path/to/another/checkout]

--against: also time another checkout of graphc (e.g. a worktree of an older commit; its
bench_busy.py serves the same protocol), in a worker of its own, interleaved with this one in
every round: a before/after comparison in one run.

The goal (issue 13): with the busy core, 2 threads are never slower than 1 (within 10%).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("mlp", "wide", "convnet", "lstm", "transformer", "colsum")


# ---- the worker: compiles the models once, then times what it is asked -----------------------


def build_models(names) -> dict:
    """{name: (step, args)} of the models, compiled for the llvm backend."""
    sys.path.insert(0, str(ROOT))
    import graphc as gc
    from bench import bench_conv, bench_mlp, bench_rnn

    models = {}
    if "mlp" in names:
        inputs, loss, updates = bench_mlp.training_graph()
        models["mlp"] = (gc.function(inputs, loss, updates=updates), bench_mlp.data())
    if "wide" in names:
        models["wide"] = wide_mlp()
    if "convnet" in names:
        rng = np.random.default_rng(0)
        step, _ = bench_conv.graphc_step("conv2d", bench_conv.init_weights("conv2d", rng), "llvm")
        x = rng.standard_normal((128, 28, 28, 1)).astype("float32")
        models["convnet"] = (step, (x, rng.integers(0, 10, 128).astype("int64")))
    if "lstm" in names:
        rng = np.random.default_rng(0)
        x = rng.standard_normal((64, 50, bench_rnn.FEATURES)).astype("float32")
        models["lstm"] = (bench_rnn.graphc_step("lstm", 50),
                          (x, rng.integers(0, 10, 64).astype("int64")))
    if "transformer" in names:
        models["transformer"] = transformer_block()
    if "colsum" in names:
        x = gc.placeholder((None, 500), name="x")
        column_sum = gc.function([x], gc.sum(x, axis=0))
        models["colsum"] = (column_sum, (np.ones((100, 500), "float32"),))
    return models


def wide_mlp() -> tuple:
    """The float32 training step of 784-2048-2048-10 at batch 256, with its data."""
    from bench import bench_bf16

    sizes = (784, 2048, 2048, 10)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, sizes[0])).astype("float32")
    y = np.eye(sizes[-1], dtype="float32")[rng.integers(0, sizes[-1], 256)]
    return bench_bf16.graphc_training_step(sizes, "float32"), (x, y)


def transformer_block() -> tuple:
    """bench_transformer's training step at batch 8, sequence 64, with its data."""
    from bench import bench_transformer

    wrapper = bench_transformer.graphc_step(8, 64)
    (step,) = (cell.cell_contents for cell in wrapper.__closure__)  # the function it wraps
    return step, bench_transformer.data(8, 64)


def best_ms(step, args, seconds: float) -> float:
    """Best ms per call over rounds of about 20 ms for `seconds`."""
    start = time.perf_counter()
    step(*args)
    per_round = max(2, int(0.02 / max(time.perf_counter() - start, 1e-6)))
    best, stop = np.inf, time.perf_counter() + seconds
    while time.perf_counter() < stop:
        start = time.perf_counter()
        for _ in range(per_round):
            step(*args)
        best = min(best, (time.perf_counter() - start) / per_round * 1e3)
    return best


MODES = ("1 thread", "2T pool", "2T")


def with_mode(step, args, mode: str):
    """A call of `step` that runs as `mode` asks (see the docstring)."""
    executable = step.executable
    step(*args)  # prepares the executable for these shapes
    adaptive = executable.stats_address
    # a record that always prefers the calling thread and never tries the pool
    alone = np.array([1, 1 << 62, 1 << 62, 1 << 62], np.int64)

    def call():
        executable.stats_address = {"1 thread": alone.ctypes.data, "2T pool": 0}.get(mode,
                                                                                    adaptive)
        try:
            return step(*args)
        finally:
            executable.stats_address = adaptive
    return call


def serve(names) -> None:
    """Worker loop: read `model mode seconds` lines, answer with the best ms per call."""
    models = build_models(names)
    calls = {(name, mode): with_mode(step, args, mode)
             for name, (step, args) in models.items() for mode in MODES}
    print("ready", flush=True)
    for line in sys.stdin:
        name, rest = line.split(" ", 1)
        mode, seconds = rest.rsplit(" ", 1)
        print(f"{best_ms(calls[name, mode], (), float(seconds)):.6f}", flush=True)


# ---- the parent: the worker, the busy process, the table ---------------------------------------


def start_worker(names, root: Path) -> subprocess.Popen:
    """The worker process of the checkout at `root` (its own bench_busy.py and graphc)."""
    env = dict(os.environ, GRAPHC_NUM_THREADS="2", PYTHONPATH=str(root))
    script = str(root / "bench" / "bench_busy.py")
    worker = subprocess.Popen([sys.executable, script, "--worker", "--models", ",".join(names)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    if worker.stdout.readline().strip() != "ready":
        raise RuntimeError(f"the worker of {root} failed to compile the models")
    return worker


def ask(worker: subprocess.Popen, name: str, mode: str, seconds: float) -> float:
    worker.stdin.write(f"{name} {mode} {seconds}\n")
    worker.stdin.flush()
    return float(worker.stdout.readline())


def start_busy_process() -> subprocess.Popen:
    """A Python loop spinning on CPU 1 (what a compile job or a browser tab does to a laptop)."""
    busy = subprocess.Popen(["taskset", "-c", "1", sys.executable, "-c", "while 1: pass"])
    time.sleep(0.2)  # let the scheduler place it
    return busy


def measure(names, rounds: int, seconds: float, roots) -> dict:
    """{root: {(model, mode, busy): best ms}}, the checkouts interleaved in every round."""
    workers = {root: start_worker(names, root) for root in roots}
    best: dict = {root: {} for root in roots}
    try:
        for _ in range(rounds):
            for busy in (False, True):
                competitor = start_busy_process() if busy else None
                try:
                    for name in names:
                        for mode in MODES:
                            for root, worker in workers.items():
                                ms = ask(worker, name, mode, seconds)
                                key = name, mode, busy
                                best[root][key] = min(best[root].get(key, np.inf), ms)
                finally:
                    if competitor is not None:
                        competitor.kill()
                        competitor.wait()
    finally:
        for worker in workers.values():
            worker.stdin.close()
            worker.wait()
    return best


def report(names, best: dict) -> None:
    print(f"best ms per call; 1-min load average {os.getloadavg()[0]:.2f}; busy = one core "
          f"taken by a spinning process; ratios against 1 thread")
    header = " ".join(f"{f'{state} {mode}':>15}" for state in ("quiet", "busy") for mode in MODES)
    print(f"{'model':8} {header}")
    for name in names:
        cells = []
        for busy in (False, True):
            one = best[name, "1 thread", busy]
            cells.append(f"{one:15.4f}")
            cells += [f"{best[name, mode, busy]:8.4f} ({best[name, mode, busy] / one:4.2f})"
                      for mode in MODES[1:]]
        print(f"{name:8} {' '.join(cells)}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=0.3, help="per model and round")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--against", type=Path, help="another checkout to time alongside")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    names = [n for n in args.models.split(",") if n]
    unknown = sorted(set(names) - set(MODELS))
    if unknown:
        parser.error(f"unknown models {unknown}; there are {list(MODELS)}")
    if args.worker:
        serve(names)
        return
    roots = [ROOT] + ([args.against.resolve()] if args.against else [])
    for root, best in measure(names, args.rounds, args.seconds, roots).items():
        if len(roots) > 1:
            print(f"\n{root}:")
        report(names, best)


if __name__ == "__main__":
    main()
