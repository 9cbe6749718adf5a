"""The attention core's softmax as one op: `masked_softmax(x[, mask], scale, causal)` scales
the scores, masks them (keys where `mask` is False, and with `causal` keys after the query's
position, count as -1e9) and normalizes each row over the last axis, as Keras 3's attention
does (ops.dot_product_attention, the Attention layer). A row with no key that counts is
therefore uniform, 1/Lk everywhere: its scores are all -1e9 after float32 rounding, so its
weights do not depend on the scores and their gradient there is 0. With
keyless_rows="zeros" the probabilities of keys that do not count are set to 0 afterwards, as
Keras's masked Softmax layer does (MultiHeadAttention's path with dropout or returned scores):
a keyless row is then zeros.

One kernel of its own (graphc/backends/llvm/emit_attention.py) reads each row once from cache
instead of a chain of broadcasts, reductions and selects; its gradient is the softmax's,
scaled: scale * p * (g - sum(g * p)) (0 on a row with no key), the op
`masked_softmax_grad(g, p[, mask], scale, causal)` with a row kernel of its own too. The mask
is bool and broadcasts to the scores (e.g. (queries, keys) for every sample and head, or
(batch, 1, 1, keys) to hide padded keys).
"""

from __future__ import annotations

import numpy as np

from graphc.ir import DtypeError, ShapeError
from graphc.ops import call, defop, dims_like_input, require_float
from graphc.ops.cases import In, case
from graphc.ops.elementwise import const
from graphc.ops.normalization import gradient_shape

LARGE_NEGATIVE = -1e9  # Keras 3's stand-in for -inf in masked float32 scores


KEYLESS_ROWS = ("uniform", "zeros")  # Keras's attention kernels; Keras's masked Softmax layer


def infer_masked_softmax(inputs, *, scale, causal, keyless_rows="uniform"):
    x = inputs[0]
    dtype = require_float(x.dtype)
    if keyless_rows not in KEYLESS_ROWS:
        raise ValueError(f"masked_softmax: keyless_rows must be one of {KEYLESS_ROWS}, got "
                         f"{keyless_rows!r}")
    if x.ndim < 2:
        raise ShapeError(f"masked_softmax needs scores of 2 or more axes, got shape {x.shape}")
    if len(inputs) == 2:
        mask = inputs[1]
        if mask.dtype != "bool":
            raise DtypeError(f"masked_softmax needs a bool mask, got {mask.dtype}")
        if not broadcasts_to(mask.shape, x.shape):
            raise ShapeError(
                f"masked_softmax: the mask's shape {mask.shape} does not broadcast to the "
                f"scores' {x.shape}"
            )
    return x.shape, dtype


def broadcasts_to(shape, target) -> bool:
    """NumPy broadcasting of `shape` to `target` without growing it (unknown sizes fit)."""
    if len(shape) > len(target):
        return False
    pairs = zip(reversed(shape), reversed(target))
    return all(a == 1 or a is None or b is None or a == b for a, b in pairs)


def valid_positions(x, mask, causal):
    """Booleans shaped like x: where a key counts."""
    valid = np.ones(x.shape, bool) if mask is None else np.broadcast_to(mask, x.shape)
    if causal:
        rows, cols = x.shape[-2:]
        valid = valid & np.tril(np.ones((rows, cols), bool))
    return valid


def impl_masked_softmax(x, mask=None, *, scale, causal, keyless_rows="uniform"):
    valid = valid_positions(x, mask, causal)
    scores = np.where(valid, x * scale, LARGE_NEGATIVE)
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    p = e / e.sum(axis=-1, keepdims=True)
    return (p if keyless_rows == "uniform" else np.where(valid, p, 0)).astype(x.dtype)


def vjp_masked_softmax(g, node):
    mask = node.inputs[1:]
    grads = (call("masked_softmax_grad", g, node, *mask, scale=node.attr("scale"),
                  causal=node.attr("causal")),)
    return grads + (None,) * len(mask)


def infer_masked_softmax_grad(inputs, *, scale, causal):
    g, p = inputs[:2]
    shape = gradient_shape("masked_softmax_grad", g, p, "the probabilities")
    infer_masked_softmax(inputs[1:], scale=scale, causal=causal)  # checks the mask
    return shape, require_float(p.dtype)


