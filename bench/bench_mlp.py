"""Benchmark: one training step of a 784-500-500-10 ReLU MLP at batch 100 (forward, softmax
cross-entropy, backward, Adam), in ms/step, for graphc's LLVM backend, graphc's NumPy
interpreter, a hand-written NumPy step, and PyTorch / JAX when installed; plus graphc's compile
time cold (empty disk cache, fresh process) and from the disk cache (fresh process).
Prints one table; ratios are against graphc llvm, all measured in this run.

    python bench/bench_mlp.py [--seconds 60] [--wide] [--profile REPEAT]

--wide: the wide MLP 784-2048-2048-10 at batch 256 instead (every GEMM large).
--profile: print graphc's per-kernel profile of the step instead (gc.profile over REPEAT calls:
each kernel's share of the step, its waits included, and its busy time per thread).

Runs in well under two minutes. Thread counts: graphc uses GRAPHC_NUM_THREADS (default all
cores); PyTorch and NumPy's BLAS use the same number.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

MODELS = {"tutorial": ((784, 500, 500, 10), 100), "wide": ((784, 2048, 2048, 10), 256)}
MODEL_VARIABLE = "GRAPHC_BENCH_MLP_MODEL"  # set by --wide; the rows' processes inherit it
SIZES, BATCH = MODELS[os.environ.get(MODEL_VARIABLE, "tutorial")]
LR, B1, B2, EPS = 1e-3, 0.9, 0.999, 1e-7


def data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((BATCH, SIZES[0])).astype(np.float32)
    y = np.eye(SIZES[-1], dtype=np.float32)[rng.integers(0, SIZES[-1], BATCH)]
    return x, y


def step_flops() -> float:
    """FLOPs of one training step's matrix products: forward, weight gradients, and the input
    gradients of every layer but the first (the elementwise work is a rounding error)."""
    pairs = list(zip(SIZES[:-1], SIZES[1:]))
    products = sum(a * b for a, b in pairs)
    return 2.0 * BATCH * (2 * products + products - pairs[0][0] * pairs[0][1])


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for a, b in zip(SIZES[:-1], SIZES[1:]):
        out += [(rng.standard_normal((a, b)) * np.sqrt(2 / a)).astype(np.float32),
                np.zeros(b, np.float32)]
    return out


# ---- graphc -------------------------------------------------------------------------------------


def graphc_step(backend):
    import graphc as gc

    inputs, loss, updates = training_graph()
    return gc.function(inputs, loss, updates=updates, backend=backend)


def training_graph(lr=LR):
    """(inputs, loss, updates) of the training step as a graphc graph."""
    import graphc as gc

    x = gc.placeholder((None, SIZES[0]), name="x")
    y = gc.placeholder((None, SIZES[-1]), name="y")
    params = [gc.shared(p, name=f"p{k}") for k, p in enumerate(init_params())]
    h = x
    for k in range(0, len(params), 2):
        h = h @ params[k] + params[k + 1]
        h = gc.relu(h) if k < len(params) - 2 else h
    loss = -gc.mean(gc.sum(y * gc.log_softmax(h), axis=1))
    t = gc.shared(np.array(0, np.float32), name="t")
    t1 = t + 1
    lr_t = lr * gc.sqrt(1 - B2**t1) / (1 - B1**t1)
    updates = [(t, t1)]
    for p, g in zip(params, gc.grad(loss, params)):
        m = gc.shared(np.zeros(p.get_value().shape, np.float32))
        v = gc.shared(np.zeros(p.get_value().shape, np.float32))
        m1, v1 = B1 * m + (1 - B1) * g, B2 * v + (1 - B2) * g * g
        updates += [(m, m1), (v, v1), (p, p - lr_t * m1 / (gc.sqrt(v1) + EPS))]
    return [x, y], loss, updates


# ---- hand-written NumPy -----------------------------------------------------------------


class NumpyStep:
    def __init__(self):
        self.params = init_params()
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.t = 0

    def __call__(self, x, y):
        p, acts = self.params, [x]
        for k in range(0, 4, 2):
            acts.append(np.maximum(acts[-1] @ p[k] + p[k + 1], 0))
        z = acts[-1] @ p[4] + p[5]
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        loss = -np.mean(np.sum(y * logp, axis=1))
        dz = (np.exp(logp) - y) / len(x)
        grads = [None] * 6
        for k in (4, 2, 0):
            grads[k], grads[k + 1] = acts[k // 2].T @ dz, dz.sum(axis=0)
            if k:
                dz = (dz @ p[k].T) * (acts[k // 2] > 0)
        self.t += 1
        lr_t = LR * np.sqrt(1 - B2**self.t) / (1 - B1**self.t)
        for q, g, m, v in zip(p, grads, self.m, self.v):
            m *= B1
            m += (1 - B1) * g
            v *= B2
            v += (1 - B2) * g * g
            q -= lr_t * m / (np.sqrt(v) + EPS)
        return loss


# ---- PyTorch and JAX (optional) -----------------------------------------------------------------


def torch_step(threads):
    import torch

    torch.set_num_threads(threads)
    layers = []
    for k, (a, b) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        lin = torch.nn.Linear(a, b)
        layers += [lin] + ([torch.nn.ReLU()] if k < len(SIZES) - 2 else [])
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(model.parameters(), lr=LR, betas=(B1, B2), eps=EPS)
    loss_fn = torch.nn.CrossEntropyLoss()
    x, y = data()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.argmax(axis=1))

    def step(*_):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xt), yt)
        loss.backward()
        opt.step()
        return loss

    return step


def jax_step():
    import jax
    import jax.numpy as jnp

    params = [jnp.asarray(p) for p in init_params()]
    state = [params, [jnp.zeros_like(p) for p in params], [jnp.zeros_like(p) for p in params],
             jnp.float32(0)]

    def loss_fn(ps, x, y):
        h = x
        for k in range(0, 6, 2):
            h = h @ ps[k] + ps[k + 1]
            h = jax.nn.relu(h) if k < 4 else h
        return -jnp.mean(jnp.sum(y * jax.nn.log_softmax(h), axis=1))

    @jax.jit
    def update(st, x, y):
        ps, ms, vs, t = st
        loss, gs = jax.value_and_grad(loss_fn)(ps, x, y)
        t = t + 1
        lr_t = LR * jnp.sqrt(1 - B2**t) / (1 - B1**t)
        ms = [B1 * m + (1 - B1) * g for m, g in zip(ms, gs)]
        vs = [B2 * v + (1 - B2) * g * g for v, g in zip(vs, gs)]
        ps = [p - lr_t * m / (jnp.sqrt(v) + EPS) for p, m, v in zip(ps, ms, vs)]
        return [ps, ms, vs, t], loss

    def step(x, y):
        state[:], loss = update(state, x, y)
        return loss.block_until_ready()

    return step


# ---- timing ------------------------------------------------------------------------------------


def best_ms(step, x, y, seconds: float) -> float:
    """Best ms/step over short rounds (about 0.1 s each) for `seconds`: on a shared machine
    the best round is the one least disturbed by other processes."""
    start = time.perf_counter()
    for _ in range(3):
        step(x, y)
    per_round = max(2, int(0.1 / max((time.perf_counter() - start) / 3, 1e-6)))
    best, stop = np.inf, time.perf_counter() + seconds
    while time.perf_counter() < stop:
        start = time.perf_counter()
        for _ in range(per_round):
            step(x, y)
        best = min(best, (time.perf_counter() - start) / per_round * 1e3)
    return best


ROWS = {
    "graphc llvm": lambda threads: graphc_step("llvm"),
    "graphc numpy interpreter": lambda threads: graphc_step("numpy"),
    "numpy, hand-written": lambda threads: NumpyStep(),
    "numpy, hand-written, 1 BLAS thread": lambda threads: NumpyStep(),
    "pytorch eager (foreach Adam)": torch_step,
    "jax jit": lambda threads: jax_step(),
}


def time_row(name, seconds) -> float | None:
    """ms/step of one row, in a process of its own (thread pools of different libraries
    spin after their work and would slow whatever runs next in the same process)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = ROW_SCRIPT.format(root=root, name=name, seconds=seconds)
    env = dict(os.environ)
    if "1 BLAS thread" in name:  # OpenBLAS's threads can lose to one thread on small GEMMs
        env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120, env=env)
    if result.returncode != 0:
        if "ModuleNotFoundError" in result.stderr or "ImportError" in result.stderr:
            return None
        raise RuntimeError(f"{name}: {result.stderr.strip().splitlines()[-1]}")
    return float(result.stdout.strip().splitlines()[-1])


