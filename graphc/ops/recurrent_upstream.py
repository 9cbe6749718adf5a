"""The upstream gradient a BPTT op (graphc/ops/recurrent.py) takes: the gradient of the whole
packed output (batch, time, slots * units), or of its last step alone (batch, slots * units).

A layer that returns only its last state (return_sequences=False) slices step -1 out of the
packed output; that slice's VJP is a (batch, time, slots * units) tensor of zeros but one step
(~39 MB for LSTM(128), batch 64, 200 steps: more than L3), written and then read once per
training step. `upstream` hands the BPTT op that one step's rows instead.
"""

from __future__ import annotations

import numpy as np

from graphc.ir import ShapeError
from graphc.ops import call, dims_equal

ALL = ("slice", None, None, None)
LAST = ("int", -1)


def upstream(g, node):
    """The BPTT op's gradient input for the upstream gradient g of the packed output `node`:
    only its last step (batch, slots * units) when g is zeros elsewhere by construction (a
    VJP of node[:, -1, a:b], or a sum of them: LSTM's last h and c), else g."""
    last = last_step_only(g, node)
    return g if last is None else last


def last_step_only(g, node):
    """g's last step as (batch, slots * units), or None when g may be nonzero elsewhere."""
    if g.op == "add" and len(g.inputs) == 2:
        parts = [last_step_only(part, node) for part in g.inputs]
        return None if None in parts else call("add", *parts)
    if g.op != "getitem_grad" or g.inputs[1] is not node:
        return None
    index = g.attr("index")
    if len(index) != 3 or index[:2] != (ALL, LAST) or index[2][0] != "slice":
        return None
    step = call("getitem", node, index=(ALL, LAST))
    return call("getitem_grad", g.inputs[0], step, index=(ALL, index[2]))


def check_upstream(Y, gY):
    """gY must be shaped like Y, or like one step of it (the last step's gradient alone)."""
    expected = Y.shape if gY.ndim == 3 else (Y.shape[0], Y.shape[2])
    if gY.ndim not in (2, 3) or not all(map(dims_equal, gY.shape, expected)):
        raise ShapeError(
            f"packed output {Y.shape} and its gradient {gY.shape} do not fit: the gradient "
            f"must be shaped like the output or like its last step"
        )


def every_step(gY, Y):
    """The NumPy references' upstream gradient of every step: gY, or zeros but the last."""
    if gY.ndim == 3:
        return gY
    full = np.zeros_like(Y)
    if Y.shape[1]:
        full[:, -1] = gY
    return full
