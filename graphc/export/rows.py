"""Whether a function keeps the rows of its batch apart: output row i computed from input row i
alone (elementwise math, a GEMM with the batch on the left, reductions and softmax over other
axes, convolutions and RNNs over their batch-first inputs). Only then may an exported library
run a predict call in chunks of rows, as Keras's predict runs batches; `mixing_node` names the
first node that breaks it (a mean over the batch, a reshape across rows, random numbers drawn
by position, ...).

Each node gets its batch axis (the input rows sit along it, one to one) or None (it does not
depend on the batch: weights, constants and what is computed from them alone). A reshape that
folds the batch with the next axes into one (TimeDistributed: (batch, time, f) -> (batch *
time, f)) gives a `Folded` axis 0: rows that each belong to one batch row, kept apart by
row-wise ops until unfold_like restores the batch.
"""

from __future__ import annotations

from graphc.ops import OPS, normalize_axes

# Ops whose first input is (batch, ...) and whose other inputs are weights or hyperparameters.
FIRST_INPUT_BATCH = {"conv1d", "conv2d", "conv1d_transpose", "conv2d_transpose",
                     "depthwise_conv1d", "depthwise_conv2d", "quantized_conv1d",
                     "quantized_conv2d", "max_pool1d", "max_pool2d", "avg_pool1d",
                     "avg_pool2d", "pad"}
# Recurrences over (batch, time, features) with (batch, units) states and a (batch, time) mask.
BATCH_FIRST_SEQUENCES = {"lstm_seq", "gru_seq", "simple_rnn_seq"}


class Folded(int):
    """Axis 0 holding the batch folded with the axes after it, of `sizes`."""

    def __new__(cls, sizes: tuple):
        axis = super().__new__(cls, 0)
        axis.sizes, axis.count = tuple(sizes), len(sizes) + 1
        return axis


class MixesRows(Exception):
    """Raised inside the analysis at the first node that mixes rows."""

    def __init__(self, node, reason: str):
        super().__init__(f"{node.op} at {node.site} {reason}")
        self.node, self.reason = node, reason


def mixing_node(graph) -> str | None:
    """None when every output row of `graph` depends on its input row only; else what mixes
    them, as "<op> at <file:line> <reason>"."""
    try:
        axes = batch_axes(graph)
        for k, out in enumerate(graph.outputs):
            if axes[id(out)] != 0 or isinstance(axes[id(out)], Folded):
                raise MixesRows(out, f"gives output {k} rows that are not the input rows")
    except MixesRows as err:
        return str(err)
    return None


def batch_axes(graph) -> dict:
    """{id(node): its batch axis or None} for every node of the graph."""
    axes = {}
    for node in graph.nodes():
        if node.op == "placeholder":
            axes[id(node)] = 0
            continue
        ins = [axes[id(i)] for i in node.inputs]
        axes[id(node)] = None if all(a is None for a in ins) else batch_axis(node, ins)
    return axes


def batch_axis(node, ins: list) -> int:
    """The batch axis of `node`, given its inputs' (at least one of them batched); folded
    rows stay folded through row-wise ops and meet no unfolded ones."""
    folds = {a.sizes for a in ins if isinstance(a, Folded)}
    if not folds or node.op in ("unfold_like", "reshape"):
        return unfolded_batch_axis(node, ins)
    axis = unfolded_batch_axis(node, ins)
    if len(folds) != 1 or axis != 0 or any(
            a is not None and not isinstance(a, Folded) for a in ins):
        raise MixesRows(node, "mixes rows of a batch folded with its next axes with others")
    return Folded(folds.pop())


def unfolded_batch_axis(node, ins: list) -> int:
    rule = RULES.get(node.op) or RULES_BY_CLASS.get(OPS[node.op].fusion)
    if rule is None:
        raise MixesRows(node, "is not known to keep the batch rows apart")
    return rule(node, ins)


def aligned(node, ins: list) -> int:
    """Broadcasting ops: each batched input's axis, counted from the right, must agree."""
    found = {a + node.ndim - i.ndim for i, a in zip(node.inputs, ins) if a is not None}
    if len(found) != 1:
        raise MixesRows(node, "broadcasts rows of one input against another's other axis")
    (axis,) = found
    if node.shape[axis] is not None:
        raise MixesRows(node, "broadcasts the batch axis to a fixed size")
    return axis


def only_batch(node, ins: list, allowed=None) -> int:
    """The single batch axis all batched inputs share (only inputs in `allowed` may be)."""
    found = {a for a in ins if a is not None}
    if len(found) != 1 or (allowed is not None and
                           any(a is not None for k, a in enumerate(ins) if k not in allowed)):
        raise MixesRows(node, "combines inputs batched along different axes")
    return found.pop()


def reduced(node, ins: list) -> int:
    axis, dropped = ins[0], normalize_axes(node.attr("axis"), node.inputs[0].ndim)
    if axis in dropped:
        raise MixesRows(node, "reduces over the batch axis")
    return axis if node.attr("keepdims") else axis - sum(d < axis for d in dropped)


def counted(node, ins: list):
    if ins[0] in normalize_axes(node.attr("axis"), node.inputs[0].ndim):
        raise MixesRows(node, "counts the batch rows (its value depends on the chunk size)")
    return None


def random_draw(node, ins: list):
    raise MixesRows(node, "draws random numbers by position in the batch")


def along_axis(node, ins: list) -> int:
    """softmax, log_softmax, argmax/argmin: work along one axis that must not be the batch's."""
    if ins[0] in normalize_axes(node.attr("axis"), node.inputs[0].ndim):
        raise MixesRows(node, "works along the batch axis")
    return reduced(node, ins) if node.op in ("argmax", "argmin") else ins[0]