ROW_SCRIPT = """
import sys
sys.path.insert(0, {root!r})
from bench.bench_mlp import ROWS, best_ms, data
from graphc.backends.llvm import threads
x, y = data()
print(best_ms(ROWS[{name!r}](threads.num_threads()), x, y, {seconds!r}))
"""


COMPILE_SCRIPT = """
import json, sys, time
sys.path.insert(0, {root!r})
start = time.perf_counter()
import graphc  # noqa: F401  (imports and the thread pool count apart: a process pays them once)
import graphc.backends.llvm
from graphc.backends.llvm import threads
threads.ensure_runtime()
imported = time.perf_counter()
from bench.bench_mlp import training_graph
inputs, loss, updates = training_graph({lr!r})
built = time.perf_counter()
f = graphc.function(inputs, loss, updates=updates)
done = time.perf_counter()
print(json.dumps({{"import": imported - start, "compile": done - built,
                   "stages": f.pipeline.seconds}}))
"""


def compile_times(cache_dir):
    """Seconds to build the training step in fresh processes: cold (empty disk cache), again
    (from the disk cache), and a new function (another learning rate: new code) when only
    the GEMM library is in the cache."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, GRAPHC_CACHE_DIR=cache_dir)
    out = []
    for lr in (LR, LR, 2 * LR):
        script = COMPILE_SCRIPT.format(root=root, lr=lr)
        result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                                text=True, check=True, timeout=120)
        out.append(json.loads(result.stdout.strip().splitlines()[-1]))
    return out


def select_model(name: str) -> None:
    """Time `name` of MODELS: here, and in the rows' processes (they read the variable)."""
    global SIZES, BATCH
    os.environ[MODEL_VARIABLE] = name
    SIZES, BATCH = MODELS[name]


