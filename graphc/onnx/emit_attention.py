"""ONNX emitter for graphc's blocked attention op (graphc/ops/flash_attention.py): ONNX has no
such op, so the export writes the plain formula (the (Lq, Lk) scores as a tensor), packed as
graphc packs it: the context, then each query's logsumexp (log(Lk) for a query with no key,
whose weights are uniform)."""

from __future__ import annotations

import numpy as np

from graphc.ir import GraphError
from graphc.onnx.emit_nn import LARGE_NEGATIVE


def emit_flash_attention(b, node, ins):
    q, k, v = ins[:3]
    scores = b.add("MatMul", [q, b.transpose(k, [0, 1, 3, 2])])
    scores = b.add("Mul", [scores, b.scalar(node.attr("scale"), node.dtype)])
    valid = key_validity(b, node, ins)
    if valid is None:
        weights = b.add("Softmax", [scores], axis=-1)
        lse = b.reduce("ReduceLogSumExp", scores, [-1], keepdims=True)
    else:
        kept = b.add("Where", [valid, scores, b.scalar(LARGE_NEGATIVE, node.dtype)])
        counted = b.add("Cast", [valid], to=1)  # 1: FLOAT
        some = b.add("Cast", [b.reduce("ReduceMax", counted, [-1], keepdims=True)], to=9)
        # a row with no key scores 0 everywhere: uniform weights, logsumexp log(Lk)
        kept = b.add("Where", [some, kept, b.scalar(0, node.dtype)])
        weights = b.add("Softmax", [kept], axis=-1)
        lse = b.reduce("ReduceLogSumExp", kept, [-1], keepdims=True)
    context = b.add("MatMul", [weights, v])
    return b.add("Concat", [context, lse], axis=-1)


def key_validity(b, node, ins):
    """Booleans broadcasting against the (batch, heads, Lq, Lk) scores, or None when every key
    counts: the mask, and with `causal` the lower triangle."""
    valid = b.add("Cast", [ins[3]], to=9) if len(ins) > 3 else None  # 9: BOOL
    if node.attr("causal"):
        rows, cols = node.inputs[0].shape[2], node.inputs[1].shape[2]
        if None in (rows, cols):
            raise GraphError(f"ONNX export of flash_attention (built at {node.site}): a causal "
                             f"mask needs static query and key lengths, got {rows} and {cols}")
        lower = b.const(np.tril(np.ones((rows, cols), bool)), hint=f"{b.label}/causal")
        valid = lower if valid is None else b.add("And", [valid, lower])
    return valid


EMITTERS = {"flash_attention": emit_flash_attention}
