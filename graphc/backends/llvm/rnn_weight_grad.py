"""The recurrent kernel's gradient, dU = sum_t h_{t-1}^T dZ_t (op recurrent_kernel_grad), read
straight from the packed states Y and the BPTT output G.

As one graph-level matmul it needed h_{t-1} and dZ gathered into (batch * time)-row copies,
then a GEMM whose depth is batch * time: the GEMM does not block that depth, so at 200 steps
(12,800 rows) it streamed its B panels from memory for every row tile (8 GFLOP/s, 197 ms of a
~400 ms LSTM step on a busy machine). Here each batch row n is one GEMM of depth T - 1,
h_{0..T-2}[n]^T @ dZ_{1..T-1}[n], reading Y and G in place (rows of one batch row are evenly
strided), accumulated onto dU; the t = 0 term is h0^T @ dZ_0 over the batch. Each thread owns
a range of dU's columns (whole vectors), so the threads never meet, and dU's rows go in
blocks of at most DIRECT_MAX_ROWS, so the GEMM reads B in place and needs no workspace.

The input kernel's gradient, dW = x^T @ dP over the batch * time rows (op
recurrent_input_kernel_grad), reads dP from G in place too (it was a copy of G's slice, one
more pass over two tensors of the sequence's size), in chunks of K_CHUNK rows: a thread's
chunk of G stays in L2 while each block of dW's rows takes it, so G is read from memory once.
"""

from __future__ import annotations

from graphc.backends.llvm.gemm import DIRECT_MAX_ROWS
from graphc.backends.llvm.gemm_variant import VECTOR_LANES
from graphc.backends.llvm.irutil import MEM_TYPE, c64, for_range
from graphc.backends.llvm.rnn_kernels import gemm_alone

K_CHUNK = 256  # rows of G per pass: 256 x a thread's columns stays in L2


def emit_kernel_grad(kb, node):
    """An OpKernel body for recurrent_kernel_grad(h0, Y, G, gates=...)."""
    b, dtype = kb.b, node.dtype
    units, cols = node.shape
    batch, steps = kb.dims(node.inputs[1])[:2]
    widths = (node.inputs[1].shape[2], node.inputs[2].shape[2])
    lo, hi = thread_columns(kb, cols, VECTOR_LANES[dtype])
    with b.if_then(b.icmp_signed("<", lo, hi)):
        for first_row in range(0, units, DIRECT_MAX_ROWS):
            rows = min(DIRECT_MAX_ROWS, units - first_row)
            block = ColumnBlock(kb, dtype, (first_row, rows), (lo, b.sub(hi, lo)), cols)
            block.accumulate(batch, steps, widths)
    return kb.finish()


def thread_columns(kb, cols, lanes):
    """This thread's [lo, hi) of dU's columns, split in whole vectors."""
    b = kb.b
    first, last = kb.split(c64(-(-cols // lanes)))
    clamp = lambda v: b.select(b.icmp_signed("<", v, c64(cols)), v, c64(cols))  # noqa: E731
    return clamp(b.mul(first, c64(lanes))), clamp(b.mul(last, c64(lanes)))


class ColumnBlock:
    """dU[first_row : first_row + rows, lo : lo + width] of one thread, as GEMM calls."""

    def __init__(self, kb, dtype, row_range, col_range, cols):
        self.kb, self.b, self.dtype = kb, kb.b, dtype
        (self.first_row, self.rows), (self.lo, self.width) = row_range, col_range
        self.units, self.cols = kb.node.shape[0], cols

    def at(self, ptr, offset):
        return self.b.gep(ptr, [offset], source_etype=MEM_TYPE[self.dtype])

    def gemm(self, K, A, B, acc):
        """dU block (+)= A^T @ B: A = (pointer to K x units rows, stride), B likewise."""
        C = self.at(self.kb.out, c64(self.first_row * self.cols))
        gemm_alone(self.b, self.dtype, (c64(self.rows), self.width, K),
                   (self.at(A[0], c64(self.first_row)), A[1]), (self.at(B[0], self.lo), B[1]),
                   (self.at(C, self.lo), c64(self.cols)), transpose_a=True, acc=acc)

    def accumulate(self, batch, steps, widths):
        """The t = 0 term over the batch (it also overwrites the block), then one GEMM of
        depth T - 1 per batch row."""
        b = self.b
        h0, Y, G = self.kb.ins
        y_width, g_width = c64(widths[0]), c64(widths[1])
        running = b.icmp_signed(">", steps, c64(0))
        g_row = b.mul(steps, g_width)  # G's stride between batch rows
        self.gemm(b.select(running, batch, c64(0)), (h0, c64(self.units)), (G, g_row), False)
        later = b.select(running, b.sub(steps, c64(1)), c64(0))

        def batch_row(n):
            ys, gs = self.at(Y, b.mul(n, b.mul(steps, y_width))), self.at(G, b.mul(n, g_row))
            self.gemm(later, (ys, y_width), (self.at(gs, g_width), g_width), True)

        for_range(b, c64(0), b.select(b.icmp_signed(">", later, c64(0)), batch, c64(0)),
                  batch_row, name="n")


def emit_input_kernel_grad(kb, node):
    """An OpKernel body for recurrent_input_kernel_grad(x, G, start=..., stop=...)."""
    b, dtype = kb.b, node.dtype
    features, cols = node.shape
    width = node.inputs[1].shape[2]
    batch, steps = kb.dims(node.inputs[1])[:2]
    rows = b.mul(batch, steps)
    x, G = kb.ins
    lo, hi = thread_columns(kb, cols, VECTOR_LANES[dtype])
    blocks = [ColumnBlock(kb, dtype, (first, min(DIRECT_MAX_ROWS, features - first)),
                          (lo, b.sub(hi, lo)), cols)
              for first in range(0, features, DIRECT_MAX_ROWS)]
    dP = blocks[0].at(G, c64(node.attr("start")))

    def chunk(k, acc):
        first = b.mul(k, c64(K_CHUNK))
        left = b.sub(rows, first)
        depth = b.select(b.icmp_signed("<", left, c64(K_CHUNK)), left, c64(K_CHUNK))
        A = (blocks[0].at(x, b.mul(first, c64(features))), c64(features))
        B = (blocks[0].at(dP, b.mul(first, c64(width))), c64(width))
        for block in blocks:
            block.gemm(depth, A, B, acc)

    with b.if_then(b.icmp_signed("<", lo, hi)):
        chunk(c64(0), False)  # overwrites dW (zeros when there are no rows)
        count = b.sdiv(b.add(rows, c64(K_CHUNK - 1)), c64(K_CHUNK))
        for_range(b, c64(1), count, lambda k: chunk(k, True), name="chunk")
    return kb.finish()
