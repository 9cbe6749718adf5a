"""The `allreduce` op: a value combined across the ranks of an MPI run (graphc.distributed).

It is structural: no backend computes it. `gc.function` splits a program at its allreduce
nodes into compiled phases and runs the reduction between them (graphc/distributed/split.py).
"""

from __future__ import annotations

from graphc.ir import DtypeError, GraphError, ShapeError, user_site
from graphc.ops import defop, make_node

REDUCE_OPS = ("mean", "sum")


def infer_allreduce(inputs, *, reduce, bucket):
    if reduce not in REDUCE_OPS:
        raise ShapeError(f"reduce must be one of {REDUCE_OPS}, not {reduce!r}")
    if inputs[0].dtype not in ("float32", "float64"):
        raise DtypeError(f"allreduce combines floating-point values, not {inputs[0].dtype}")
    return inputs[0].shape, inputs[0].dtype


def _not_interpreted(*_, **__):
    raise GraphError("allreduce nodes run between compiled phases (graphc.distributed.split)")


def vjp_allreduce(g, node):
    # a sum (or mean) over ranks is linear and its own adjoint
    return (make_node("allreduce", [g], node.attr_dict),)


defop(
    "allreduce",
    infer=infer_allreduce,
    impl=_not_interpreted,
    vjp=vjp_allreduce,
    fusion="structural",
    doc="The sum or mean of a value over the ranks of an MPI run (run between compiled phases).",
)


def allreduce(x, op: str = "mean", bucket: int = 0):
    """The sum (`op="sum"`) or mean (`op="mean"`) of `x` over every rank of an MPI run.

    A function holding allreduce nodes runs as compiled phases with an MPI Allreduce between
    them; without `mpiexec` (one rank) it returns `x`. `bucket`: the values of bucket 0 are
    computed first and their reduction starts (non-blocking) while bucket 1's are computed,
    and so on (give the last layers' gradients the low buckets). Example, data-parallel SGD:
        g = gc.allreduce(gc.grad(loss, W), op="mean")
        step = gc.function([x, y], loss, updates=[(W, W - 0.1 * g)])
    """
    if op not in REDUCE_OPS:
        raise ValueError(
            f"gc.allreduce: op must be one of {REDUCE_OPS}. Received: op={op!r} (at {user_site()})"
        )
    if getattr(x, "op", None) == "allreduce":
        raise ValueError(
            f"gc.allreduce: its input is an allreduce already (every rank holds the reduced "
            f"value; reduce once) (at {user_site()})"
        )
    if not isinstance(bucket, int) or isinstance(bucket, bool) or bucket < 0:
        raise ValueError(
            f"gc.allreduce: bucket must be a non-negative integer. Received: bucket={bucket!r} "
            f"(at {user_site()})"
        )
    return make_node("allreduce", [x], {"reduce": op, "bucket": bucket})
