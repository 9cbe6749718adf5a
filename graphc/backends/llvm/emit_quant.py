"""The LLVM kernels of `quantized_matmul` (graphc/ops/quant.py) over this CPU's int8 GEMM
(gemm_int8_path.py: AMX, vpdpbusd or portable), and the row blocks emit_quant_conv.py fills by
im2col.

Each thread takes its share of the rows and works alone, in blocks of at most BLOCK_ROWS rows
that live on its stack: it quantizes a block of x to offset bytes (q + 128) with the rows'
scales (the block is laid out as the AMX GEMM's tile rows: it reads them in place), then runs
the one-thread GEMM on it, whose epilogue dequantizes, adds the bias and applies the
activation straight into the output (float32). A float64 x takes the GEMM's int32 epilogue
into a stack block and dequantizes it in float64 after. Before its first block, each thread
computes 1 / kernel_scale[n] and comp[n] = 128 * sum_k w[k, n] (the GEMM on one row of 128s:
a K x N pass, small beside many rows' K x N each); a float32 thread with fewer than FEW_ROWS
rows skips that pass and runs the vpdpbusd GEMM that sums comp from its own loads of w.
"""

from __future__ import annotations

from llvmlite import ir

from graphc.backends.llvm import vecmath
from graphc.backends.llvm.emitters import register
from graphc.backends.llvm.gemm_amx_int8 import MIN_ROWS, a_rows_bytes
from graphc.backends.llvm.gemm_int8 import define_gemm_int8
from graphc.backends.llvm.gemm_int8_path import define_host_gemm_int8
from graphc.backends.llvm.irutil import I1, I8, I32, PTR, REG_TYPE, c64, intrinsic
from graphc.ops.quant import EPSILON, QMAX, padded_k

BLOCK_BYTES = 1 << 17  # a block's quantized rows (and int32 sums) stay this small
OFFSET = 128  # signed q -> unsigned byte q + 128 (vpdpbusd reads A unsigned)
FEW_ROWS = MIN_ROWS  # fewer rows per thread: vpdpbusd with comp summed alongside (not AMX)
BITS = {"float32": ir.IntType(32), "float64": ir.IntType(64)}