def print_profile(repeat: int) -> None:
    import graphc as gc

    x, y = data()
    step = graphc_step("llvm")
    step(x, y)
    print(gc.profile(step, x, y, repeat=repeat))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="time spent timing the steps (in all)")
    parser.add_argument("--wide", action="store_true", help="the wide MLP 784-2048-2048-10, "
                        "batch 256")
    parser.add_argument("--profile", type=int, metavar="REPEAT", help="print the step's "
                        "per-kernel profile over REPEAT calls instead")
    args = parser.parse_args(argv)
    if args.wide:
        select_model("wide")
    if args.profile:
        return print_profile(args.profile)
    from graphc.backends.llvm import threads

    nthreads = threads.num_threads()
    load_before = os.getloadavg()[0]
    best: dict = {}
    for _ in range(2):  # two passes over the rows, the best of each counts
        for name in ROWS:
            ms = time_row(name, args.seconds / 2 / len(ROWS))  # None: library not installed
            known = [t for t in (best.get(name), ms) if t is not None]
            best[name] = min(known) if known else None
    rows = list(best.items())
    llvm = best["graphc llvm"]
    with tempfile.TemporaryDirectory() as cache_dir:
        cold, cached, new = compile_times(cache_dir)
    print(f"MLP {'-'.join(map(str, SIZES))} training step, batch {BATCH}, float32, "
          f"{nthreads} threads; 1-min load average {load_before:.2f} before, "
          f"{os.getloadavg()[0]:.2f} after (other processes on these cores skew every row)")
    from graphc.backends.llvm.peak import machine_peak

    peak = machine_peak()
    print(f"{'':36} {'ms/step':>10} {'vs llvm':>9} {'GFLOP/s':>8} {'% of peak':>9}  "
          f"(peak {peak / 1e9:.0f} GFLOP/s: graphc info --peak)")
    for name, ms in rows:
        rate = None if ms is None else step_flops() / (ms * 1e-3)
        shown = "not installed" if ms is None else \
            f"{ms:10.3f} {ms / llvm:8.2f}x {rate / 1e9:8.1f} {100 * rate / peak:8.1f}%"
        print(f"{name:36} {shown:>39}")
    for label, t in (("cold (empty disk cache)", cold), ("from the disk cache", cached),
                     ("new code, GEMM library cached", new)):
        llvm_s = t["stages"].get("compile", 0)
        print(f"compile {label:30} {t['compile'] * 1e3:7.1f} ms  (LLVM {llvm_s * 1e3:.1f} ms; "
              f"apart: imports, thread pool {t['import'] * 1e3:.0f} ms)")


if __name__ == "__main__":
    main()
