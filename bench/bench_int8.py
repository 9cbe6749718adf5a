"""int8 (u8 x s8 -> i32 on AVX512-VNNI) against float32, measured in the same run.

    python bench/bench_int8.py gemm    [--seconds 2]   the GEMMs alone: GOP/s, int8 / fp32
    python bench/bench_int8.py predict [--seconds 2] [--cpu-time]
                                                       model.predict, fp32 vs int8 vs peers

`predict`: the tutorial MLP (784-500-500-10) and the MNIST convnet (examples/mnist_cnn.py),
trained briefly on the packaged digits, then copied and quantized with model.quantize("int8")
(dynamic input scales), and once more quantized and calibrated on 1,000 training digits
(`calibrate`: static input scales, "int8 cal"); the compiled predict functions of these, and
the same weights in PyTorch (fp32, and quantize_dynamic int8: Linear layers only, as
PyTorch's dynamic quantization offers) and onnxruntime (fp32, and quantize_dynamic int8:
MatMul and Conv), at batch 1 and 1024, all interleaved in one run; then the test accuracy of
each int8 model against its fp32 model.

`gemm`: graphc's int8 GEMMs (AMX tdpbusd in gemm_amx_int8.py where granted, vpdpbusd in
gemm_int8.py; weights packed once) and its fp32 GEMM (gemm.py) on the same shapes, alternating
short rounds, best round of each, on 1 thread (timed by the thread's CPU time) and on the
whole pool (wall time). One multiply-add counts as 2 operations for all; each path's "% of
own peak" is against its own peak: the int8 loops of peak_int8.py measured at the start of
the run, graphc.machine_peak for fp32.
"""

from __future__ import annotations

import argparse
import ctypes
import sys
import time
from pathlib import Path

import numpy as np
from llvmlite import ir

from graphc.backends.llvm import (
    gemm,
    gemm_amx_int8,
    gemm_amx_tiles,
    gemm_int8,
    jit,
    peak,
    peak_int8,
    threads,
)
from graphc.backends.llvm.gemm_int8_path import int8_path
from graphc.ops import quant

sys.path.insert(0, str(Path(__file__).resolve().parent))
import int8_peers  # noqa: E402 (bench/ holds no package)

BATCHES = (1, 1024)

GEMM_SHAPES = [(1024, 784, 500), (1024, 512, 512), (256, 2048, 2048), (1, 784, 500)]
STEP = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int32, ctypes.c_int32)


def best_of_rounds(calls: dict, seconds: float, rounds: int = 20, clock=time.perf_counter):
    """Best single-call time of each contender over interleaved short rounds."""
    best = dict.fromkeys(calls, float("inf"))
    for _ in range(rounds):
        for name, call in calls.items():
            deadline = time.perf_counter() + seconds / rounds / len(calls)
            while True:
                t0 = clock()
                call()
                best[name] = min(best[name], clock() - t0)
                if time.perf_counter() > deadline:
                    break
    return best


def compile_step(define, name):
    module = ir.Module(name=name)
    fn = define(module)
    (gemm_int8.define_gemm_int8_step if "u8" in fn.name else gemm.define_gemm_step)(
        module, fn, "step")
    return jit.compile_ir(str(module), name)


def int8_gemms() -> dict:
    """{label: compiled step} of the int8 GEMM paths this CPU has (int32 results)."""
    paths = {"int8 VNNI": lambda m: gemm_int8.define_gemm_int8(m, "int32")}
    if gemm_amx_tiles.int8_granted():
        paths = {"int8 AMX": lambda m: gemm_amx_int8.define_gemm_int8_amx(m, "int32"), **paths}
    return {label: compile_step(define, f"bench_gemm_{label.split()[1].lower()}")
            for label, define in paths.items()}


