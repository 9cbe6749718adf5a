"""The `grad` op: d(cost)/d(wrt) as one node, expanded into gradient ops by
passes.autodiff.differentiate (so a function shows the gradient graph as its own stage)."""

from __future__ import annotations

from graphc.ir import DtypeError, GraphError, Node, ShapeError, toposort, user_site
from graphc.ops import defop, make_node


def infer_grad(inputs, *, disconnected):
    return inputs[1].shape, inputs[1].dtype


def _not_interpreted(*_, **__):
    raise GraphError("grad nodes are expanded by the differentiate pass before running")


defop(
    "grad",
    infer=infer_grad,
    impl=_not_interpreted,
    fusion="structural",
    doc="d(cost)/d(wrt), expanded into gradient ops by passes.autodiff.differentiate.",
)


def grad(cost, wrt, disconnected="raise"):
    """Symbolic gradient of a scalar `cost` with respect to `wrt` (a node, or a list, tuple or
    dict of nodes); returns the same structure. The gradient graph is built by the
    `differentiate` pass, so functions show it as its own stage.

    disconnected: 'raise' (default) when cost does not depend on a wrt, or 'zeros'.
    Example: `gW, gb = gc.grad(loss, [W, b])`
    """
    if isinstance(wrt, dict):
        return dict(zip(wrt, grad(cost, list(wrt.values()), disconnected)))
    if isinstance(wrt, (list, tuple)):
        return type(wrt)(grad(cost, w, disconnected) for w in wrt)
    check_grad_arguments(cost, wrt, disconnected)
    return make_node("grad", [cost, wrt], {"disconnected": disconnected})


def check_grad_arguments(cost, wrt: Node, disconnected: str) -> None:
    if not isinstance(cost, Node) or cost.shape != ():
        shape = getattr(cost, "shape", None)
        raise ShapeError(f"grad: cost must be a scalar node, got shape {shape} (at {user_site()})")
    if cost.dtype not in ("float32", "float64") or wrt.dtype not in ("float32", "float64"):
        raise DtypeError(
            f"grad: needs float cost and wrt, got {cost.dtype} and {wrt.dtype} (at {user_site()})"
        )
    if disconnected not in ("raise", "zeros"):
        raise ValueError(f"grad: disconnected must be 'raise' or 'zeros', got {disconnected!r}")
    if disconnected == "raise" and not any(n is wrt for n in toposort([cost])):
        label = wrt.name or repr(wrt)
        raise GraphError(
            f"grad: the cost does not depend on {label}; pass disconnected='zeros' "
            f"to get zeros (at {user_site()})"
        )
