"""Interpreted vs compiled: one MLP training step run by the NumPy interpreter (the oracle) and
by the LLVM backend on the same MNIST batch, compared output by output, update by update and
kernel by kernel.

Prints graphc.compare's table (largest absolute and relative differences, elements beyond
tolerance, time per call) and draws the fused step with each kernel outlined by its error
(green: agrees to float rounding, amber: around 1e-4, red: beyond) into the output folder.

    python examples/compare_backends.py [--hidden 256] [--batch 128] [--dtype float32|float64]
                                        [--out out] [--smoke]
"""

import argparse
import sys
from pathlib import Path

import numpy as np

import graphc as gc
from frontend.datasets import mnist


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hidden", type=int, default=256, help="units of the hidden layer")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--out", default="out", help="folder for the diagram")
    parser.add_argument("--smoke", action="store_true", help="a tiny step (used by the tests)")
    return parser.parse_args()


def training_step(hidden: int, dtype: str):
    """784-hidden-10 relu MLP, softmax cross-entropy, SGD with momentum 0.9."""
    rng = np.random.default_rng(0)
    x = gc.placeholder((None, 784), dtype, name="x")
    labels = gc.placeholder((None,), "int64", name="labels")
    params = []
    for n_in, n_out, name in ((784, hidden, "1"), (hidden, 10, "2")):
        limit = np.sqrt(6 / (n_in + n_out))  # Glorot uniform, as Keras initializes Dense
        params.append(
            gc.shared(rng.uniform(-limit, limit, (n_in, n_out)).astype(dtype), name=f"W{name}")
        )
        params.append(gc.shared(np.zeros(n_out, dtype), name=f"b{name}"))
    w1, b1, w2, b2 = params
    logits = gc.relu(x @ w1 + b1) @ w2 + b2
    loss = -gc.mean(gc.sum(gc.one_hot(labels, 10, dtype) * gc.log_softmax(logits), axis=1))
    updates = []
    for p, g in zip(params, gc.grad(loss, params)):
        velocity = gc.shared(np.zeros(p.shape, dtype), name=f"{p.name}_velocity")
        new_velocity = 0.9 * velocity - 0.01 * g
        updates += [(velocity, new_velocity), (p, p + new_velocity)]
    return gc.function([x, labels], loss, updates=updates, name="mlp_train_step")


def main():
    args = parse_args()
    hidden, batch = (32, 16) if args.smoke else (args.hidden, args.batch)
    (x_train, y_train), _ = mnist.load_data()
    x = (x_train[:batch].reshape(batch, 784) / 255).astype(args.dtype)
    y = y_train[:batch].astype("int64")

    step = training_step(hidden, args.dtype)
    report = gc.compare(step, x, y)
    print(
        f"784-{hidden}-10 training step, batch {batch}, {args.dtype}: "
        f"{len(report.kernels)} compiled kernels"
    )
    print(report.table())

    out = Path(args.out)
    diagram = gc.to_dot(
        step, stage="fused", report=report, collapse_kernels=True, show_constants=False
    )
    print("wrote", diagram.save(out / "compare_kernels.svg"))
    if not report.ok():
        sys.exit(
            f"the backends disagree beyond tolerance (worst relative error {report.worst:.2e})"
        )
    print(f"the backends agree: worst relative error {report.worst:.2e}")


if __name__ == "__main__":
    main()
