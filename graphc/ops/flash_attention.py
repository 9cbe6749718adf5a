"""Blocked ("flash") attention as one op: `flash_attention(q, k, v[, mask], scale, causal)` with
q (batch, heads, Lq, Dk), k (batch, heads, Lk, Dk), v (batch, heads, Lk, Dv) returns
softmax(scale * q k^T) v over the keys that count (mask and causality as `masked_softmax`;
a query with no key that counts gets the mean of all Lk values, as Keras), and never holds
the (Lq, Lk) scores: its kernel (graphc/backends/llvm/flash_attention.py) walks tiles of
queries x keys with an online softmax.

The output packs, like the recurrent ops' reserve space, the context and the backward pass's
saved statistic: (batch, heads, Lq, Dv + 1), the last slot the logsumexp of each query's
scaled scores (log(Lk) for a query with no key: its scores all count as 0).
`gc.flash_attention` slices the context out.

The gradient op `flash_attention_grad(g, q, k, v, out[, mask])` recomputes each score tile
from the saved logsumexp: P = exp(s - lse), dV = P^T dO, dS = P (dO v^T - D) with
D = rowsum(dO * O) - g_lse (the logsumexp slot's own gradient), dQ = scale dS k,
dK = scale dS^T q (a query with no key adds dO / Lk to every dV row and nothing else); it
returns them flat per (batch, head): (batch, heads, Lq Dk + Lk (Dk + Dv)).
Second derivatives are not provided (the gradient op has no VJP).
"""

from __future__ import annotations

import numpy as np

from graphc.ir import DtypeError, ShapeError
from graphc.ops import call, defop, dims_equal, require_float, same_dtype
from graphc.ops.attention import broadcasts_to, valid_positions
from graphc.ops.cases import In, case
from graphc.ops.movement import axis_slice


def check_attention_inputs(op, q, k, v, mask):
    """Shapes (batch, heads, L, D) that agree; a bool mask that broadcasts to the scores."""
    if any(t.ndim != 4 for t in (q, k, v)):
        raise ShapeError(f"{op} needs (batch, heads, length, dim) q, k and v, got shapes "
                         f"{q.shape}, {k.shape}, {v.shape}")
    agree = all(dims_equal(a, b) for a, b in zip(q.shape[:2] + q.shape[3:], k.shape[:2] +
                                                  k.shape[3:])) and \
        all(dims_equal(a, b) for a, b in zip(k.shape[:3], v.shape[:3]))
    if not agree:
        raise ShapeError(f"{op}: q {q.shape}, k {k.shape} and v {v.shape} must share batch and "
                         f"heads, q and k the key dim, k and v the length")
    if None in (q.shape[3], v.shape[3]):
        raise ShapeError(f"{op} needs known head dims, got q {q.shape} and v {v.shape}")
    if mask is not None:
        scores = (q.shape[0], q.shape[1], q.shape[2], k.shape[2])
        if mask.dtype != "bool":
            raise DtypeError(f"{op} needs a bool mask, got {mask.dtype}")
        if not broadcasts_to(mask.shape, scores):
            raise ShapeError(f"{op}: the mask's shape {mask.shape} does not broadcast to the "
                             f"scores' {scores}")
    return same_dtype([q, k, v])


def infer_flash_attention(inputs, *, scale, causal):
    q, k, v = inputs[:3]
    dtype = require_float(check_attention_inputs("flash_attention", q, k, v,
                                                 inputs[3] if len(inputs) == 4 else None))
    return (q.shape[0], q.shape[1], q.shape[2], v.shape[3] + 1), dtype


def softmax_parts(q, k, mask, scale, causal):
    """The scaled scores, where keys count, and each query's (safe) maximum over them."""
    s = scale * (q.astype(np.float64) @ np.swapaxes(k, -1, -2))
    valid = valid_positions(s, mask, causal)
    top = np.where(valid, s, -np.inf).max(axis=-1, keepdims=True)
    return s, valid, np.where(np.isfinite(top), top, 0.0)


def impl_flash_attention(q, k, v, mask=None, *, scale, causal):
    s, valid, top = softmax_parts(q, k, mask, scale, causal)
    e = np.where(valid, np.exp(s - top), 0.0)
    total = e.sum(axis=-1, keepdims=True)
    some = total > 0
    uniform = v.mean(axis=-2, keepdims=True)  # a row with no key: every score counts as 0
    context = np.where(some, (e @ v) / np.where(some, total, 1.0), uniform)
    lse = np.where(some, top + np.log(np.where(some, total, 1.0)), np.log(k.shape[-2]))
    return np.concatenate([context, lse], axis=-1).astype(q.dtype)


def vjp_flash_attention(g, node):
    q, k, v = node.inputs[:3]
    flat = call("flash_attention_grad", g, *node.inputs[:3], node, *node.inputs[3:],
                scale=node.attr("scale"), causal=node.attr("causal"))
    (lq, dk), (lk, dv) = q.shape[2:], v.shape[2:]
    bounds = np.cumsum([0, lq * dk, lk * dk, lk * dv])
    shapes = [(-1, q.shape[1], lq, dk), (-1, q.shape[1], lk, dk), (-1, q.shape[1], lk, dv)]
    grads = tuple(call("reshape", call("getitem", flat, index=axis_slice(2, int(a), int(b))),
                       shape=shape) for a, b, shape in zip(bounds, bounds[1:], shapes))
    return grads + (None,) * (len(node.inputs) - 3)


