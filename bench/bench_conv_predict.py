"""Inference of Keras's MNIST convnet (bench_conv.py's 'conv2d' network, softmax output) at a
large batch: graphc's llvm backend against JAX jit and PyTorch eager (when installed), timed
in interleaved rounds in one run, best round, with GFLOP/s and % of graphc.machine_peak().

    python bench/bench_conv_predict.py [--batch 1024] [--rounds 15]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from bench_conv import graphc_logits, init_weights, keras_to_torch

import graphc as gc


def flops(batch: int) -> float:
    """Multiply-adds x 2 of the two convolutions and the dense layer."""
    return 2.0 * batch * (26 * 26 * 32 * 9 + 11 * 11 * 64 * 288 + 1600 * 10)


def graphc_predict(weights):
    x = gc.placeholder((None, 28, 28, 1), name="x")
    params = {k: gc.shared(v, name=k) for k, v in weights.items()}  # a model's variables
    return gc.function([x], gc.softmax(graphc_logits("conv2d", x, params)))


def jax_predict(weights):
    import jax
    import jax.numpy as jnp

    p = {k: jnp.asarray(v) for k, v in weights.items()}
    dims = ("NHWC", "HWIO", "NHWC")

    def block(h, k, b):
        h = jax.nn.relu(jax.lax.conv_general_dilated(h, k, (1, 1), "VALID",
                                                     dimension_numbers=dims) + b)
        return jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1),
                                     "VALID")

    @jax.jit
    def predict(x):
        h = block(block(x, p["k1"], p["b1"]), p["k2"], p["b2"])
        return jax.nn.softmax(h.reshape(-1, 1600) @ p["w"] + p["b"])

    return lambda x: predict(x).block_until_ready()


def torch_predict(weights):
    import torch

    F, t = torch.nn.functional, {k: torch.tensor(v) for k, v in
                                 keras_to_torch("conv2d", weights).items()}

    def predict(x):
        with torch.no_grad():
            h = F.max_pool2d(F.relu(F.conv2d(torch.from_numpy(x).permute(0, 3, 1, 2),
                                              t["k1"], t["b1"])), 2)
            h = F.max_pool2d(F.relu(F.conv2d(h, t["k2"], t["b2"])), 2)
            return F.softmax(h.permute(0, 2, 3, 1).reshape(-1, 1600) @ t["w"] + t["b"], 1)

    return predict


def contenders(weights) -> dict:
    """{name: predict function}; a peer that is not installed is left out, and said so."""
    out = {"graphc": graphc_predict(weights)}
    for name, make in (("jax", jax_predict), ("torch", torch_predict)):
        try:
            out[name] = make(weights)
        except ImportError as err:
            print(f"{name}: not installed ({err})")
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    weights = init_weights("conv2d", rng)
    x = rng.standard_normal((args.batch, 28, 28, 1)).astype("float32")
    fns = contenders(weights)
    outputs = {name: np.asarray(f(x)) for name, f in fns.items()}
    for name, out in outputs.items():
        np.testing.assert_allclose(out, outputs["graphc"], rtol=1e-3, atol=1e-4, err_msg=name)
    best = {name: float("inf") for name in fns}
    for _ in range(args.rounds):
        for name, f in fns.items():
            time.sleep(0.2)  # the previous library's spinning threads go to sleep first
            start = time.perf_counter()
            f(x)
            best[name] = min(best[name], time.perf_counter() - start)
    peak = gc.machine_peak()
    print(f"MNIST convnet predict, batch {args.batch}, best of {args.rounds} interleaved rounds")
    for name, seconds in best.items():
        rate = flops(args.batch) / seconds / 1e9
        print(f"  {name:7s} {seconds * 1e3:8.2f} ms  {rate:6.1f} GFLOP/s  "
              f"{100 * rate * 1e9 / peak:5.1f}% of peak  "
              f"{seconds / best['graphc']:5.2f}x graphc's time")


if __name__ == "__main__":
    main()