def gemm_calls(M, K, N, rng, int8_steps):
    """The 1-thread and pool calls of each int8 path and of the fp32 GEMM, operands prepared."""
    f32 = compile_step(lambda m: gemm.define_gemm(m, "float32", False, False, False, "linear",
                                                  False), "bench_gemm_f32")
    A = rng.integers(0, 256, (M, quant.padded_k(K)), dtype=np.uint8)
    B = quant.pack_weights(rng.integers(-128, 128, (K, N), dtype=np.int8))
    C = np.zeros((M, N), np.int32)
    Af, Bf = rng.standard_normal((M, K), np.float32), rng.standard_normal((K, N), np.float32)
    Cf = np.zeros((M, N), np.float32)
    ws = np.zeros(gemm.gemm_workspace_elems(M, N, K, threads.num_threads()) + 16, np.float32)
    ws = ws[(-ws.ctypes.data % 64) // 4:]
    i8_args = (ctypes.c_int64 * 12)(M, N, K, A.ctypes.data, A.shape[1], B.ctypes.data, 0, 0, 0,
                                    0, C.ctypes.data, N)
    f32_args = (ctypes.c_int64 * 11)(M, N, K, Af.ctypes.data, K, Bf.ctypes.data, N,
                                     Cf.ctypes.data, N, 0, ws.ctypes.data)
    keep = (A, B, C, Af, Bf, Cf, ws, i8_args, f32_args, f32)
    calls = {}
    for label, mod, args in [*((k, m, i8_args) for k, m in int8_steps.items()),
                             ("fp32", f32, f32_args)]:
        address, argp = mod.address("step"), ctypes.addressof(args)
        one = STEP(address)
        calls[f"{label} 1T"] = lambda one=one, argp=argp: one(argp, 0, 1)
        calls[f"{label} pool"] = lambda a=address, p=argp: threads.parallel_run(a, p)
    return calls, keep


def bench_gemm(seconds):
    rng = np.random.default_rng(0)
    peaks = peak_int8.measure_int8_peaks()  # per thread, MAC/s
    peak_1t = peak.machine_peak() / threads.num_threads()
    steps = int8_gemms()
    print(f"int8 vs fp32 GEMM, CPU {jit.host_cpu()[0]}, int8 path: {int8_path()}, pool threads "
          f"{threads.num_threads()}; per thread: fp32 peak {peak_1t / 1e9:.0f} GFLOP/s, int8 "
          "peak " + ", ".join(f"{p} {2 * v / 1e9:.0f} GOP/s" for p, v in peaks.items()) +
          " (measured now; 2 ops per multiply-add)")
    labels = [*steps, "fp32"]
    print(f"{'M x K x N':16s} {'thr':>3s} " + " ".join(f"{x + ' GOP/s':>15s}" for x in labels) +
          "   int8 / fp32, % of own peak")
    for M, K, N in GEMM_SHAPES:
        calls, keep = gemm_calls(M, K, N, rng, steps)
        for tag, nt in (("1T", 1), ("pool", threads.num_threads())):
            # one thread: its own CPU time (a shared machine's preemptions do not count)
            best = best_of_rounds({k: c for k, c in calls.items() if k.endswith(tag)},
                                  seconds * len(labels) / 2,
                                  clock=time.thread_time if nt == 1 else time.perf_counter)
            print_gemm_row(f"{M}x{K}x{N}", nt, {x: 2.0 * M * K * N / best[f"{x} {tag}"]
                                                for x in labels}, peaks, peak_1t)
        del keep


def print_gemm_row(shape, nt, rate, peaks, fp32_peak):
    """GOP/s of each contender, then its ratio to fp32 and its % of its own peak on nt threads."""
    own = {x: nt * (fp32_peak if x == "fp32" else 2 * peaks[x.split()[1].lower()]) for x in rate}
    ratios = ", ".join(f"{x} {rate[x] / rate['fp32']:.2f}x {100 * rate[x] / own[x]:.0f}%"
                       for x in rate)
    print(f"{shape:16s} {nt:3d} " + " ".join(f"{r / 1e9:15.1f}" for r in rate.values()) +
          f"   {ratios}", flush=True)


def mnist_models(kind: str):
    """(fp32 model, int8 copy, calibrated int8 copy, test digits, test labels) for 'mlp' or
    'cnn'."""
    from frontend import layers, models
    from frontend.datasets import mnist
    (x, y), (x_test, y_test) = mnist.load_data()
    shape = (784,) if kind == "mlp" else (28, 28, 1)
    x, x_test = (a.reshape(-1, *shape).astype(np.float32) / 255 for a in (x, x_test))

    def build():
        if kind == "mlp":
            body = [layers.Dense(500, activation="relu"), layers.Dense(500, activation="relu")]
        else:
            body = [layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(2),
                    layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2),
                    layers.Flatten()]
        return models.Sequential([layers.Input(shape), *body,
                                  layers.Dense(10, activation="softmax")])
    fp32 = build()
    fp32.compile("adam", "sparse_categorical_crossentropy")
    fp32.fit(x, y, epochs=3 if kind == "mlp" else 2, batch_size=100, verbose=0)
    int8, calibrated = build(), build()
    for model in (int8, calibrated):
        model.set_weights(fp32.get_weights())
        model.quantize("int8")
    calibrated.calibrate(x[:1000])
    return fp32, int8, calibrated, x_test, y_test


