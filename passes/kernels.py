"""Typed kernel bodies: what passes.fuse makes of each group of nodes, with every fact the
backends need as a field, so scheduling, memory planning and emitters never search a body's
ops by name.

Every body has `name`, `nodes` (its inner nodes, nodes of the 'expanded' stage, in topological
order), `inputs` (expanded-stage nodes it reads), `outputs` (those whose values it produces) and
`syms` (the symbolic sizes its shapes are written in); `kind` is 'dense', 'loop' or 'op'.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from graphc.ir import Node
from graphc.ops import VIEWS
from passes.symbols import Symbols
from passes.views import View, movement_view


def root_ids(inputs, nodes) -> set:
    """ids of the nodes a view inside a kernel rests on: those it reads or computes."""
    return {id(i) for i in inputs} | {id(n) for n in nodes if n.op not in VIEWS}


def view_chain(value, roots: set) -> tuple:
    """(root, view ops from it to `value`): up through view ops to a node in `roots` (ids)."""
    chain = []
    while id(value) not in roots:
        if value.op not in VIEWS:
            raise AssertionError(f"{value!r} is neither computed in nor read by the kernel")
        chain.append(value)
        value = value.inputs[0]
    return value, tuple(reversed(chain))


def buffer_view(value, roots: set, syms: Symbols) -> View:
    """Where each element of `value` lives in the buffer of its root (see view_chain)."""
    root, chain = view_chain(value, roots)
    view = View.contiguous(syms.shape(root))
    for v in chain:
        view = movement_view(v, view, syms)
    return view


@dataclass(frozen=True, eq=False)
class KernelBody:
    """A kernel's sub-graph: inner nodes, the nodes it reads, the nodes it produces."""

    kind: ClassVar[str] = ""
    name: str
    nodes: tuple
    inputs: tuple
    outputs: tuple
    syms: Symbols

    @property
    def ops(self) -> tuple:
        return tuple(n.op for n in self.nodes)

    @property
    def computed_ops(self) -> tuple:
        """The ops that do work (views are read in place and cost nothing)."""
        return tuple(n.op for n in self.nodes if n.op not in VIEWS)

    def root_ids(self) -> set:
        return root_ids(self.inputs, self.nodes)

    def view_root(self, value, roots: set | None = None) -> tuple:
        """(root, view chain) of a value read inside the body: up through view ops from
        `value` to a node the body computes or reads (`roots`: root_ids(), if at hand)."""
        return view_chain(value, self.root_ids() if roots is None else roots)

    def __repr__(self):
        return f"<{self.name}: {' '.join(self.ops) or 'copy'}>"


@dataclass(frozen=True, eq=False, repr=False)
class GemmKernel(KernelBody):
    """A GEMM-based op (`gemm`) with its epilogue: `bias` (the value added, one per output
    column or channel) through `bias_add`, then `activation` (relu, sigmoid or tanh); either
    may be None."""

    kind: ClassVar[str] = "dense"
    gemm: Node
    bias_add: Node | None
    bias: Node | None
    activation: Node | None

    @property
    def activation_name(self) -> str:
        return "linear" if self.activation is None else self.activation.op

    @property
    def operands(self) -> tuple:
        """The values the GEMM reads, in pointer order: A, B, then the bias if any."""
        return tuple(self.gemm.inputs) + (() if self.bias is None else (self.bias,))


@dataclass(frozen=True, eq=False, repr=False)
class DenseKernel(GemmKernel):
    """A matmul (`gemm`) and its epilogue: the GEMM of gemm.py, with a packing workspace.
    `views` are its operands A and B as views of the buffers the kernel reads: contiguous,
    or with the last two axes swapped (fusion copies any other layout first)."""

    views: tuple

    @property
    def transposes(self) -> tuple:
        """(A, B) transposed for the GEMM: the matmul's flags, flipped by transposed views."""
        flags = (self.gemm.attr("transpose_a"), self.gemm.attr("transpose_b"))
        return tuple((not v.is_contiguous) != flag for v, flag in zip(self.views, flags))


@dataclass(frozen=True, eq=False, repr=False)
class ConvKernel(GemmKernel):
    """A forward convolution (`gemm`: conv1d/conv2d, run as one-thread GEMMs over pixel
    blocks that need no workspace) and its epilogue (the bias is one value per channel),
    then, when `pool` is not None, that max pooling of the result (the kernel's output)."""

    pool: Node | None = None


@dataclass(frozen=True, eq=False, repr=False)
class LoopKernel(KernelBody):
    """Fused elementwise ops and reductions over one iteration space `X`, reducing the axes
    `R` (None: no reduction); `space` maps id(node) to 'X' (one value per element of X), 'K'
    (one per kept element) or 'S' (a scalar recomputed inside)."""

    kind: ClassVar[str] = "loop"
    space: dict
    X: tuple
    R: tuple | None


@dataclass(frozen=True, eq=False, repr=False)
class OpKernel(KernelBody):
    """One op (`node`) as a kernel of its own, reading its data inputs contiguously."""

    kind: ClassVar[str] = "op"
    node: Node


@dataclass(frozen=True, eq=False, repr=False)
class RecurrentKernel(OpKernel):
    """A recurrent sequence op or its BPTT op (`node`): `steps` time steps (None when only
    known at run time) of `units` units, `recurrent` being its recurrent kernel input U."""

    recurrent: Node
    steps: int | None
    units: int


__all__ = ["KernelBody", "GemmKernel", "DenseKernel", "ConvKernel", "LoopKernel", "OpKernel",
           "RecurrentKernel"]
