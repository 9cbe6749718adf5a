"""Checks shared by the tests of the attention and normalization layers: a layer's outputs on
both backends, and its gradients (inputs and weights) against central finite differences."""

from __future__ import annotations

import numpy as np

import graphc as gc
from graphc.testing import numeric_gradient, relative_error


def outputs_on(backend, build, arrays):
    """Outputs of `build(*nodes)` (a node or a list of nodes) compiled for `backend`."""
    nodes = [gc.placeholder(a.shape, str(a.dtype)) for a in arrays]
    out = build(*nodes)
    outs = out if isinstance(out, (list, tuple)) else [out]
    results = gc.function(nodes, list(outs), backend=backend)(*arrays)
    return results if isinstance(out, (list, tuple)) else results[0]


def assert_gradients_match(backend, build, arrays, weights=(), tolerance=1e-6):
    """d sum(build(*inputs) * R) / d(each float input, each weight) from `backend` against
    finite differences of the NumPy interpreter (float64 arrays and weights)."""
    nodes = [gc.placeholder(a.shape, str(a.dtype)) for a in arrays]
    out = build(*nodes)
    rng = np.random.default_rng(7)
    loss = gc.sum(out * gc.constant(rng.standard_normal(out.shape).astype(out.dtype)))
    wrt = [n for n in nodes if n.dtype.startswith("float")] + list(weights)
    grads = gc.function(nodes, gc.grad(loss, wrt, disconnected="zeros"), backend=backend)(*arrays)
    value_of = gc.function(nodes, loss, backend="numpy")
    values = [a.copy() for a in arrays]
    float_indices = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]
    for got, i in zip(grads, float_indices):
        expected = numeric_gradient(lambda v: float(value_of(*v)), values, i)
        assert _close(got, expected, tolerance), f"input {i}"
    for got, weight in zip(grads[len(float_indices) :], weights):
        assert _close(got, _weight_gradient(weight, value_of, arrays), tolerance), weight.name


def _close(got, expected, tolerance) -> bool:
    """Relatively close; or both ~0 (e.g. the key bias, which the softmax cancels exactly)."""
    tiny = np.abs(expected).max() < 1e-8 and np.abs(got).max() < 1e-8
    return tiny or relative_error(got, expected) < tolerance


def _weight_gradient(weight, value_of, arrays):
    saved = weight.get_value().copy()
    holder = [saved.copy()]

    def loss_at(values):
        weight.set_value(values[0])
        return float(value_of(*arrays))

    grad = numeric_gradient(loss_at, holder, 0)
    weight.set_value(saved)
    return grad
