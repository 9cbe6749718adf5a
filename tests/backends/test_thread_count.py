"""Results do not depend on the number of threads: a seed gives bit-identical results on 1, 2
or 3 threads (loop kernels cut their split axis into blocks sized by the data, not by the
thread count; GEMMs sum each element over k in one order)."""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import graphc as gc

from .test_llvm_backend import batch, mlp_step

ROOT = Path(__file__).resolve().parents[2]


def digest(array) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()[:16]


def training_digests() -> dict:
    """Three MLP training steps (ReLU, softmax cross-entropy, Adam): losses and parameters."""
    ins, loss, updates, params = mlp_step("float32")
    step = gc.function(ins, loss, updates=updates)
    rng = np.random.default_rng(1)
    out = {f"loss {k}": digest(step(*batch(rng, 100, "float32"))) for k in range(3)}
    out.update({p.name: digest(p.get_value()) for p in params})
    return out


# (shape, dtype, axes): reductions whose rounding followed the thread split before blocks
REDUCTIONS = [((13, 37, 29), "float64", (0, 2)), ((5, 70, 3), "float64", (2,)),
              ((5, 70, 3), "float64", (0, 2)), ((100, 9, 65), "float32", (1,)),
              ((7, 5, 3, 66), "float32", (0, 3))]
SOFTMAX_ROWS = [((130, 17), "float32"), ((64, 10), "float64"), ((130, 17), "float64")]


def reduction_digests() -> dict:
    rng = np.random.default_rng(7)
    out = {}
    for shape, dtype, axes in REDUCTIONS:
        x = gc.placeholder((None,) + shape[1:], dtype)
        xs = rng.standard_normal(shape).astype(dtype)
        for op in (gc.sum, gc.mean):
            fn = gc.function([x], op(gc.exp(x * 0.3) * x, axis=axes))
            out[f"{op.__name__} {shape} {dtype} {axes}"] = digest(fn(xs))
    for shape, dtype in SOFTMAX_ROWS:
        x = gc.placeholder((None,) + shape[1:], dtype)
        xs = rng.standard_normal(shape).astype(dtype)
        for axis in range(len(shape)):
            fn = gc.function([x], gc.sum(gc.log_softmax(x, axis=axis) * x, axis=axis))
            out[f"log_softmax {shape} {dtype} {axis}"] = digest(fn(xs))
    return out


def print_digests() -> None:
    for name, value in {**training_digests(), **reduction_digests()}.items():
        print(f"{name}: {value}")


def start_digests(threads: int) -> subprocess.Popen:
    code = "import tests.backends.test_thread_count as t\nt.print_digests()\n"
    env = dict(os.environ, GRAPHC_NUM_THREADS=str(threads), PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-c", code], env=env, cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def digests_of(run: subprocess.Popen) -> dict:
    stdout, stderr = run.communicate(timeout=300)
    assert run.returncode == 0, stderr[-3000:]
    return dict(line.split(": ") for line in stdout.splitlines())


def test_results_are_bit_identical_on_one_two_and_three_threads():
    one = digests_of(start_digests(1))  # alone first: it fills the compile cache the others read
    assert len(one) == 3 + 6 + 10 + 6  # losses, parameters, reductions, softmax rows
    others = {threads: start_digests(threads) for threads in (2, 3)}  # side by side
    for threads, run in others.items():
        other = digests_of(run)
        differ = [name for name in one if one[name] != other.get(name)]
        assert not differ, f"{threads} threads change {differ}"
