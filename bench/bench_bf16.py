"""bfloat16 against float32 on this machine, contenders interleaved in one run (best round kept).

    python bench/bench_bf16.py [--rounds 30] [--skip-gemm] [--skip-training]
                               [--models mlp,convnet,transformer] [--cpu-time]

GEMM: graphc's bf16 GEMMs (AMX tdpbf16ps where granted, vdpbf16ps, and the emulation) against
its float32 GEMM, GFLOP/s and % of the float32 peak (graphc.machine_peak), on 1 thread and on
the pool.
Training: one Adam step (forward, loss, backward, update) of the tutorial MLP 784-500-500-10
at batch 100, the wide MLP 784-2048-2048-10 at batch 256, Keras's MNIST convnet at batch 128
(train_on_batch) and bench_transformer.py's block (SGD, its own loss) at batch 32 and seq 64:
graphc float32 against graphc mixed_bfloat16 (float32 master weights, bfloat16 GEMMs,
convolutions and activations), PyTorch eager float32 against torch.autocast(bfloat16), and JAX
jit float32 against bfloat16 casts inside the step (bf16_peers.py), when installed (`pip
install torch jax`; not needed by CI); ms per step.
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import sys
import time
from pathlib import Path

import ml_dtypes
import numpy as np
from llvmlite import ir

import graphc as gc
from frontend import mixed_precision
from frontend.layers import (
    Add,
    Conv2D,
    Dense,
    Flatten,
    Input,
    LayerNormalization,
    MaxPooling2D,
    MultiHeadAttention,
)
from frontend.models import Model, Sequential
from frontend.optimizers import SGD
from graphc.backends.llvm import gemm, gemm_amx, gemm_amx_tiles, gemm_bf16, jit, peak, threads

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_transformer  # noqa: E402 (bench/ holds no package)
import bf16_peers  # noqa: E402

TRANSFORMER_SEQ = 64
GEMM_SHAPES = [(512, 512, 512), (1024, 784, 500), (256, 2048, 2048), (100, 784, 500)]  # M, K, N


def aligned(elems, dtype):
    raw = np.empty(elems * np.dtype(dtype).itemsize + 64, np.uint8)
    start = (-raw.ctypes.data) % 64
    return raw[start:start + elems * np.dtype(dtype).itemsize].view(dtype)


def compiled_step(define):
    module = ir.Module(name="bench_bf16")
    fn = define(module)
    gemm.define_gemm_step(module, fn, "step")
    return jit.compile_ir(str(module), fn.name)


def gemm_call(module, A, B, C, ws, nthreads):
    """A zero-argument callable running C = A @ B once on `nthreads` (1 or the pool)."""
    (M, K), N = A.shape, B.shape[1]
    args = (ctypes.c_int64 * 11)(M, N, K, A.ctypes.data, K, B.ctypes.data, N, C.ctypes.data, N,
                                 0, ws.ctypes.data)
    address, slots = module.address("step"), ctypes.addressof(args)
    keep = (module, A, B, C, ws, args)  # the callable owns what the raw pointers point into
    if nthreads == 1:
        step = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int32, ctypes.c_int32)(address)
        return lambda: (step(slots, 0, 1), keep)
    return lambda: (threads.parallel_run(address, slots), keep)


def gemm_contenders(M, K, N, nthreads):
    rng = np.random.default_rng(0)
    A32, B32 = rng.standard_normal((M, K)).astype(np.float32), rng.standard_normal((K, N)).astype(
        np.float32)
    A16, B16 = A32.astype(ml_dtypes.bfloat16), B32.astype(ml_dtypes.bfloat16)
    C = np.empty((M, N), np.float32)
    ws32 = aligned(gemm.gemm_workspace_elems(M, N, K, 2), np.float32)
    ws16 = aligned(gemm_bf16.bf16_workspace_words(N, K), np.int32)
    f32 = compiled_step(lambda m: gemm.define_gemm(m, "float32", False, False, False, "linear",
                                                   False))
    out = {"fp32 GEMM": gemm_call(f32, A32, B32, C, ws32, nthreads)}
    paths = [("bf16 vdpbf16ps", False)] if gemm_bf16.hardware_dot_product() else []
    for label, emulated in paths + [("bf16 emulated", True)]:
        module = compiled_step(lambda m, e=emulated: gemm_bf16.define_bf16_gemm(
            m, False, False, False, "linear", "float32", e))
        out[label] = gemm_call(module, A16, B16, C, ws16, nthreads)
    if gemm_amx_tiles.permission_granted():
        module = compiled_step(lambda m: gemm_amx.define_amx_gemm(m, False, False, False,
                                                                  "linear", "float32"))
        ws_amx = aligned(gemm_amx.amx_workspace_words(M, N, K), np.int32)
        out["bf16 AMX"] = gemm_call(module, A16, B16, C, ws_amx, nthreads)
    return out


def interleaved_best(contenders: dict, rounds: int, repeat: int = 1,
                     clock=time.perf_counter) -> dict:
    """Best mean time per call of each contender over `rounds` rounds, each round running
    every contender `repeat` times in turn (a noisy machine disturbs some rounds, not all)."""
    best = dict.fromkeys(contenders, float("inf"))
    for _ in range(rounds):
        for label, call in contenders.items():
            t0 = clock()
            for _ in range(repeat):
                call()
            best[label] = min(best[label], (clock() - t0) / repeat)
    return best


def bench_gemms(rounds: int) -> None:
    peak_one = peak.machine_peak() / threads.num_threads() / 1e9  # GFLOP/s of one thread
    print("GEMM (C float32 = A @ B): GFLOP/s, % of the float32 peak, speed-up over fp32")
    for M, K, N in GEMM_SHAPES:
        for nthreads in (1, threads.num_threads()):
            contenders = gemm_contenders(M, K, N, nthreads)
            for call in contenders.values():
                call()  # warm up: first-touch of buffers, thread start
            best = interleaved_best(contenders, rounds)
            base = best["fp32 GEMM"]
            for label, seconds in best.items():
                gflops = 2 * M * N * K / seconds / 1e9
                print(f"  {M}x{K}x{N} {nthreads}T {label:15s} {gflops:7.1f} GFLOP/s "
                      f"{100 * gflops / (peak_one * nthreads):5.0f}% "
                      f"{base / seconds:5.2f}x")


MODELS = [("tutorial MLP 784-500-500-10, batch 100", "mlp", (784, 500, 500, 10), 100),
          ("wide MLP 784-2048-2048-10, batch 256", "mlp", (784, 2048, 2048, 10), 256),
          ("MNIST convnet (Keras example), batch 128", "convnet", None, 128),
          ("Transformer block (bench_transformer.py), batch 32, seq 64", "transformer", None, 32)]
LR, B1, B2, EPS = bf16_peers.LR, bf16_peers.B1, bf16_peers.B2, bf16_peers.EPS


def graphc_training_step(sizes, compute_dtype):
    """The compiled step; under bfloat16, casts of the float32 weights feed bfloat16 GEMMs and
    the logits return to float32 for the softmax cross-entropy (as mixed_bfloat16 builds)."""
    rng = np.random.default_rng(0)
    x, y = gc.placeholder((None, sizes[0])), gc.placeholder((None, sizes[-1]))
    params = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        params += [gc.shared((rng.standard_normal((a, b)) * np.sqrt(2 / a)).astype(np.float32)),
                   gc.shared(np.zeros(b, np.float32))]
    h = gc.cast(x, compute_dtype)
    for k in range(0, len(params), 2):
        h = h @ gc.cast(params[k], compute_dtype) + gc.cast(params[k + 1], compute_dtype)
        h = gc.relu(h) if k < len(params) - 2 else h
    loss = -gc.mean(gc.sum(y * gc.log_softmax(gc.cast(h, "float32")), axis=1))
    t = gc.shared(np.array(0, np.float32))
    lr_t = LR * gc.sqrt(1 - B2 ** (t + 1)) / (1 - B1 ** (t + 1))
    updates = [(t, t + 1)]
    for p, g in zip(params, gc.grad(loss, params)):
        m, v = (gc.shared(np.zeros(p.get_value().shape, np.float32)) for _ in range(2))
        m1, v1 = B1 * m + (1 - B1) * g, B2 * v + (1 - B2) * g * g
        updates += [(m, m1), (v, v1), (p, p - lr_t * m1 / (gc.sqrt(v1) + EPS))]
    return gc.function([x, y], loss, updates=updates)


def graphc_convnet_step(policy):
    """Keras's MNIST convnet (without its Dropout) under `policy`, Adam, train_on_batch."""
    mixed_precision.set_global_policy(policy)
    try:
        model = Sequential([Input(shape=(28, 28, 1)), Conv2D(32, 3, activation="relu"),
                            MaxPooling2D(2), Conv2D(64, 3, activation="relu"), MaxPooling2D(2),
                            Flatten(), Dense(10, activation="softmax")])
    finally:
        mixed_precision.set_global_policy("float32")
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    return model.train_on_batch