class QuantizedMatmul:
    """One kernel being emitted: its sizes, stack buffers and helpers."""

    def __init__(self, kb, node, K: int):
        self.kb, self.b, self.node = kb, kb.b, node
        self.dtype = node.dtype
        self.T = REG_TYPE[self.dtype]
        self.K, self.N = K, node.shape[-1]  # K: the float rows' length (an im2col row)
        self.Kp = padded_k(self.K)
        self.bias = kb.ins[3] if len(node.inputs) == 4 else ir.Constant(PTR, None)
        self.activation = node.attr("activation") or "linear"
        per_row = max(self.Kp, 4 * self.N if self.dtype == "float64" else 0)
        self.block = max(1, min(96, BLOCK_BYTES // per_row))

    def buffer(self, ty, elems):
        buf = self.kb.pre.alloca(ty, size=c64(elems))
        buf.align = 64
        return buf

    def at(self, ptr, index, ty):
        return self.b.gep(ptr, [index], source_etype=ty)

    def put(self, value, ptr, index):
        """Store `value` at element `index` of ptr; returns nothing (a loop body's result)."""
        self.b.store(value, self.at(ptr, index, value.type))

    def gemm(self, epilogue, M, A, comp, row_scale, col_scale, C):
        """The one-thread GEMM on `M` quantized rows of emit_rows's block A (None: a pointer
        the variant ignores; comp None with 'dequantize': the variant sums comp itself)."""
        own_comp = epilogue == "dequantize" and comp is None
        # many rows: the AMX path reads tiles straight from the block, even a remainder
        fn = define_host_gemm_int8(self.kb.module, epilogue, self.activation,
                                   len(self.node.inputs) == 4, a_padded=True,
                                   own_comp=own_comp, min_rows=1)
        self.call(fn, M, A, comp, row_scale, col_scale, C)

    def call(self, fn, M, A, comp, row_scale, col_scale, C):
        alone = (ir.Constant(I32, 0), ir.Constant(I32, 1))
        terms = [ir.Constant(PTR, None) if p is None else p for p in (comp, row_scale, col_scale)]
        self.b.call(fn, [*alone, M, c64(self.N), c64(self.K), A, c64(self.Kp), self.kb.ins[1],
                         *terms, self.bias, C, c64(self.N)])


def emit_quantized_matmul(kb, node):
    x = node.inputs[0]
    q = QuantizedMatmul(kb, node, x.shape[-1])
    lo, hi = kb.split(kb.count(kb.dims(x)[:-1]))
    emit_rows(q, lo, hi, lambda first, rows: q.at(kb.ins[0], q.b.mul(first, c64(q.K)), q.T))
    return kb.finish()


def emit_rows(q, lo, hi, float_rows):
    """Rows lo..hi of the output, a block at a time: float_rows(first, count) -> a pointer to
    the block's float rows (K apart), which are quantized and multiplied."""
    b, kb = q.b, q.kb
    with b.if_then(b.icmp_signed(">=", lo, hi)):
        b.ret_void()
    # a few rows: the GEMM sums comp from its own loads of the kernel (a pass of its own
    # over the kernel would cost as much as the rows' product)
    few = (b.icmp_signed("<", b.sub(hi, lo), c64(FEW_ROWS)) if q.dtype == "float32"
           else ir.Constant(I1, 0))
    comp, col_scale = column_terms(q, few)
    a_block = q.buffer(I8, a_rows_bytes(q.block, q.Kp))  # quantized straight into GEMM tiles
    row_scale = q.buffer(q.T, q.block)
    sums = q.buffer(I32, q.block * q.N) if q.dtype == "float64" else None
    count = b.sdiv(b.add(b.sub(hi, lo), c64(q.block - 1)), c64(q.block))

    def block(k):
        first = b.add(lo, b.mul(k, c64(q.block)))
        rows = b.sub(hi, first)
        rows = b.select(b.icmp_signed("<", rows, c64(q.block)), rows, c64(q.block))
        x = float_rows(first, rows)
        kb.loop(c64(0), rows, lambda r: quantize_row(
            q, q.at(x, b.mul(r, c64(q.K)), q.T), r, a_block, row_scale))
        out = q.at(kb.out, b.mul(first, c64(q.N)), q.T)
        if sums is None:
            with b.if_else(few) as (alone, shared):
                with alone:
                    q.gemm("dequantize", rows, a_block, None, row_scale, col_scale, out)
                with shared:
                    q.gemm("dequantize", rows, a_block, comp, row_scale, col_scale, out)
        else:
            q.gemm("int32", rows, a_block, None, None, None, sums)
            dequantize_block(q, rows, sums, comp, row_scale, col_scale, out)
    kb.loop(c64(0), count, block, name="block")


def column_terms(q, few):
    """comp[n] (the GEMM of one row of 128s; not computed when `few`) and 1 / kernel_scale[n],
    on this thread's stack."""
    b, kb = q.b, q.kb
    offsets = q.buffer(I8, q.Kp)
    comp = q.buffer(I32, q.N)
    with b.if_then(b.not_(few)):
        # 128 for each real k, 0 on the pad: comp must not count pad rows of the packed kernel
        kb.loop(c64(0), c64(q.Kp), lambda k: q.put(
            b.select(b.icmp_signed("<", k, c64(q.K)), ir.Constant(I8, OFFSET),
                     ir.Constant(I8, 0)), offsets, k))
        q.call(define_gemm_int8(kb.module, "int32"), c64(1), offsets, None, None, None, comp)
    col_scale = q.buffer(q.T, q.N)
    one = ir.Constant(q.T, 1.0)
    kb.loop(c64(0), c64(q.N), lambda n: q.put(
        b.fdiv(one, b.load(q.at(kb.ins[2], n, q.T), typ=q.T)), col_scale, n))
    return comp, col_scale


def quantize_row(q, x, slot, a_block, row_scale):
    """The K floats at x into slot `slot` of the block: q + 128 bytes, and 1 / s."""
    b, kb, T = q.b, q.kb, q.T
    s = static_scale(q)
    if s is None:
        s = b.fdiv(ir.Constant(T, float(QMAX)), b.fadd(abs_max(q, x), ir.Constant(T, EPSILON)))
    b.store(b.fdiv(ir.Constant(T, 1.0), s), q.at(row_scale, slot, T))
    dst = q.at(a_block, b.mul(slot, c64(q.Kp)), I8)
    roundeven = intrinsic(kb.module, "llvm.roundeven", T, 1)

    def element(k):
        v = b.call(roundeven, [b.fmul(b.load(q.at(x, k, T), typ=T), s)])
        v = b.select(b.fcmp_ordered(">", v, ir.Constant(T, QMAX)), ir.Constant(T, QMAX), v)
        v = b.select(b.fcmp_ordered("<", v, ir.Constant(T, -QMAX)), ir.Constant(T, -QMAX), v)
        byte = b.add(b.fptosi(v, I32), ir.Constant(I32, OFFSET))
        q.put(b.trunc(byte, I8), dst, k)
    kb.loop(c64(0), c64(q.K), element, name="k")
    # zero pad bytes: the pad rows of the packed kernel then add nothing, whatever they hold
    kb.loop(c64(q.K), c64(q.Kp), lambda k: q.put(ir.Constant(I8, 0), dst, k))


def static_scale(q):
    value = q.node.attr("input_scale")
    return None if value is None else ir.Constant(q.T, float(value))


def abs_max(q, x):
    """max_k |x[k]|: the unsigned maximum of the sign-cleared bit patterns, which orders
    non-negative floats as their values (a NaN ranks above inf and comes out NaN, as np.max)."""
    b, ity = q.b, BITS[q.dtype]
    magnitude = ir.Constant(ity, (1 << (ity.width - 1)) - 1)

    def element(k, best):
        bits = b.and_(b.load(q.at(x, k, ity), typ=ity), magnitude)
        return [b.select(b.icmp_unsigned(">", bits, best), bits, best)]
    (best,) = q.kb.loop(c64(0), c64(q.K), element, [ir.Constant(ity, 0)], name="amax")
    return b.bitcast(best, q.T)


def dequantize_block(q, rows, sums, comp, row_scale, col_scale, out):
    """float64: out = act(f(sum - comp) * (row_scale * col_scale) + bias), the GEMM epilogue's
    steps in float64."""
    b, kb, T = q.b, q.kb, q.T

    def row(r):
        rs = b.load(q.at(row_scale, r, T), typ=T)

        def column(n):
            i = b.add(b.mul(r, c64(q.N)), n)
            acc = b.sub(b.load(q.at(sums, i, I32), typ=I32), b.load(q.at(comp, n, I32), typ=I32))
            v = b.fmul(b.sitofp(acc, T), b.fmul(rs, b.load(q.at(col_scale, n, T), typ=T)))
            if len(q.node.inputs) == 4:
                v = b.fadd(v, b.load(q.at(q.bias, n, T), typ=T))
            q.put(vecmath.emit_activation(b, q.activation, v), out, i)
        kb.loop(c64(0), c64(q.N), column, name="n")
    kb.loop(c64(0), rows, row, name="r")


register("quantized_matmul", "kernel", emit_quantized_matmul)
