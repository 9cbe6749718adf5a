"""Neural-network ops: matmul (dense kernels over the GEMM of gemm.py, bias and activation in
its epilogue), one_hot, random_uniform (bit-identical to graphc/ops/random.py), size, and the
composites that passes.fuse expands (softmax, log_softmax)."""

from __future__ import annotations

from llvmlite import ir

from graphc.backends.llvm.emit_elementwise import cast
from graphc.backends.llvm.emitters import register
from graphc.backends.llvm.gemm_bf16 import program_gemm
from graphc.backends.llvm.gemm_library import gemm_function
from graphc.backends.llvm.irutil import I32, I64, MEM_TYPE, c64, const, declare_barrier
from graphc.backends.llvm.loop_plan import size_poly
from graphc.ops.random import GOLDEN
from passes.symbols import Poly
from passes.views import View

register("softmax", "expanded")
register("log_softmax", "expanded")


# ---- random_uniform and size (scalars inside fused loops) --------------------------------------


def lowbias32(b, x):
    """Chris Wellons' lowbias32 integer mix on i32 (wrapping), as graphc.ops.random."""
    x = b.xor(x, b.lshr(x, ir.Constant(I32, 16)))
    x = b.mul(x, ir.Constant(I32, 0x7FEB352D))
    x = b.xor(x, b.lshr(x, ir.Constant(I32, 15)))
    x = b.mul(x, ir.Constant(I32, 0x846CA68B))
    return b.xor(x, b.lshr(x, ir.Constant(I32, 16)))


def emit_random_uniform(ctx, node, args):
    b, key = ctx.b, args[0]
    key = b.sext(key, I64) if key.type != I64 else key
    lo, hi = b.trunc(key, I32), b.trunc(b.lshr(key, c64(32)), I32)
    stream = lowbias32(b, b.xor(lo, lowbias32(b, b.add(hi, ir.Constant(I32, GOLDEN)))))
    index = b.trunc(ctx.linear_index(node), I32)
    if len(args) > 1:  # the data inputs are key and an offset (the first number's index)
        index = b.add(index, b.trunc(args[1], I32) if args[1].type != I32 else args[1])
    bits = lowbias32(b, b.xor(lowbias32(b, b.add(index, stream)), stream))
    top = b.uitofp(b.lshr(bits, ir.Constant(I32, 8)), const(node.dtype, 0).type)
    return b.fmul(top, const(node.dtype, 2.0**-24))


def emit_size(ctx, node, args):
    return cast(ctx.b, ctx.param(size_poly(node, ctx.plan.syms)), "int64", node.dtype)


register("random_uniform", "scalar", emit_random_uniform)
register("size", "scalar", emit_size)


# ---- one_hot -------------------------------------------------------------------------------------


def emit_one_hot(kb, node):
    x = node.inputs[0]
    b, depth = kb.b, c64(node.attr("depth"))
    rows = kb.count(kb.dims(x))
    lo, hi = kb.split(rows)

    def row(r):
        k = kb.load(kb.ins[0], r, x.dtype)
        k = b.sext(k, I64) if k.type != I64 else k
        base = b.mul(r, depth)
        kb.loop(c64(0), depth, lambda j: kb.store(
            cast(b, b.icmp_signed("==", k, j), "bool", node.dtype), kb.out, b.add(base, j),
            node.dtype))

    kb.loop(lo, hi, row)
    return kb.finish()


register("one_hot", "kernel", emit_one_hot)


# ---- dense: matmul [+ bias] [+ activation] ------------------------------------------------------


def operand_layout(view):
    """(leading dimension, batch strides) of a GEMM operand's view (DenseKernel.views)."""
    transposed = not view.is_contiguous
    row_stride = view.strides[-1] if transposed else view.strides[-2]
    if row_stride == 0:  # a single row: any leading dimension will do
        row_stride = view.shape[-2] if transposed else view.shape[-1]
    return row_stride, view.strides[:-2]


def emit_dense(kb, body):
    """Every thread calls the GEMM (it splits the work); batched products loop over the batch
    with a barrier between items, since the GEMM's workspace is reused."""
    mm, (ta, tb) = body.gemm, body.transposes
    (lda, a_batch), (ldb, b_batch) = (operand_layout(v) for v in body.views)
    if mm.dtype == "bfloat16":  # vdpbf16ps (or its emulation), float32 accumulation
        fn = program_gemm(kb.module, ta, tb, body.bias is not None, body.activation_name)
    else:
        fn = gemm_function(kb.module, mm.dtype, ta, tb, body.bias is not None,
                           body.activation_name, False)
    dims, a_shape = kb.syms.shape(mm), kb.syms.shape(mm.inputs[0])
    M, N = kb.size(dims[-2]), kb.size(dims[-1])
    K = kb.size(a_shape[-2] if mm.attr("transpose_a") else a_shape[-1])
    bias = kb.ins[2] if body.bias is not None else ir.Constant(kb.ins[0].type, None)

    def call(a, b, c):
        kb.b.call(fn, [kb.tid, kb.nthreads, M, N, K, a, kb.size(lda), b, kb.size(ldb), c, N,
                       bias, kb.ins[-1]])

    if len(dims) == 2:
        call(kb.ins[0], kb.ins[1], kb.out)
    else:
        batched(kb, mm, dims, a_batch, b_batch, call)
    return kb.finish()


def batched(kb, mm, dims, a_batch, b_batch, call):
    """One GEMM per batch item (broadcast batch axes read the same matrix), a barrier after
    each: the next item reuses the workspace."""
    batch, b = dims[:-2], kb.b
    strides = [batch_strides(a_batch, batch, kb.syms), batch_strides(b_batch, batch, kb.syms),
               View.contiguous(dims).strides[:-2]]
    barrier = declare_barrier(kb.module)
    elem = MEM_TYPE[mm.dtype]

    def item(coords):
        ptrs = [b.gep(p, [kb.offset(coords, [kb.size(x) for x in s])], source_etype=elem)
                for p, s in zip((kb.ins[0], kb.ins[1], kb.out), strides)]
        call(*ptrs)
        b.call(barrier, [kb.tid, kb.nthreads])

    kb.nest([kb.size(d) for d in batch], item)


def batch_strides(strides, batch, syms):
    """Strides of an operand's batch axes aligned to the output's (0 where it broadcasts)."""
    lead = len(batch) - len(strides)
    return [Poly.of(0)] * lead + list(strides)


register("matmul", "dense", emit_dense)
