"""Training-step time of LSTM(128) and GRU(128) classifiers per time step, at 25, 50, 100 and
200 steps: graphc's llvm backend against PyTorch eager and JAX jit (lax.scan) when installed,
interleaved rounds in one run, best round. The cost per time step should not grow with the
sequence length.

A step: the recurrent layer over (batch, steps, 32) inputs, its last h -> Dense(10), softmax
cross-entropy, backward, SGD. (Same sizes in every library; the weights are not matched.)
Each contender's best wall time and best CPU time of the process (all its threads: on a
machine shared with other work, CPU time is what a step costs when it is not descheduled),
GFLOP/s and % of graphc's peak from the wall time (the GEMM FLOPs of the step).

    python bench/bench_rnn.py [--batch 64] [--rounds 5] [--lengths 25,50,100,200]
                              [--cells lstm,gru] [--peers torch,jax]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

import graphc as gc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rnn_peers import CLASSES, FEATURES, GATES, LR, UNITS, jax_step, torch_step  # noqa: E402


def graphc_step(cell, steps):
    rng = np.random.default_rng(0)
    g = GATES[cell]
    shapes = {"W": (FEATURES, g * UNITS), "U": (UNITS, g * UNITS),
              "b": (g * UNITS,) if cell == "lstm" else (2, g * UNITS), "w": (UNITS, CLASSES)}
    params = {k: gc.shared((0.1 * rng.standard_normal(s)).astype("float32"), name=k)
              for k, s in shapes.items()}
    x = gc.placeholder((None, steps, FEATURES), name="x")
    y = gc.placeholder((None,), "int64", name="y")
    rnn = gc.lstm if cell == "lstm" else gc.gru
    last = rnn(x, params["W"], params["U"], params["b"])[1]
    logits = last @ params["w"]
    loss = -gc.mean(gc.sum(gc.one_hot(y, CLASSES) * gc.log_softmax(logits), axis=1))
    grads = gc.grad(loss, list(params.values()))
    return gc.function([x, y], loss, updates=[(p, p - LR * d) for p, d in
                                               zip(params.values(), grads)])


def contenders(cell, steps, peers) -> dict:
    out = {"graphc": graphc_step(cell, steps)}
    for name, build in (("torch", torch_step), ("jax", jax_step)):
        if name not in peers:
            continue
        try:
            out[name] = build(cell, steps)
        except ImportError:
            print(f"{name}: not installed")
    return out


def step_flops(cell, steps, batch) -> int:
    """The step's GEMM FLOPs: x @ W and its weight gradient, h @ U forward and backward and
    U's gradient (the head and the cells are noise beside them)."""
    rows, width = batch * steps, GATES[cell] * UNITS
    return 2 * rows * width * (2 * FEATURES + 3 * UNITS)


def best_times(fns, x, y, rounds) -> dict:
    """{name: (best wall s, best CPU s)} over `rounds` interleaved rounds of 3 calls each."""
    best = {name: (float("inf"), float("inf")) for name in fns}
    for f in fns.values():
        f(x, y)  # warm-up
    for _ in range(rounds):
        for name, f in fns.items():
            time.sleep(0.2)  # the previous library's spinning threads go to sleep first
            for _ in range(3):
                wall, cpu = time.perf_counter(), time.process_time()
                f(x, y)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
    return best


def report(steps, best, flops, peak):
    """One line: each contender's wall ms (per step), CPU ms, GFLOP/s, % of peak; ratios to
    the best peer by wall and CPU time."""
    cols = []
    for name, (wall, cpu) in best.items():
        rate = flops / wall
        cols.append(f"{name} {wall * 1e3:7.2f} ({wall * 1e3 / steps:.3f}/step, cpu "
                    f"{cpu * 1e3:7.2f}, {rate / 1e9:5.1f} GFLOP/s {100 * rate / peak:4.1f}%)")
    peers = [v for k, v in best.items() if k != "graphc"]
    ratios = ""
    if peers:
        wall, cpu = best["graphc"]
        ratios = (f"  graphc/best peer: wall {wall / min(p[0] for p in peers):.2f}x, "
                  f"cpu {cpu / min(p[1] for p in peers):.2f}x")
    print(f"  {steps:4d} steps  " + "  ".join(cols) + ratios)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--lengths", default="25,50,100,200")
    parser.add_argument("--cells", default="lstm,gru")
    parser.add_argument("--peers", default="torch,jax", help="comma-separated; '' for none")
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    y = rng.integers(0, CLASSES, args.batch).astype("int64")
    peak = gc.machine_peak()
    for cell in args.cells.split(","):
        print(f"{cell.upper()}({UNITS}) training step, batch {args.batch}: best ms (per time "
              f"step), best CPU ms; peak {peak / 1e9:.0f} GFLOP/s")
        for steps in (int(s) for s in args.lengths.split(",")):
            x = rng.standard_normal((args.batch, steps, FEATURES)).astype("float32")
            best = best_times(contenders(cell, steps, args.peers.split(",")), x, y,
                              args.rounds)
            report(steps, best, step_flops(cell, steps, args.batch), peak)


if __name__ == "__main__":
    main()