def live_rows(p, mask, causal):
    """Booleans shaped like p with the last axis kept as 1: rows with a key that counts."""
    return valid_positions(p, mask, causal).any(axis=-1, keepdims=True)


def impl_masked_softmax_grad(g, p, mask=None, *, scale, causal):
    dx = scale * p * (g - (g * p).sum(axis=-1, keepdims=True))
    return np.where(live_rows(p, mask, causal), dx, 0).astype(p.dtype)


def vjp_masked_softmax_grad(h, node):
    """The Jacobian scale * (diag(p) - p p^T) (0 on rows with no key) is symmetric: h's
    gradient to g is the op again; to p it is scale * (h * (g - sum(g p)) - g * sum(h p)) on
    live rows, 0 on the others."""
    g, p = node.inputs[:2]
    mask, attrs = node.inputs[2:], dict(scale=node.attr("scale"), causal=node.attr("causal"))
    last = (node.ndim - 1,)

    def total(v):
        return call("sum", v, axis=last, keepdims=True)

    to_p = const(attrs["scale"], p) * (h * (g - total(g * p)) - g * total(h * p))
    if mask:  # without one, every row counts key 0
        to_p = to_p * live_row_flags(p, mask, attrs["causal"])
    return (call("masked_softmax_grad", h, p, *mask, **attrs), to_p) + (None,) * len(mask)


def live_row_flags(p, mask, causal):
    """1 on rows of p with a key that counts, 0 on the others, from the gradient op itself:
    with g = 1, p = -1 and scale 1 it gives -(1 + Lk) on live rows, 0 on the others."""
    ones = call("broadcast_like", const(1.0, p), p)
    probe = call("masked_softmax_grad", ones, -ones, *mask, scale=1.0, causal=causal)
    return probe / call("masked_softmax_grad", ones, -ones, scale=1.0, causal=False)


def flops_masked_softmax(node, shape_of) -> int:
    return 6 * int(np.prod(shape_of(node)))


SCORES = In((2, 3, 4))
defop(
    "masked_softmax",
    infer=infer_masked_softmax,
    impl=impl_masked_softmax,
    vjp=vjp_masked_softmax,
    fusion="opaque",
    dims=dims_like_input(0),
    flops=flops_masked_softmax,
    cases=[
        case(SCORES, scale=0.5, causal=False),
        case(SCORES, scale=1.0, causal=True),
        case(SCORES, In((3, 4), "bool", "bool"), scale=0.7, causal=False),
        case(SCORES, In((2, 3, 4), "bool", "bool"), scale=0.7, causal=True),
        case(In((2, 2, 3, 4)), In((2, 1, 3, 4), "bool", "bool"), scale=0.7, causal=False),
        case(In((2, 2, 3, 4)), In((2, 1, 1, 4), "bool", "bool"), scale=1.0, causal=True),
        case(SCORES, In((3, 1), "bool", "bool"), scale=1.0, causal=False),
        case(SCORES, In((2, 3, 1), "bool", "bool"), scale=0.7, causal=True,
             keyless_rows="zeros"),
    ],
    doc="softmax(scale * x) over the last axis where mask (and, if causal, key <= query) holds.",
)


defop(
    "masked_softmax_grad",
    infer=infer_masked_softmax_grad,
    impl=impl_masked_softmax_grad,
    vjp=vjp_masked_softmax_grad,
    fusion="opaque",
    dims=dims_like_input(1),
    flops=lambda node, shape_of: 4 * int(np.prod(shape_of(node))),
    cases=[
        case(SCORES, In((2, 3, 4), "positive"), scale=0.5, causal=False),
        case(In((3, 1)), In((3, 1)), scale=1.0, causal=False),
        case(SCORES, In((2, 3, 4), "positive"), In((3, 4), "bool", "bool"), scale=0.7,
             causal=True),
        case(SCORES, In((2, 3, 4), "positive"), In((2, 3, 1), "bool", "bool"), scale=0.5,
             causal=False),
    ],
    doc="masked_softmax's gradient to its scores from the probabilities p: "
    "scale * p * (g - sum(g * p)), 0 on rows where no key counts.",
)
