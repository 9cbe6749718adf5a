"""An exported C library (model.export(..., format="so")) against graphc-in-Python, in one run:
the .so's size, dlopen + NAME_create time, and predict latency at batch 1 and 1024 for the
README's MNIST MLP (784-500-500-10) and a small CNN, at 1 and 2 threads.

Contenders are interleaved in many short rounds and the best round is reported, with GFLOP/s
and the share of gc.machine_peak() (the peak of all pool threads). The library is called
through ctypes (about a microsecond of the batch-1 time is ctypes). "python fn" is the compiled
predict function called directly; "model.predict" is Keras's predict (batching, checks). ONNX
Runtime is compared when this branch has an "onnx" exporter (frontend/models/exporting.py).

    python bench/bench_export.py [--rounds 30] [--models mlp,cnn]
"""

from __future__ import annotations

import argparse
import ctypes
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

import graphc as gc
from frontend.layers import Conv2D, Dense, Flatten, Input, MaxPooling2D
from frontend.models import Sequential
from frontend.models.exporting import EXPORTERS

BATCHES = (1, 1024)


def build(kind: str):
    if kind == "mlp":
        layers = [Input((784,)), Dense(500, activation="relu"), Dense(500, activation="relu")]
        flops = 2 * (784 * 500 + 500 * 500 + 500 * 10)
    else:
        layers = [Input((28, 28, 1)), Conv2D(32, 3, activation="relu"), MaxPooling2D(),
                  Flatten()]
        flops = 2 * (26 * 26 * 32 * 9 + 13 * 13 * 32 * 10)
    return Sequential(layers + [Dense(10, activation="softmax")], name=f"bench_{kind}"), flops


class Library:
    def __init__(self, path: Path, name: str):
        self.lib = ctypes.CDLL(str(path))
        self.create = getattr(self.lib, f"{name}_create")
        self.create.restype, self.create.argtypes = ctypes.c_void_p, [ctypes.c_int]
        self.predict = getattr(self.lib, f"{name}_predict")
        self.predict.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                 ctypes.c_void_p]
        self.destroy = getattr(self.lib, f"{name}_destroy")
        self.destroy.argtypes = [ctypes.c_void_p]


def load_seconds(library: Path, name: str, copies: int) -> float:
    """Best time of dlopen + create(1) on fresh copies of the library (each a first load)."""
    best = float("inf")
    for k in range(copies):
        copy = library.with_name(f"lib{name}_copy{k}.so")
        shutil.copyfile(library, copy)
        start = time.perf_counter()
        lib = Library(copy, name)
        ctx = lib.create(1)
        best = min(best, time.perf_counter() - start)
        lib.destroy(ctx)
    return best


def contenders(model, folder: Path, name: str, x_by_batch: dict) -> dict:
    """{label: fn(batch) -> None} for one run of each contender at that batch."""
    fn = model.make_predict_function("llvm")
    out = {"python fn": lambda n: fn(x_by_batch[n]),
           "model.predict": lambda n: model.predict(x_by_batch[n], batch_size=n, verbose=0)}
    lib = Library(folder / f"lib{name}.so", name)
    for threads in (1, 2):
        ctx = lib.create(threads)
        ys = {n: np.empty((n, 10), np.float32) for n in BATCHES}
        out[f"C .so {threads}t"] = (lambda n, c=ctx, ys=ys: lib.predict(
            c, x_by_batch[n].ctypes.data, n, ys[n].ctypes.data))
    if "onnx" in EXPORTERS:
        out.update(onnx_contender(model, folder, x_by_batch))
    return out


def onnx_contender(model, folder: Path, x_by_batch: dict) -> dict:
    try:
        import onnxruntime  # noqa: PLC0415 - optional, only when the onnx exporter exists
    except ImportError:
        return {}
    model.export(folder / "model.onnx", format="onnx", verbose=False)
    session = onnxruntime.InferenceSession(str(folder / "model.onnx"))
    feed = session.get_inputs()[0].name
    return {"onnxruntime": lambda n: session.run(None, {feed: x_by_batch[n]})}


def measure(runs: dict, rounds: int) -> dict:
    """{(label, batch): best seconds per call}, contenders interleaved in every round (in a
    rotated order, so none always runs right after another's threads went to sleep)."""
    best, labels = {}, list(runs)
    for k in range(rounds):
        order = labels[k % len(labels):] + labels[:k % len(labels)]
        for batch in BATCHES:
            repeat = 20 if batch == 1 else 2
            for label in order:
                run = runs[label]
                start = time.perf_counter()
                for _ in range(repeat):
                    run(batch)
                seconds = (time.perf_counter() - start) / repeat
                best[label, batch] = min(best.get((label, batch), float("inf")), seconds)
    return best


def report(kind: str, size: int, load: float, best: dict, flops: int, peak: float) -> None:
    print(f"\n{kind}: lib .so {size / 1024:.0f} KiB, dlopen + create {load * 1e3:.2f} ms")
    print(f"{'contender':<16}" + "".join(f"{f'batch {b}':>32}" for b in BATCHES))
    for label in dict.fromkeys(k for k, _ in best):
        cells = []
        for batch in BATCHES:
            seconds = best[label, batch]
            gflops = flops * batch / seconds / 1e9
            cells.append(f"{seconds * 1e6:>10.1f} us {gflops:>7.2f} GF/s "
                         f"{100 * gflops * 1e9 / peak:>5.1f}%")
        print(f"{label:<16}" + "".join(f"{c:>32}" for c in cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--models", default="mlp,cnn")
    args = parser.parse_args()
    peak = gc.machine_peak()
    print(f"machine peak {peak / 1e9:.1f} GFLOP/s ({os.cpu_count()} CPUs); best of "
          f"{args.rounds} interleaved rounds")
    for kind in args.models.split(","):
        model, flops = build(kind)
        shape = model.input_shape[1:]
        rng = np.random.default_rng(0)
        x_by_batch = {n: rng.random((n,) + shape, dtype=np.float32) for n in BATCHES}
        with tempfile.TemporaryDirectory() as temp:
            folder = Path(temp)
            result = model.export(folder, format="so", verbose=False)
            library = result.files["shared"]
            load = load_seconds(library, result.name, 10)
            best = measure(contenders(model, folder, result.name, x_by_batch), args.rounds)
            report(kind, library.stat().st_size, load, best, flops, peak)


if __name__ == "__main__":
    main()
