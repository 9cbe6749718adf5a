"""A hand-written gc.function SGD loop with gc.allreduce: each rank takes its half of every
batch; prints rank 0's weights after a few steps as JSON (argv: backend)."""

import json
import sys

import numpy as np

import graphc as gc
from graphc.distributed.comm import world


def train(backend: str, rank: int, ranks: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(66, 7)).astype("float32")
    Y = (X @ rng.normal(size=(7, 1))).astype("float32")
    W = gc.shared(np.zeros((7, 1), np.float32), name="W")
    x, y = gc.placeholder((None, 7), name="x"), gc.placeholder((None, 1), name="y")
    loss = gc.mean((gc.matmul(x, W) - y) ** 2)
    grad = gc.grad(loss, W)
    if ranks > 1:
        grad = gc.allreduce(grad, op="mean")
    step = gc.function([x, y], loss, updates=[(W, W - 0.05 * grad)], backend=backend)
    for start in range(0, 66, 22):
        shard = slice(start + rank * 22 // ranks, start + (rank + 1) * 22 // ranks)
        step(X[shard], Y[shard])
    return W.get_value()


if __name__ == "__main__":
    ranks = world()
    weights = train(sys.argv[1], ranks.rank, ranks.size)
    if ranks.rank == 0:
        print(json.dumps(weights.ravel().tolist()))
