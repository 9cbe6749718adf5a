"""The recurrent sequence ops with their input projection inside: `<op>_projected(x, W, bx,
*rest)` is `<op>(x @ W + bx, *rest)` (graphc/ops/recurrent.py), x (batch, time, features).

The LLVM backend rewrites a recurrence whose P = x @ W + bx is read by nothing else into this
form (backends/llvm/rnn_projection.py): its kernel computes each step's x_t @ W + bx for its
block of batch rows just before that step's recurrent GEMM, so P, a tensor of the sequence's
size, is never written whole and read back (it fell out of cache at long sequences). The
rewrite runs after autodiff, so these ops have no VJP: the BPTT ops and the weight gradients
are those of the unfused form.
"""

from __future__ import annotations

from graphc.ir import ShapeError
from graphc.ops import OPS, Shaped, defop, dims_equal, dims_keep_batch
from graphc.ops.cases import F, case
from graphc.ops.recurrent import MASK24
from graphc.ops.recurrent_kernel import flops_sequence

SEQUENCES = ("simple_rnn_seq", "lstm_seq", "gru_seq")
PROJECTED = {op: f"{op}_projected" for op in SEQUENCES}


def infer_projected(base):
    def infer(inputs, **attrs):
        x, W, bx, *rest = inputs
        fits = (x.ndim == 3 and W.ndim == 2 and bx.ndim == 1
                and dims_equal(x.shape[2], W.shape[0]) and dims_equal(bx.shape[0], W.shape[1]))
        if not fits:
            raise ShapeError(f"{PROJECTED[base]}: inputs x (batch, time, features), W (features, "
                             f"width) and bias (width,) expected, got {x.shape}, {W.shape}, "
                             f"{bx.shape}")
        projected = Shaped(x.shape[:2] + W.shape[1:], x.dtype)
        return OPS[base].infer([projected, *rest], **attrs)

    return infer


def impl_projected(base):
    def impl(x, W, bx, *rest, **attrs):
        return OPS[base].impl(x @ W + bx, *rest, **attrs)

    return impl


def flops_projected(node, shape_of) -> int:
    """The recurrence's FLOPs plus the projection's GEMM."""
    batch, steps, features = shape_of(node.inputs[0])
    width = shape_of(node.inputs[1])[1]
    return flops_sequence(node, shape_of) + 2 * batch * steps * features * width


def define_projected(base, cases, **attrs):
    defop(
        PROJECTED[base],
        infer=infer_projected(base),
        impl=impl_projected(base),
        fusion="opaque",
        dims=dims_keep_batch,
        flops=flops_projected,
        cases=cases,
        doc=f"{base}(x @ W + bx, ...) with the input projection computed step by step.",
    )


def xwb(features, width):
    return F((2, 4, features)), F((features, width)), F((width,))


define_projected("simple_rnn_seq", [
    case(*xwb(5, 3), F((2, 3)), F((3, 3)), activation="tanh", grad=False),
    case(*xwb(1, 3), F((2, 3)), F((3, 3)), MASK24, activation="relu", grad=False),
])
define_projected("lstm_seq", [
    case(*xwb(5, 12), F((2, 3)), F((2, 3)), F((3, 12)), grad=False),
    case(*xwb(2, 12), F((2, 3)), F((2, 3)), F((3, 12)), MASK24, grad=False),
])
define_projected("gru_seq", [
    case(*xwb(5, 9), F((2, 3)), F((3, 9)), F((9,)), grad=False),
    case(*xwb(3, 9), F((2, 3)), F((3, 9)), F((9,)), MASK24, grad=False),
])
