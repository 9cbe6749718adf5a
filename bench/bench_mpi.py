"""Benchmark: data-parallel training steps over MPI on this machine, and a model of scaling.

Measures, in one run with the contenders interleaved (rounds alternate launches):
  - the training step of the tutorial MLP (784-500-500-10, batch 100) and of a Transformer
    block (bench_transformer.py's, batch 8 x 64 tokens, d_model 128) as 1 process x 2 threads
    and as 2 ranks x 1 thread (gc.allreduce of the gradients between the compiled phases);
  - its compute alone (the gradient phase) and the allreduce alone, per rank;
  - the allreduce's latency (alpha) and inverse bandwidth (beta) from 8 B to 16 MB messages.
Then projects a step on 8, 64 and 512 machines like this one (one rank of 2 threads each, the
per-machine batch fixed: weak scaling) with the allreduce cost 2 log2(P) alpha +
2 (P-1)/P n beta (recursive halving/doubling), for the measured alpha/beta (shared memory: a
lower bound) and for assumed 10 GbE and 100 Gb/s InfiniBand networks. docs/distributed.md
holds a run's numbers and the assumptions.

    python bench/bench_mpi.py [--rounds 3] [--steps 30] [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import graphc as gc
from frontend import layers
from frontend.distribution.training_sync import gradient_buckets
from graphc.distributed.comm import world

ROOT = Path(__file__).resolve().parent.parent
MLP, MLP_BATCH = (784, 500, 500, 10), 100
BLOCK_BATCH, BLOCK_SEQ, D_MODEL, FEED_FORWARD = 8, 64, 128, 512
NETWORKS = {"10 GbE (assumed)": (25e-6, 1 / 1.1e9), "100 Gb/s IB (assumed)": (2e-6, 1 / 11e9)}
MACHINES = (8, 64, 512)
CONTENDERS = [("mlp 1x2", "mlp", 1), ("mlp 2x1", "mlp", 2), ("mlp 2x1+overlap", "mlp+overlap", 2),
              ("block 1x2", "block", 1), ("block 2x1", "block", 2),
              ("block 2x1+overlap", "block+overlap", 2), ("allreduce", "latency", 2)]


def mlp_step(batch: int, ranks: int, buckets: int):
    """(step function, gradient-phase function, parameter count, FLOPs per global step)."""
    rng = np.random.default_rng(0)
    params = []
    for fan_in, fan_out in zip(MLP[:-1], MLP[1:]):
        params += [gc.shared(rng.normal(0, fan_in ** -0.5, (fan_in, fan_out)).astype("f")),
                   gc.shared(np.zeros(fan_out, "f"))]
    x, y = gc.placeholder((None, MLP[0]), name="x"), gc.placeholder((None, MLP[-1]), name="y")
    h = x
    for k in range(0, len(params), 2):
        h = gc.matmul(h, params[k]) + params[k + 1]
        h = gc.relu(h) if k + 2 < len(params) else gc.softmax(h)
    loss = -gc.mean(gc.sum(y * gc.log(h + 1e-7), axis=1))
    n = sum(p.get_value().size for p in params)
    labels = np.eye(MLP[-1], dtype="f")[rng.integers(0, MLP[-1], batch)]
    data = (rng.random((batch, MLP[0]), "f"), labels)
    return compiled(loss, params, [x, y], ranks, buckets), data, n, 6 * batch * ranks * n


def block_step(batch: int, ranks: int, buckets: int):
    rng = np.random.default_rng(0)
    x = gc.placeholder((None, BLOCK_SEQ, D_MODEL), name="x")
    y = gc.placeholder((None, BLOCK_SEQ, D_MODEL), name="y")
    attention = layers.MultiHeadAttention(4, D_MODEL // 4)
    norm1, norm2 = layers.LayerNormalization(), layers.LayerNormalization()
    hidden, project = layers.Dense(FEED_FORWARD, activation="relu"), layers.Dense(D_MODEL)
    h = norm1(x + attention(x, x))
    loss = gc.mean(gc.square(norm2(h + project(hidden(h))) - y))
    params = [w for layer in (attention, norm1, norm2, hidden, project) for w in layer.weights]
    n = sum(p.get_value().size for p in params)
    shape = (batch, BLOCK_SEQ, D_MODEL)
    data = (rng.standard_normal(shape).astype("f"), rng.standard_normal(shape).astype("f"))
    tokens = batch * ranks * BLOCK_SEQ
    flops = 6 * tokens * n + 12 * batch * ranks * BLOCK_SEQ ** 2 * D_MODEL
    return compiled(loss, params, [x, y], ranks, buckets), data, n, flops


def compiled(loss, params, inputs, ranks, buckets):
    grads = gc.grad(loss, params)
    if ranks > 1:
        bucket_of = gradient_buckets([p.shape for p in params], buckets)
        grads = [gc.allreduce(g, op="mean", bucket=b) for g, b in zip(grads, bucket_of)]
    return gc.function(inputs, loss, updates=[(p, p - 1e-3 * g) for p, g in zip(params, grads)])


def best_seconds(call, steps: int) -> float:
    """The best of 5 rounds of `steps` calls, per call (after 3 warm-up calls)."""
    for _ in range(3):
        call()
    rounds = []
    for _ in range(5):
        world().allreduce([np.zeros(1)])  # the ranks start each round together
        start = time.perf_counter()
        for _ in range(steps):
            call()
        rounds.append((time.perf_counter() - start) / steps)
    return min(rounds)


def worker(role: str, steps: int) -> dict:
    """Time one model's step; role: 'mlp' or 'block', '+overlap' for 2 gradient buckets."""
    ranks, model = world().size, role.split("+")[0]
    batch = (MLP_BATCH if model == "mlp" else BLOCK_BATCH) // ranks
    build = mlp_step if model == "mlp" else block_step
    step, data, params, flops = build(batch, ranks, 2 if role.endswith("+overlap") else 1)
    result = {"step": best_seconds(lambda: step(*data), steps), "params": params, "flops": flops}
    if ranks > 1 and len(step.functions) == 2:  # one bucket: phase 0 is all the compute
        grads = [np.zeros(r.inputs[0].shape, "f") for p in step.phases for r in p.reductions]
        result["compute"] = best_seconds(lambda: step.functions[0](*data), steps)
        result["allreduce"] = best_seconds(lambda: world().allreduce(grads), steps)
    result["peak"] = gc.machine_peak() * ranks  # the machine: every rank's threads
    return result


