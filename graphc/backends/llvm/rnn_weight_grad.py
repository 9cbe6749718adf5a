"""The recurrent kernel's gradient, dU = sum_t h_{t-1}^T dZ_t (op recurrent_kernel_grad), read
straight from the packed states Y and the BPTT output G.

As one graph-level matmul it needed h_{t-1} and dZ gathered into (batch * time)-row copies,
then a GEMM whose depth is batch * time: the GEMM does not block that depth, so at 200 steps
(12,800 rows) it streamed its B panels from memory for every row tile (8 GFLOP/s, 197 ms of a
~400 ms LSTM step on a busy machine). Here Y's and G's rows are read in place: h0^T @ dZ_0
over the batch, then per batch row n the GEMM Y[n, :T-1]^T @ G[n, 1:] in chunks of K_CHUNK
rows. (A flat GEMM over all rows, less the pairs across batch rows, was ~10% faster but turns
an unused inf or large last state into NaN or lost digits: inf - inf.) Each thread owns a
range of dU's columns (whole vectors), so the threads never meet, and dU's rows go in
blocks of at most DIRECT_MAX_ROWS, so the GEMM reads B in place and needs no workspace.

The input kernel's gradient, dW = x^T @ dP over the batch * time rows (op
recurrent_input_kernel_grad), reads dP from G in place too (it was a copy of G's slice, one
more pass over two tensors of the sequence's size, then a GEMM 12,800 deep at 200 steps), in
chunks of K_CHUNK rows that every block of dW's rows takes while they are in cache. With
bias=True its last row is the bias gradient, the sum of dP's rows: each thread adds each chunk's
rows of its own columns while the chunk is in cache (in row order, so the sum does not depend
on the thread count).
"""

from __future__ import annotations

from graphc.backends.llvm.gemm import DIRECT_MAX_ROWS
from graphc.backends.llvm.gemm_variant import VECTOR_LANES
from graphc.backends.llvm.irutil import MEM_TYPE, c64, ceil_div, const, for_range, load, smin, store
from graphc.backends.llvm.rnn_kernels import gemm_alone

K_CHUNK = 64  # rows per GEMM call: their pages (rows are ~3 KB apart) fit the L1 TLB


def emit_kernel_grad(kb, node):
    """An OpKernel body for recurrent_kernel_grad(h0, Y, G, gates=...)."""
    b, dtype = kb.b, node.dtype
    batch, steps = kb.dims(node.inputs[1])[:2]
    widths = (node.inputs[1].shape[2], node.inputs[2].shape[2])
    lo, hi = thread_columns(kb, node.shape[1], VECTOR_LANES[dtype])
    blocks = row_blocks(kb, lo, hi)
    _, Y, G = kb.ins
    y_width, g_width = c64(widths[0]), c64(widths[1])
    depth = b.select(b.icmp_signed(">", steps, c64(1)), b.sub(steps, c64(1)), c64(0))

    def sample(n):  # dU += Y[n, :T-1]^T @ G[n, 1:]: never a pair across batch rows
        first_row = b.mul(n, steps)
        chunked(b, blocks, depth, lambda first: (
            (blocks[0].at(Y, b.mul(b.add(first_row, first), y_width)), y_width),
            (blocks[0].at(G, b.mul(b.add(b.add(first_row, first), c64(1)), g_width)), g_width)))

    with b.if_then(b.icmp_signed("<", lo, hi)):
        for block in blocks:
            block.step_zero_term(batch, steps, widths[1])
        for_range(b, c64(0), batch, sample, name="sample")
    return kb.finish()


def row_blocks(kb, lo, hi, rows=None):
    """The ColumnBlocks of this thread's columns [lo, hi), DIRECT_MAX_ROWS rows of dU each
    (of the output's first `rows` rows: all by default)."""
    rows, cols = rows or kb.node.shape[0], kb.node.shape[1]
    return [ColumnBlock(kb, kb.node.dtype, (first, min(DIRECT_MAX_ROWS, rows - first)),
                        (lo, kb.b.sub(hi, lo)), cols)
            for first in range(0, rows, DIRECT_MAX_ROWS)]


def chunked(b, blocks, depth, operands, acc_first=True, then=None):
    """Each block (+)= A^T @ B over `depth` rows in chunks of K_CHUNK, every block taking a
    chunk while it is in cache; operands(first row) = (A, B) at that row; then(first, rows)
    after each chunk's GEMMs."""

    def chunk(k, acc):
        first = b.mul(k, c64(K_CHUNK))
        left = b.sub(depth, first)
        rows = smin(b, left, c64(K_CHUNK))
        A, B = operands(first)
        for block in blocks:
            block.gemm(rows, A, B, acc)
        if then is not None:
            then(first, rows)

    start = 0 if acc_first else 1
    if not acc_first:
        chunk(c64(0), False)  # overwrites the blocks (zeros when depth is 0)
    count = ceil_div(b, depth, c64(K_CHUNK))
    for_range(b, c64(start), count, lambda k: chunk(k, True), name="chunk")


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

    def step_zero_term(self, batch, steps, g_width):
        """The block = h0^T @ dZ_0 over the batch rows (zeros when there are no steps)."""
        b = self.b
        h0, _, G = self.kb.ins
        g_row = b.mul(steps, c64(g_width))
        rows = b.select(b.icmp_signed(">", steps, c64(0)), batch, c64(0))
        self.gemm(rows, (h0, c64(self.units)), (G, g_row), False)


def emit_input_kernel_grad(kb, node):
    """An OpKernel body for recurrent_input_kernel_grad(x, G, start=..., stop=..., bias=...)."""
    b = kb.b
    features = node.inputs[0].shape[1]
    width = c64(node.inputs[1].shape[2])
    batch, steps = kb.dims(node.inputs[1])[:2]
    x, G = kb.ins
    lo, hi = thread_columns(kb, node.shape[1], VECTOR_LANES[node.dtype])
    blocks = row_blocks(kb, lo, hi, features)
    dP = blocks[0].at(G, c64(node.attr("start")))
    bias = BiasRow(kb, dP, width, (lo, hi)) if node.attr("bias") else None
    with b.if_then(b.icmp_signed("<", lo, hi)):
        if bias is not None:
            bias.zero()
        chunked(b, blocks, b.mul(batch, steps), lambda first: (
            (blocks[0].at(x, b.mul(first, c64(features))), c64(features)),
            (blocks[0].at(dP, b.mul(first, width)), width)), acc_first=False,
            then=None if bias is None else bias.add_rows)
    return kb.finish()


class BiasRow:
    """The output's last row, columns [lo, hi) of this thread: the sum of dP's rows."""

    def __init__(self, kb, dP, width, columns):
        self.b, self.dtype, self.dP, self.width = kb.b, kb.node.dtype, dP, width
        self.lo, self.hi = columns
        self.row = kb.b.gep(kb.out, [c64((kb.node.shape[0] - 1) * kb.node.shape[1])],
                            source_etype=MEM_TYPE[self.dtype])

    def columns(self, body):
        for_range(self.b, self.lo, self.hi, body, name="j")

    def zero(self):
        self.columns(lambda j: store(self.b, const(self.dtype, 0), self.row, j, self.dtype))

    def add_rows(self, first, rows):
        """row += dP[first + r] for the chunk's rows r, in order."""
        b = self.b

        def add(r):
            at = b.mul(b.add(first, r), self.width)
            self.columns(lambda j: store(b, b.fadd(load(b, self.row, j, self.dtype),
                                                   load(b, self.dP, b.add(at, j), self.dtype)),
                                         self.row, j, self.dtype))

        for_range(b, c64(0), rows, add, name="r")
