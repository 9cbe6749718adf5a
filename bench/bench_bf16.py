"""bfloat16 against float32 on this machine, contenders interleaved in one run (best round kept).

    python bench/bench_bf16.py [--rounds 30] [--skip-gemm] [--skip-training]

GEMM: graphc's bf16 GEMMs (AMX tdpbf16ps where granted, vdpbf16ps, and the emulation) against
its float32 GEMM, GFLOP/s and % of the float32 peak (graphc.machine_peak), on 1 thread and on
the pool.
Training: one Adam step (forward, softmax cross-entropy, backward, update) of the tutorial MLP
784-500-500-10 at batch 100 and the wide MLP 784-2048-2048-10 at batch 256, graphc float32
against graphc mixed_bfloat16 (float32 master weights, bfloat16 GEMMs and activations), and
PyTorch eager float32 against torch.autocast(bfloat16) when torch is installed; ms per step.
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import time

import ml_dtypes
import numpy as np
from llvmlite import ir

import graphc as gc
from graphc.backends.llvm import gemm, gemm_amx, gemm_amx_tiles, gemm_bf16, jit, peak, threads

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


def interleaved_best(contenders: dict, rounds: int, repeat: int = 1) -> dict:
    """Best mean time per call of each contender over `rounds` rounds, each round running
    every contender `repeat` times in turn (a noisy machine disturbs some rounds, not all)."""
    best = dict.fromkeys(contenders, float("inf"))
    for _ in range(rounds):
        for label, call in contenders.items():
            t0 = time.perf_counter()
            for _ in range(repeat):
                call()
            best[label] = min(best[label], (time.perf_counter() - t0) / repeat)
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


MLPS = [("tutorial MLP 784-500-500-10, batch 100", (784, 500, 500, 10), 100),
        ("wide MLP 784-2048-2048-10, batch 256", (784, 2048, 2048, 10), 256)]
LR, B1, B2, EPS = 1e-3, 0.9, 0.999, 1e-7


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


def torch_training_step(sizes, autocast):
    import torch  # noqa: PLC0415 - an optional peer, imported only when it is benchmarked

    torch.set_num_threads(threads.num_threads())
    layers = []
    for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers += [torch.nn.Linear(a, b)] + ([torch.nn.ReLU()] if k < len(sizes) - 2 else [])
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(model.parameters(), lr=LR, betas=(B1, B2), eps=EPS)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step(x, y):
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    return step, torch


def training_contenders(sizes, batch):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = np.eye(sizes[-1], dtype=np.float32)[rng.integers(0, sizes[-1], batch)]
    out = {f"graphc {d}": functools.partial(graphc_training_step(sizes, d), x, y)
           for d in ("float32", "bfloat16")}
    try:
        for label, autocast in (("torch float32", False), ("torch autocast bf16", True)):
            step, torch = torch_training_step(sizes, autocast)
            xt, yt = torch.from_numpy(x), torch.from_numpy(y.argmax(axis=1))
            out[label] = functools.partial(step, xt, yt)
    except ImportError as err:
        print(f"  (no PyTorch: {err})")
    return out


def bench_training(rounds: int) -> None:
    print("Training step (ms, best round; speed-up of bfloat16 over the same stack's float32)")
    for label, sizes, batch in MLPS:
        contenders = training_contenders(sizes, batch)
        for call in contenders.values():
            call()  # compile / warm up
        best = interleaved_best(contenders, rounds, repeat=5)
        print(f" {label}")
        for name, seconds in best.items():
            base = best[name.replace("bfloat16", "float32").replace("autocast bf16", "float32")]
            print(f"  {name:22s} {seconds * 1e3:8.3f} ms  {base / seconds:5.2f}x")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--skip-gemm", action="store_true")
    parser.add_argument("--skip-training", action="store_true")
    args = parser.parse_args(argv)
    print(f"bf16 GEMM path: {gemm_bf16.describe_path()}")
    if not args.skip_gemm:
        bench_gemms(args.rounds)
    if not args.skip_training:
        bench_training(args.rounds)


if __name__ == "__main__":
    main()