def latency_bandwidth() -> dict:
    """Allreduce seconds per message size in bytes, and the least-squares alpha and beta."""
    sizes = [2 ** k for k in range(1, 23, 2)]  # floats: 8 B .. 16 MB
    seconds = [best_seconds(lambda n=n: world().allreduce([np.ones(n, "f")]), 20) for n in sizes]
    nbytes = np.array(sizes) * 4.0
    beta, alpha = np.polyfit(nbytes, seconds, 1)
    return {"bytes": nbytes.tolist(), "seconds": seconds, "alpha": max(alpha, seconds[0]),
            "beta": beta}


# ---- the driver: interleaved launches, then the tables -----------------------------------------


def launch(role: str, ranks: int, steps: int) -> dict:
    """Run `--worker role` as 1 process x 2 threads (ranks=1) or `ranks` ranks x 1 thread."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), GRAPHC_NUM_THREADS=str(2 // ranks))
    command = [sys.executable, __file__, "--worker", role, "--steps", str(steps)]
    if ranks > 1:
        command = ["mpiexec", "-n", str(ranks)] + command
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(rounds: int, steps: int) -> dict:
    """The best round of every contender, the launches interleaved round by round."""
    best: dict = {}
    for _ in range(rounds):
        for key, role, ranks in CONTENDERS:
            result = launch(role, ranks, steps)
            score = result.get("step", result.get("alpha"))
            if key not in best or score < best[key].get("step", best[key].get("alpha")):
                best[key] = result
    return best


def allreduce_seconds(machines: int, nbytes: float, alpha: float, beta: float) -> float:
    return 2 * np.log2(machines) * alpha + 2 * (machines - 1) / machines * nbytes * beta


def report(best: dict) -> str:
    lines = ["| model | layout | ms/step | GFLOP/s | % of peak | compute ms | allreduce ms |",
             "|---|---|---|---|---|---|---|"]
    for key, _, _ in CONTENDERS[:-1]:
        r = best[key]
        gflops = r["flops"] / r["step"] / 1e9
        split = (f"{r['compute'] * 1e3:.2f} | {r['allreduce'] * 1e3:.2f}" if "compute" in r
                 else "- | -")
        lines.append(f"| {key.split()[0]} | {key.split()[1]} | {r['step'] * 1e3:.2f} | "
                     f"{gflops:.1f} | {100 * gflops * 1e9 / r['peak']:.0f}% | {split} |")
    fit = best["allreduce"]
    lines += ["", f"allreduce on this machine: alpha {fit['alpha'] * 1e6:.1f} us, "
              f"bandwidth {1 / fit['beta'] / 1e9:.2f} GB/s", "",
              "| model | network | " + " | ".join(f"{p} machines" for p in MACHINES) + " |",
              "|---|---|" + "---|" * len(MACHINES)]
    networks = {"measured (shared memory)": (fit["alpha"], fit["beta"]), **NETWORKS}
    for model in ("mlp", "block"):
        compute, nbytes = best[f"{model} 1x2"]["step"], 4.0 * best[f"{model} 1x2"]["params"]
        for name, (alpha, beta) in networks.items():
            cells = []
            for p in MACHINES:
                step = compute + allreduce_seconds(p, nbytes, alpha, beta)
                cells.append(f"{step * 1e3:.2f} ms, {100 * compute / step:.0f}%")
            lines.append(f"| {model} | {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--json", help="also write the measurements here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        result = latency_bandwidth() if args.worker == "latency" else worker(args.worker,
                                                                              args.steps)
        if world().rank == 0:
            print(json.dumps(result))
        return
    best = measure(args.rounds, args.steps)
    if args.json:
        Path(args.json).write_text(json.dumps(best, indent=1))
    print(report(best))


if __name__ == "__main__":
    main()
