"""Test helpers shared by every backend and every op: the op table's test cases and a
finite-difference gradient checker.

Each op's cases live in its entry (`defop(..., cases=...)`, see graphc/ops/cases.py);
`op_cases()` collects them. A test fails when a computed op has no case (or a differentiable op
has no gradient case).
"""

from __future__ import annotations

import numpy as np

import graphc as gc
from graphc.ops import OPS, make_node
from graphc.ops.cases import Case, In, case

__all__ = ["Case", "In", "case", "op_cases", "uncomputed", "build_case", "check_gradient",
           "numeric_gradient", "relative_error", "OP_CASES", "UNCOMPUTED"]


def uncomputed() -> set:
    """Ops that are not computed (bound by the executor, or expanded or made by a pass)."""
    return {name for name, op in OPS.items() if op.fusion in ("leaf", "structural")}


def op_cases() -> dict:
    """{op: its cases} for every op of the table that has cases."""
    return {name: list(op.cases) for name, op in OPS.items() if op.cases}


OP_CASES = op_cases()
UNCOMPUTED = uncomputed()


def build_case(op: str, spec: Case, dtype: str | None = None, batch: bool = False):
    """Placeholders for a case's inputs and the op's node; with `batch`, the first input's
    leading dimension is known only at run time, as a batch is."""
    placeholders = []
    for s in spec.inputs:
        d = dtype if dtype and s.dtype.startswith("float") else s.dtype
        first = not placeholders
        shape = (None,) + s.shape[1:] if batch and first and s.shape else s.shape
        placeholders.append(gc.placeholder(shape, d))
    return placeholders, make_node(op, placeholders, spec.attrs)


def numeric_gradient(fn, values, index, eps=1e-5) -> np.ndarray:
    """Central finite differences of the scalar fn(values) with respect to values[index]."""
    x = values[index]
    grad = np.zeros_like(x)
    for j in np.ndindex(x.shape):
        saved = x[j]
        x[j] = saved + eps
        up = fn(values)
        x[j] = saved - eps
        down = fn(values)
        x[j] = saved
        grad[j] = (up - down) / (2 * eps)
    return grad


def relative_error(a, b) -> float:
    """||a - b|| / (||a|| + ||b||), 0 when both are zero."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    scale = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if scale == 0 else float(np.linalg.norm(a - b) / scale)


def check_gradient(op: str, spec: Case, seed: int = 0) -> list[float]:
    """Relative errors, per differentiable input, of the op's gradient rule (through
    graphc.grad and the interpreter) against finite differences of its NumPy reference."""
    rng = np.random.default_rng(seed)
    values = spec.sample(rng, "float64")
    placeholders, node = build_case(op, spec, "float64")
    weights = rng.standard_normal(node.shape)
    cost = gc.sum(node * gc.constant(weights, dtype=node.dtype))
    wrt = [p for p, s in zip(placeholders, spec.inputs) if s.differentiable]
    analytic = gc.function(placeholders, gc.grad(cost, wrt, disconnected="zeros"), backend="numpy")(
        *values
    )
    impl = OPS[op].impl

    def projected(vals):
        return float(np.sum(np.asarray(impl(*vals, **spec.attrs), np.float64) * weights))

    indices = [i for i, s in enumerate(spec.inputs) if s.differentiable]
    return [
        relative_error(a, numeric_gradient(projected, values, i)) for a, i in zip(analytic, indices)
    ]
