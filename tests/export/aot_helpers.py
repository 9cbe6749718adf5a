"""Shared pieces of the AOT export tests: digits on disk, small models, compiling and running
examples/c_inference against an exported library, and calling a library through ctypes."""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

import llvmlite.binding as llvm
import numpy as np
import pytest

from frontend.datasets.mnist import load_sample
from frontend.layers import LSTM, Conv2D, Dense, Flatten, Input, MaxPooling2D
from frontend.models import Sequential

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "c_inference"
needs_cc = pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None,
                              reason="no C compiler (cc/gcc) on PATH: install gcc to run")

SHAPES = {"mlp": (784,), "cnn": (28, 28, 1), "lstm": (28, 28)}


def small_model(kind: str, seed: int = 0):
    rng = np.random.default_rng(seed)
    body = {"mlp": [Dense(32, activation="relu")],
            "cnn": [Conv2D(4, 3, activation="relu"), MaxPooling2D(), Flatten()],
            "lstm": [LSTM(8)]}[kind]
    model = Sequential([Input(SHAPES[kind])] + body + [Dense(10, activation="softmax")],
                       name=f"digits_{kind}")
    model.set_weights([rng.normal(0, 0.3, w.shape).astype("float32")
                       for w in model.get_weights()])
    return model


def digits(rows: int):
    """(float32 pixels in [0, 1] as (rows, 784), uint8 labels) of the packaged test digits."""
    _, (x, y) = load_sample()
    return (x[:rows].reshape(rows, 784).astype("float32") / 255), y[:rows].astype("uint8")


def compile_example(source: str, library: Path, out: Path, static: bool = False) -> Path:
    link = [str(library / "libmnist.a")] if static else [
        "-L", str(library), "-lmnist", f"-Wl,-rpath,{library}"]
    cc = shutil.which("cc") or shutil.which("gcc")
    subprocess.run([cc, str(EXAMPLE / source), "-I", str(library), *link, "-lpthread", "-lm",
                    "-o", str(out)], check=True, capture_output=True, text=True)
    return out


def run_example(program: Path, x, labels, tmp: Path, threads: int):
    """(stdout, outputs) of the c_inference program on these rows."""
    x.tofile(tmp / "x.f32")
    label_arg = "-"
    if labels is not None:
        labels.tofile(tmp / "labels.u8")
        label_arg = str(tmp / "labels.u8")
    done = subprocess.run([str(program), str(tmp / "x.f32"), label_arg, str(tmp / "y.f32"),
                           str(threads)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout, np.fromfile(tmp / "y.f32", np.float32).reshape(len(x), -1)


class Library:
    """An exported library loaded with ctypes (each input and output one float pointer)."""

    def __init__(self, path: Path, name: str, inputs: int, outputs: int, weights_file=False):
        self.lib, self.name = ctypes.CDLL(str(path)), name
        create = self.fn("create", ctypes.c_void_p,
                         [ctypes.c_int] + ([ctypes.c_char_p] if weights_file else []))
        self.create = create
        self.predict = self.fn("predict", ctypes.c_int, [ctypes.c_void_p] +
                               [ctypes.c_void_p] * inputs + [ctypes.c_int64] +
                               [ctypes.c_void_p] * outputs)
        self.destroy = self.fn("destroy", None, [ctypes.c_void_p])
        self.last_error = self.fn("last_error", ctypes.c_char_p, [ctypes.c_void_p])

    def fn(self, suffix, restype, argtypes):
        f = getattr(self.lib, f"{self.name}_{suffix}")
        f.restype, f.argtypes = restype, argtypes
        return f

    def run(self, ctx, xs, out_shapes):
        xs = [np.ascontiguousarray(x, np.float32) for x in xs]
        ys = [np.empty(shape, np.float32) for shape in out_shapes]
        code = self.predict(ctx, *[x.ctypes.data for x in xs], len(xs[0]),
                            *[y.ctypes.data for y in ys])
        return code, ys


def host_has(feature: str) -> bool:
    """Whether this CPU has `feature` (an LLVM feature name such as avx2 or avx512f)."""
    llvm.initialize_native_target()
    return f"+{feature}" in llvm.get_host_cpu_features().flatten().split(",")