def last_axis(node, ins: list) -> int:
    """layer_norm, masked_softmax, quantized_matmul: along the last axis (a causal mask also
    relates the last two)."""
    axis = aligned(node, ins)
    last = node.ndim - (2 if node.attr("causal") else 1)
    if axis >= last:
        raise MixesRows(node, "works along the batch axis")
    return axis


def transposed(node, ins: list) -> int:
    return list(node.attr("axes")).index(ins[0])


def expanded(node, ins: list) -> int:
    kept = [i for i in range(node.ndim) if i not in set(node.attr("axis"))]
    return kept[ins[0]]


def reshaped(node, ins: list) -> int:
    """Rows stay rows when the sizes after axis 0 hold as many values; the batch folds with
    the next axes when the sizes after those do, and folded rows unfold back."""
    source, rest_out = node.inputs[0], node.shape[1:]
    if isinstance(ins[0], Folded):
        sizes = ins[0].sizes
        if rest_out[:len(sizes)] == sizes and same_size(source.shape[1:],
                                                        rest_out[len(sizes):]):
            return 0
    elif ins[0] == 0 and node.shape[:1] == (None,):
        for count in range(1, source.ndim):
            if same_size(source.shape[count:], rest_out):
                return 0 if count == 1 else Folded(source.shape[1:count])
    raise MixesRows(node, f"reshapes {source.shape} to {node.shape} across rows")


def same_size(first: tuple, second: tuple) -> bool:
    return None not in first + second and _product(first) == _product(second)


def unfolded(node, ins: list) -> int:
    """unfold_like: rows folded from the batch and axes-1 more axes, back into like's."""
    x, like = ins
    count = x.count if isinstance(x, Folded) else 1
    if x != 0 or like != 0 or count != node.attr("axes"):
        raise MixesRows(node, "unfolds rows that were not folded from its batch")
    return 0


def _product(sizes) -> int:
    out = 1
    for s in sizes:
        out *= s
    return out


def indexed(node, ins: list) -> int:
    """getitem: the batch axis must be taken whole; new axes and ints before it move it."""
    out_axis, in_axis = 0, 0
    for item in node.attr("index"):
        if item[0] == "newaxis":
            out_axis += 1
            continue
        if in_axis == ins[0]:
            whole = item[0] == "slice" and item[1:] in ((None, None, None), (None, None, 1))
            if not whole:
                raise MixesRows(node, "indexes into the batch axis")
            return out_axis
        out_axis += item[0] == "slice"
        in_axis += 1
    return out_axis + ins[0] - in_axis


def matmul(node, ins: list) -> int:
    """Rows of a (m axis) and columns of b (n axis) stay apart; the inner axis mixes."""
    found = set()
    for k, (x, axis) in enumerate(zip(node.inputs, ins)):
        if axis is None:
            continue
        flip = node.attr("transpose_a" if k == 0 else "transpose_b")
        outer = x.ndim - (1 if (k == 0) == bool(flip) else 2)  # m of a, n of b
        if axis == outer:
            found.add(node.ndim - (2 if k == 0 else 1))
        elif axis >= x.ndim - 2:
            raise MixesRows(node, "sums over the batch axis (its inner dimension)")
        else:
            found.add(axis + node.ndim - x.ndim)
    if len(found) != 1:
        raise MixesRows(node, "multiplies rows of one input by another's")
    return found.pop()


def taken(node, ins: list) -> int:
    axis = normalize_axes(node.attr("axis"), node.inputs[0].ndim)[0]
    table, indices = ins
    if table is not None and (indices is not None or table == axis):
        raise MixesRows(node, "gathers along the batch axis")
    if indices is not None:
        return axis + indices
    return table if table < axis else table - 1 + node.inputs[1].ndim


def joined(node, ins: list) -> int:
    """concatenate / stack of batched inputs, along another axis."""
    if any(a is None for a in ins):
        raise MixesRows(node, "joins batched and unbatched inputs")
    axis = only_batch(node, ins)
    along = normalize_axes(node.attr("axis"), node.ndim)[0]
    if node.op == "concatenate":
        if along == axis:
            raise MixesRows(node, "joins along the batch axis")
        return axis
    return axis if axis < along else axis + 1


def at_zero(node, ins: list, allowed=None) -> int:
    """Batch-first ops (convolutions, pooling, RNNs): their batched inputs' first axis."""
    if only_batch(node, ins, allowed) != 0:
        raise MixesRows(node, "works on an input whose batch is not its first axis")
    return 0


RULES = {
    "size": counted, "random_uniform": random_draw, "argmax": along_axis,
    "argmin": along_axis, "softmax": along_axis, "log_softmax": along_axis,
    "layer_norm": last_axis, "masked_softmax": last_axis, "quantized_matmul": last_axis,
    "transpose": transposed, "expand_dims": expanded, "reshape": reshaped,
    "broadcast_to": aligned, "broadcast_like": aligned, "getitem": indexed,
    "unfold_like": unfolded, "matmul": matmul, "take": taken, "concatenate": joined,
    "stack": joined,
    "one_hot": lambda node, ins: ins[0],
    **{op: lambda node, ins: at_zero(node, ins, allowed={0}) for op in FIRST_INPUT_BATCH},
    **{op: at_zero for op in BATCH_FIRST_SEQUENCES},
}
RULES_BY_CLASS = {"elementwise": aligned, "reduction": reduced}

