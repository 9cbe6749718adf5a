"""`einsum(equation, *operands)` lowered to the ops graphc already compiles well: sums over
indices only one operand has, a transpose of each operand into (batch, free, contracted) order,
one batched GEMM (gc.matmul) per pair, and a transpose into the output's order.

Supported: explicit equations ("bqd,bkd->bqk"), one or two operands, an ellipsis ("...") that
stands for the same leading or trailing axes everywhere, and unknown (None) sizes when each
reshaped group holds at most one of them. Repeated indices within one operand (diagonals) are
refused with a ShapeError.
"""

from __future__ import annotations

import math
import string

from graphc.ir import Node, ShapeError, user_site
from graphc.ops.operators import as_node, matmul, reshape, sum, transpose

_ELLIPSIS_LETTERS = "".join(reversed(string.ascii_uppercase))  # letters for "..." axes


def einsum(equation: str, *operands) -> Node:
    """Einstein summation over one or two operands, as numpy.einsum with an explicit output."""
    nodes = [as_node(x) for x in operands]
    inputs, output = _parse(equation, nodes)
    if len(nodes) == 1:
        return _reduce_to(nodes[0], inputs[0], output)
    if len(nodes) != 2:
        raise ShapeError(f"einsum: takes 1 or 2 operands, received {len(nodes)} ({user_site()})")
    a, b = nodes
    spec_a, spec_b = inputs
    a, spec_a = _sum_private(a, spec_a, spec_b + output)
    b, spec_b = _sum_private(b, spec_b, spec_a + output)
    _check_sizes(equation, (a, b), (spec_a, spec_b))
    return _contract(a, spec_a, b, spec_b, output)


def _parse(equation: str, nodes) -> tuple[list[str], str]:
    """The operands' index strings and the output's, with '...' spelled out in letters."""
    text = equation.replace(" ", "")
    if "->" not in text:
        raise ShapeError(
            f"einsum: the equation needs an explicit '->output'. Received: "
            f"{equation!r} ({user_site()})"
        )
    lhs, output = text.split("->")
    inputs = lhs.split(",")
    if len(inputs) != len(nodes):
        raise ShapeError(
            f"einsum: equation {equation!r} names {len(inputs)} operands, received "
            f"{len(nodes)} ({user_site()})"
        )
    elided = {len(n.shape) - len(s.replace("...", "")) for s, n in zip(inputs, nodes) if "..." in s}
    if len(elided) > 1:
        raise ShapeError(
            f"einsum: '...' stands for different numbers of axes in {equation!r} "
            f"(shapes {[n.shape for n in nodes]}) ({user_site()})"
        )
    fill = _ELLIPSIS_LETTERS[: elided.pop()] if elided else ""
    inputs = [s.replace("...", fill) for s in inputs]
    output = output.replace("...", fill)
    for spec, node in zip(inputs, nodes):
        _check_spec(equation, spec, node)
    if set(output) - set("".join(inputs)) or len(set(output)) != len(output):
        raise ShapeError(
            f"einsum: output indices of {equation!r} must appear once and in an "
            f"operand ({user_site()})"
        )
    return inputs, output


def _check_spec(equation: str, spec: str, node: Node) -> None:
    if len(spec) != node.ndim:
        raise ShapeError(
            f"einsum: {spec!r} in {equation!r} has {len(spec)} indices, the operand "
            f"has shape {node.shape} ({user_site()})"
        )
    if len(set(spec)) != len(spec):
        raise ShapeError(
            f"einsum: repeated index in {spec!r} of {equation!r} (diagonals) is not "
            f"supported ({user_site()})"
        )


def _check_sizes(equation: str, nodes, specs) -> None:
    sizes = {}
    for node, spec in zip(nodes, specs):
        for letter, size in zip(spec, node.shape):
            known = sizes.setdefault(letter, size)
            if None not in (known, size) and known != size:
                raise ShapeError(
                    f"einsum: index {letter!r} of {equation!r} has sizes {known} and "
                    f"{size} (shapes {[n.shape for n in nodes]}) ({user_site()})"
                )


def _sum_private(x: Node, spec: str, elsewhere: str) -> tuple[Node, str]:
    """Sum the axes whose index appears nowhere else (they take no part in the product)."""
    private = tuple(i for i, letter in enumerate(spec) if letter not in elsewhere)
    if not private:
        return x, spec
    return sum(x, axis=private), "".join(c for i, c in enumerate(spec) if i not in private)


def _reduce_to(x: Node, spec: str, output: str) -> Node:
    x, spec = _sum_private(x, spec, output)
    return _permute(x, spec, output)


def _permute(x: Node, spec: str, target: str) -> Node:
    if spec == target:
        return x
    return transpose(x, tuple(spec.index(c) for c in target))


def _contract(a: Node, spec_a: str, b: Node, spec_b: str, output: str) -> Node:
    """One batched GEMM: a as (batch, free_a, contracted), b as (batch, contracted, free_b)."""
    batch = "".join(c for c in spec_a if c in spec_b and c in output)
    summed = "".join(c for c in spec_a if c in spec_b and c not in output)
    free_a = "".join(c for c in spec_a if c not in spec_b)
    free_b = "".join(c for c in spec_b if c not in spec_a)
    size = _sizes((a, spec_a), (b, spec_b))
    a = _grouped(_permute(a, spec_a, batch + free_a + summed), batch, (free_a, summed), size)
    b = _grouped(_permute(b, spec_b, batch + summed + free_b), batch, (summed, free_b), size)
    product = matmul(a, b)
    shape = tuple(size[c] for c in batch + free_a + free_b)
    return _permute(_reshape_known(product, shape), batch + free_a + free_b, output)


def _sizes(*pairs) -> dict:
    size = {}
    for node, spec in pairs:
        for letter, d in zip(spec, node.shape):
            if size.get(letter) is None:
                size[letter] = d
    return size


def _grouped(x: Node, batch: str, groups: tuple[str, str], size: dict) -> Node:
    """x with each group of axes merged into one (an empty group becomes an axis of size 1)."""
    shape = [size[c] for c in batch]
    for group in groups:
        dims = [size[c] for c in group]
        shape.append(None if None in dims else math.prod(dims))
    return _reshape_known(x, tuple(shape))


def _reshape_known(x: Node, shape: tuple) -> Node:
    if len([d for d in shape if d is None]) > 1:
        raise ShapeError(
            f"einsum: cannot reshape {x.shape} to {shape}: more than one size is "
            f"unknown ({user_site()})"
        )
    return reshape(x, shape)