def predict_contenders(kind, fp32, int8, calibrated):
    n = threads.num_threads()
    predict = {name: m.make_predict_function("llvm") for name, m in (
        ("fp32", fp32), ("int8", int8), ("int8 cal", calibrated))}
    calls = {f"graphc {name}": (lambda x, f=f: f(x)[0]) for name, f in predict.items()}
    calls["torch fp32"], calls["torch int8"] = int8_peers.torch_model(fp32, kind, n)
    calls["ort fp32"], calls["ort int8"] = int8_peers.onnxruntime_model(fp32, kind, n)
    return calls


def bench_predict(seconds, cpu_time=False):
    """cpu_time: CPU seconds of this process per call instead of wall time for batch 1024 (on a
    shared, oversubscribed machine, wall-time rounds of long calls are rarely free of
    preemption; batch 1 stays on wall time: its calls are shorter than the CPU clock's steps)."""
    print(f"int8 vs fp32 predict, CPU {jit.host_cpu()[0]}, VNNI: {gemm_int8.host_has_vnni()}, "
          f"threads {threads.num_threads()} (graphc pool, torch, onnxruntime intra-op), "
          f"{'CPU time at batch 1024' if cpu_time else 'wall time'}")
    for kind in ("mlp", "cnn"):
        fp32, int8, calibrated, x_test, y_test = mnist_models(kind)
        calls = predict_contenders(kind, fp32, int8, calibrated)
        accuracy = {name: float((call(x_test).argmax(1) == y_test).mean())
                    for name, call in calls.items()}
        print(f"\n{kind}: test accuracy on {len(y_test)} digits: " + ", ".join(
            f"{name} {100 * acc:.1f}%" for name, acc in accuracy.items()))
        print(f"{'batch':>5s} " + " ".join(f"{name:>12s}" for name in calls) +
              "   (ms per call; int8 speedup over fp32 of the same framework)")
        for batch in BATCHES:
            clock = time.process_time if cpu_time and batch > 1 else time.perf_counter
            x = np.resize(x_test, (batch,) + x_test.shape[1:])
            best = best_of_rounds({name: (lambda c=c, x=x: c(x)) for name, c in calls.items()},
                                  seconds * len(calls), rounds=40, clock=clock)
            times = " ".join(f"{1e3 * best[name]:12.3f}" for name in calls)
            gain = ", ".join(f"{f} {best[f'{f} fp32'] / best[f'{f} int8']:.2f}x"
                             for f in ("graphc", "torch", "ort"))
            gain += f", graphc cal {best['graphc fp32'] / best['graphc int8 cal']:.2f}x"
            print(f"{batch:5d} {times}   {gain}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["gemm", "predict"])
    parser.add_argument("--seconds", type=float, default=2.0, help="per case, all contenders")
    parser.add_argument("--cpu-time", action="store_true",
                        help="predict: time calls by this process's CPU time (busy machines)")
    opts = parser.parse_args(argv)
    threads.ensure_runtime()
    if opts.what == "gemm":
        bench_gemm(opts.seconds)
    else:
        bench_predict(opts.seconds, opts.cpu_time)


if __name__ == "__main__":
    main(sys.argv[1:])
