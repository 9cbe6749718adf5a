"""Gradients of a loss computed in bfloat16 mixed precision (float32 inputs and master weights)
and exactly in float64, for the gradient checks of the bfloat16 tests."""

import numpy as np

import graphc as gc


def mixed_and_exact_gradients(loss_of, data, weights, backend) -> dict:
    """{'bfloat16': ..., 'float64': ...}: the gradients of loss_of(x, t, *weights, dtype) with
    respect to the weights, from the float32 (mixed) or float64 (exact) `data` (x, t)."""
    out = {}
    for dtype in ("float64", "bfloat16"):
        io = "float64" if dtype == "float64" else "float32"
        x, t = (gc.placeholder((None, *d.shape[1:]), io) for d in data)
        shared = [gc.shared(w.astype(io)) for w in weights]
        f = gc.function([x, t], gc.grad(loss_of(x, t, *shared, dtype), shared), backend=backend)
        out[dtype] = f(*(d.astype(io) for d in data))
    return out


def assert_normwise_within(gradients: dict, bound: float) -> None:
    for mixed, exact in zip(gradients["bfloat16"], gradients["float64"]):
        assert mixed.dtype == np.float32  # master weights' gradients are float32
        error = np.linalg.norm(mixed - exact) / np.linalg.norm(exact)
        assert error < bound, error
