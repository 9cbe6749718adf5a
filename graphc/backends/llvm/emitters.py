"""THE emitter table of the LLVM backend: one entry per op of graphc.ops.OPS, keyed by op name.

Kinds of entry:
  'scalar'   fn(ctx, node, args) -> ir.Value: one element, inside a fused loop (elementwise ops,
             random_uniform, size). `ctx.b` is the IRBuilder; `ctx.param(poly)` an i64 run-time
             size; `ctx.linear_index(node)` the element's row-major index in `node`.
  'reduce'   a Reducer (identity, combine, finalize): sum/mean/max/min inside fused loops.
  'view'     no code: a strided view of the input (passes.views.movement_view).
  'kernel'   fn(kb, node): a whole kernel of its own (opaque ops: gathers, conv gradients);
             kb is an OpKernelBuilder (graphc.backends.llvm.op_kernel).
  'dense'    fn(kb, body): matmul, conv1d, conv2d, from a DenseKernel / ConvKernel body
             (passes.kernels: gemm, bias, activation) on the GEMM (graphc.backends.llvm.gemm),
             its bias add and activation in the epilogue.
  'recurrent' fn(kb, body): a recurrent sequence op or its BPTT op, from its RecurrentKernel
             body (passes.kernels: steps, units), as one SPMD time loop.
  'expanded' rewritten into other ops by passes.expand.expand_composites (the 'expanded' stage).
The family modules (emit_elementwise, emit_reduce, emit_movement, emit_nn, emit_conv,
emit_conv_grad, emit_pool, emit_recurrent) fill the table when this module is imported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

KINDS = ("scalar", "reduce", "view", "kernel", "dense", "recurrent", "expanded")


@dataclass(frozen=True)
class Emitter:
    op: str
    kind: str
    fn: Callable | None = None


EMITTERS: dict[str, Emitter] = {}


def register(op: str, kind: str, fn=None) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown emitter kind {kind!r} for {op!r}")
    if op in EMITTERS:
        raise ValueError(f"op {op!r} has two LLVM emitters")
    EMITTERS[op] = Emitter(op, kind, fn)


def emitter(op: str, kind: str):
    """Decorator form of `register`."""

    def wrap(fn):
        register(op, kind, fn)
        return fn

    return wrap


def emitter_for(node, kind: str | None = None) -> Emitter:
    """The node's emitter, or NotImplementedError naming the op and where it was built."""
    found = EMITTERS.get(node.op)
    if found is None or (kind is not None and found.kind != kind):
        what = "has no LLVM emitter" if found is None else \
            f"has a {found.kind!r} emitter where a {kind!r} one is needed"
        raise NotImplementedError(
            f"llvm backend: op {node.op!r} {what} (node {tuple(node.shape)} {node.dtype} built "
            f"at {node.site}); use backend='numpy' for it")
    return found


# Fill the table (imported for their registrations).
from graphc.backends.llvm import emit_elementwise, emit_movement, emit_nn, emit_reduce  # noqa: E402,F401,I001
from graphc.backends.llvm import emit_conv, emit_conv_grad, emit_pool, emit_recurrent  # noqa: E402,F401,I001
from graphc.backends.llvm import emit_attention, emit_normalization  # noqa: E402,F401,I001
from graphc.backends.llvm import emit_conv_family  # noqa: E402,F401,I001
from graphc.backends.llvm import emit_quant, emit_quant_conv  # noqa: E402,F401,I001
from graphc.backends.llvm import flash_attention, flash_attention_grad  # noqa: E402,F401,I001