def graphc_transformer_step(policy, batch, seq):
    """bench_transformer.py's block as a functional Keras model (its residual sums as Add
    layers, which cast their inputs to the policy's compute dtype, as Keras's do), SGD."""
    block = bench_transformer
    d, heads, ff = block.D_MODEL, block.HEADS, block.FEED_FORWARD
    mixed_precision.set_global_policy(policy)
    try:
        x = Input(shape=(seq, d))
        h = LayerNormalization()(Add()([x, MultiHeadAttention(heads, d // heads)(x, x)]))
        out = LayerNormalization()(Add()([h, Dense(d)(Dense(ff, activation="relu")(h))]))
        model = Model(x, out)
    finally:
        mixed_precision.set_global_policy("float32")
    model.compile(optimizer=SGD(block.LR), loss="mse")
    return model.train_on_batch


def model_data(kind, sizes, batch):
    rng = np.random.default_rng(1)
    if kind == "transformer":
        return bench_transformer.data(batch, TRANSFORMER_SEQ)
    x = rng.standard_normal((batch, sizes[0]) if kind == "mlp" else (batch, 28, 28, 1))
    classes = sizes[-1] if kind == "mlp" else 10
    return x.astype(np.float32), np.eye(classes, dtype=np.float32)[rng.integers(0, classes, batch)]


def graphc_step(kind, sizes, batch, bf16):
    if kind == "mlp":
        return graphc_training_step(sizes, "bfloat16" if bf16 else "float32")
    policy = "mixed_bfloat16" if bf16 else "float32"
    if kind == "convnet":
        return graphc_convnet_step(policy)
    return graphc_transformer_step(policy, batch, TRANSFORMER_SEQ)


def training_contenders(kind, sizes, batch):
    """label -> zero-argument step: graphc, PyTorch autocast and JAX, float32 and bfloat16."""
    x, y = model_data(kind, sizes, batch)
    out = {}
    for bf16 in (False, True):
        out[f"graphc {'bfloat16' if bf16 else 'float32'}"] = functools.partial(
            graphc_step(kind, sizes, batch, bf16), x, y)
    for peer, make in (("torch", bf16_peers.torch_step), ("jax", bf16_peers.jax_step)):
        try:
            for bf16 in (False, True):
                out[f"{peer} {'bf16' if bf16 else 'float32'}"] = make(kind, sizes, bf16, x, y)
        except ImportError as err:
            print(f"  (no {peer} row: {err})")
    return out


def bench_training(rounds: int, kinds, clock=time.perf_counter) -> None:
    what = "CPU ms of the process" if clock is time.process_time else "ms"
    print(f"Training step ({what}, best round; speed-up of bfloat16 over the same stack's "
          "float32)")
    for label, kind, sizes, batch in MODELS:
        if kind not in kinds:
            continue
        contenders = training_contenders(kind, sizes, batch)
        for call in contenders.values():
            call()  # compile / warm up
        best = interleaved_best(contenders, rounds, repeat=3, clock=clock)
        print(f" {label}")
        for name, seconds in best.items():
            base = best[name.replace("bfloat16", "float32").replace("bf16", "float32")]
            print(f"  {name:22s} {seconds * 1e3:8.3f} ms  {base / seconds:5.2f}x")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--skip-gemm", action="store_true")
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--models", default="mlp,convnet,transformer",
                        help="training rows to run: mlp, convnet, transformer")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time training steps in CPU seconds of the process (all its "
                             "threads; steadier than wall time on a busy machine)")
    args = parser.parse_args(argv)
    print(f"bf16 GEMM path: {gemm_bf16.describe_path()}")
    if not args.skip_gemm:
        bench_gemms(args.rounds)
    if not args.skip_training:
        clock = time.process_time if args.cpu_time else time.perf_counter
        bench_training(args.rounds, args.models.split(","), clock)


if __name__ == "__main__":
    main()