def infer_flash_attention_grad(inputs, *, scale, causal):
    g, q, k, v, out = inputs[:5]
    dtype = check_attention_inputs("flash_attention_grad", q, k, v,
                                   inputs[5] if len(inputs) == 6 else None)
    (lq, dk), (lk, dv) = q.shape[2:], v.shape[2:]
    if None in (lq, lk):
        raise ShapeError(f"flash_attention's gradient needs known lengths, got q {q.shape} "
                         f"and k {k.shape}")
    if tuple(g.shape[1:]) != tuple(out.shape[1:]) or out.shape[3] != dv + 1:
        raise ShapeError(f"flash_attention_grad: g {g.shape} and out {out.shape} must be the "
                         f"packed output of q {q.shape} and v {v.shape}")
    return (q.shape[0], q.shape[1], lq * dk + lk * (dk + dv)), require_float(dtype)


def impl_flash_attention_grad(g, q, k, v, out, mask=None, *, scale, causal):
    s, valid, _ = softmax_parts(q, k, mask, scale, causal)
    dv_size = v.shape[-1]
    p = np.where(valid, np.exp(s - out[..., dv_size:]), 0.0)
    g_out = g[..., :dv_size].astype(np.float64)
    delta = (g_out * out[..., :dv_size]).sum(axis=-1, keepdims=True) - g[..., dv_size:]
    d_scores = scale * p * (g_out @ np.swapaxes(v, -1, -2) - delta)
    # a row with no key weighs every value 1/Lk whatever the scores: dV only
    weights = np.where(valid.any(axis=-1, keepdims=True), p, 1.0 / k.shape[-2])
    grads = (d_scores @ k, np.swapaxes(d_scores, -1, -2) @ q,
             np.swapaxes(weights, -1, -2) @ g_out)
    flat = [x.reshape(x.shape[0], x.shape[1], -1) for x in grads]
    return np.concatenate(flat, axis=-1).astype(q.dtype)


def dims_flash_attention(node, ins, syms):
    """q's batch, heads and length; the packed last axis is static."""
    return [ins[0][0], ins[0][1], ins[0][2], None]


def dims_flash_attention_grad(node, ins, syms):
    """q's batch and heads; the flat gradients' size is static."""
    return [ins[1][0], ins[1][1], None]


def flops_flash_attention(node, shape_of) -> int:
    b, h, lq, dk = shape_of(node.inputs[0])
    lk, dv = shape_of(node.inputs[2])[2:]
    return 2 * b * h * lq * lk * (dk + dv) + 6 * b * h * lq * lk


def flops_flash_attention_grad(node, shape_of) -> int:
    b, h, lq, dk = shape_of(node.inputs[1])
    lk, dv = shape_of(node.inputs[3])[2:]
    return 2 * b * h * lq * lk * (3 * dk + 2 * dv) + 6 * b * h * lq * lk


def _case(lq, lk, dk, dv, mask=None, **attrs):
    inputs = [In((2, 2, lq, dk)), In((2, 2, lk, dk)), In((2, 2, lk, dv))]
    return case(*inputs, *([mask] if mask else []), **attrs)


defop(
    "flash_attention",
    infer=infer_flash_attention,
    impl=impl_flash_attention,
    vjp=vjp_flash_attention,
    fusion="opaque",
    dims=dims_flash_attention,
    flops=flops_flash_attention,
    cases=[
        _case(3, 4, 2, 3, scale=0.5, causal=False),
        _case(4, 4, 3, 2, scale=0.7, causal=True),
        _case(3, 5, 2, 2, In((2, 1, 1, 5), "bool", "bool"), scale=1.0, causal=False),
        _case(4, 4, 2, 3, In((4, 4), "bool", "bool"), scale=0.7, causal=True),
        _case(3, 5, 2, 2, In((2, 2, 3, 1), "bool", "bool"), scale=0.7, causal=False),
    ],
    doc="softmax(scale * q k^T) v over the keys that count, packed with each query's "
    "logsumexp; tiles of queries x keys, the (Lq, Lk) scores never held.",
)


defop(
    "flash_attention_grad",
    infer=infer_flash_attention_grad,
    impl=impl_flash_attention_grad,
    fusion="opaque",
    dims=dims_flash_attention_grad,
    flops=flops_flash_attention_grad,
    cases=[
        case(In((2, 2, 3, 4)), In((2, 2, 3, 2)), In((2, 2, 4, 2)), In((2, 2, 4, 3)),
             In((2, 2, 3, 4)), scale=0.5, causal=False, grad=False),
        case(In((2, 2, 4, 3)), In((2, 2, 4, 2)), In((2, 2, 4, 2)), In((2, 2, 4, 2)),
             In((2, 2, 4, 3)), In((2, 1, 1, 4), "bool", "bool"), scale=0.7, causal=True,
             grad=False),
    ],
    doc="flash_attention's gradients dQ, dK, dV from the packed output's gradient, flat per "
    "(batch, head), each score tile recomputed from the saved logsumexp.",
)
