"""What the flash-attention kernels (flash_attention.py, its gradient) share: the sizes of one
node, per-thread tile buffers on the stack, one-thread GEMM calls on tiles (gemm.py: B read in
place, as tiles are at most DIRECT_MAX_ROWS rows, or B^T packed into a stack buffer; never a
barrier), key tiles transposed for the backward's plain GEMMs, which keys of a score row count
(mask and causality, as masked_softmax), and lane folds in halving steps (the row passes fold
one vector per row: an ordered reduction intrinsic would be a 16-add chain)."""

from __future__ import annotations

from llvmlite import ir

from graphc.backends.llvm.emit_attention import mask_row_start
from graphc.backends.llvm.gemm import DIRECT_MAX_ROWS
from graphc.backends.llvm.gemm_library import gemm_function
from graphc.backends.llvm.gemm_variant import declare
from graphc.backends.llvm.irutil import I1, I8, I32, I64, ITEMSIZE, MEM_TYPE, PTR, c64, for_range

BLOCK_QUERIES = 64  # queries per tile: a tile's rows stay in L1 with its score block
BLOCK_KEYS = 64  # keys per tile: 4 vectors of 16 floats, one GEMM panel
TRANSPOSED_BYTES = 1 << 17  # a transposed key tile stays this small (it lives on the stack)
assert BLOCK_QUERIES <= DIRECT_MAX_ROWS and BLOCK_KEYS <= DIRECT_MAX_ROWS


def fold_lanes(b, v, combine):
    """A vector's lanes folded by `combine(b, x, y)` in halving steps (log2 lanes deep, not
    the lane-by-lane chain an ordered reduction intrinsic compiles to)."""
    lanes = v.type.count
    while lanes > 1:
        lanes //= 2
        high = b.shuffle_vector(v, v, ir.Constant(ir.VectorType(I32, lanes), list(range(
            lanes, 2 * lanes))))
        low = b.shuffle_vector(v, v, ir.Constant(ir.VectorType(I32, lanes), list(range(lanes))))
        v = combine(b, low, high)
    return b.extract_element(v, ir.Constant(I32, 0))


def add(b, x, y):
    return b.fadd(x, y)


def larger(b, x, y):
    return b.select(b.fcmp_ordered(">", y, x), y, x)


class FlashTiles:
    """Sizes, buffers and tile helpers of one flash-attention kernel `kb` whose q, k, v (and
    optional bool mask) are `inputs` (nodes) read from `pointers`."""

    def __init__(self, kb, node, inputs, pointers):
        self.kb, self.b, self.dtype = kb, kb.b, node.dtype
        self.q, self.k, self.v = pointers[:3]
        self.mask_node = inputs[3] if len(inputs) == 4 else None
        self.mask = pointers[3] if self.mask_node is not None else None
        self.dk, self.dv = inputs[0].shape[3], inputs[2].shape[3]
        self.scale, self.causal = node.attr("scale"), node.attr("causal")
        self.bq = BLOCK_QUERIES
        widest = max(self.dk, self.dv) * ITEMSIZE[self.dtype]
        self.bk = max(16, min(BLOCK_KEYS, TRANSPOSED_BYTES // widest // 16 * 16))
        batch, heads, self.lq, _ = kb.dims(inputs[0])
        self.lk = kb.dims(inputs[1])[2]
        self.heads = self.b.mul(batch, heads)  # (batch, head) pairs
        self.score_dims = [batch, heads, self.lq, self.lk]
        self.score_shape = (*inputs[0].shape[:3], inputs[1].shape[2])
        self.workspace = self.buffer(16)  # the GEMM's (unused) workspace argument

    def buffer(self, elems: int):
        """A thread's own buffer of `elems` values, on its stack (allocated at kernel entry)."""
        buffer = self.kb.pre.alloca(MEM_TYPE[self.dtype], size=c64(elems))
        buffer.align = 64
        return buffer

    def at(self, ptr, offset):
        return self.b.gep(ptr, [offset], source_etype=MEM_TYPE[self.dtype])

    def rows_of(self, ptr, row, width):
        """The address of row `row` (i64) of a buffer of rows `width` (int) elements long."""
        return self.at(ptr, self.b.mul(row, c64(width)))

    def gemm(self, ta, acc, M, N, K, A, lda, B, ldb, C, ldc, packed_into=None):
        """C (+)= op(A) @ B on this thread alone (M <= DIRECT_MAX_ROWS: B read in place), or
        op(A) @ B^T with B packed into the buffer `packed_into` (K * bk elements)."""
        fn = gemm_function(self.kb.module, self.dtype, ta, packed_into is not None, False,
                           "linear", acc)
        alone = (ir.Constant(I32, 0), ir.Constant(I32, 1))
        sizes = [s if isinstance(s, ir.Value) else c64(s) for s in (M, N, K, lda, ldb, ldc)]
        M, N, K, lda, ldb, ldc = sizes
        workspace = self.workspace if packed_into is None else packed_into
        null = ir.Constant(PTR, None)
        self.b.call(fn, [*alone, M, N, K, A, lda, B, ldb, C, ldc, null, workspace])

    def tiles(self, lo, hi, size: int, body):
        """body(first, count) over [lo, hi) in tiles of at most `size`."""
        b = self.b
        count = b.sdiv(b.add(b.sub(hi, lo), c64(size - 1)), c64(size))

        def tile(t):
            first = b.add(lo, b.mul(t, c64(size)))
            body(first, self.smaller(b.sub(hi, first), c64(size)))

        for_range(b, c64(0), count, tile, name="tile")

    def over_keys(self, keys, body):
        """body(width): the row passes of a key tile of `keys` keys, emitted twice: for a full
        tile with the constant width bk (unrolled, unmasked vectors) and for the last one."""
        with self.b.if_else(self.b.icmp_signed("==", keys, c64(self.bk))) as (full, partial):
            with full:
                body(c64(self.bk))
            with partial:
                body(keys)

    def smaller(self, x, y):
        return self.b.select(self.b.icmp_signed("<", x, y), x, y)

    def transpose(self, src, rows, width: int, dst):
        """dst[c * bk + r] = src[r * width + c] for r < rows, c < width: a key tile as the
        B operand (width x keys) of a plain GEMM."""
        b, kind = self.b, MEM_TYPE[self.dtype]

        def row(r):
            def column(c):
                source = b.gep(src, [b.add(b.mul(r, c64(width)), c)], source_etype=kind)
                value = b.load(source, typ=kind)
                b.store(value, b.gep(dst, [b.add(b.mul(c, c64(self.bk)), r)], source_etype=kind))

            for_range(b, c64(0), c64(width), column, name="col")

        for_range(b, c64(0), rows, row, name="trow")

    def zero(self, ptr, elems):
        """elems (i64) values from ptr set to 0."""
        fn = declare(self.kb.module, "llvm.memset.p0.i64",
                     ir.FunctionType(ir.VoidType(), [PTR, I8, I64, I1]))
        size = self.b.mul(elems, c64(ITEMSIZE[self.dtype]))
        self.b.call(fn, [ptr, ir.Constant(I8, 0), size, ir.Constant(I1, 0)])

    def key_validity(self, rv, head, query, first_key):
        """valid(j): <VL x i1>, where keys first_key + j.. count for `query` of (batch, head)
        pair `head`: the mask and causality (lanes past the tile are for the caller)."""
        b = self.b
        ok = rv.splat(ir.Constant(I1, 1))
        if self.mask is not None:
            row = b.add(b.mul(head, self.lq), query)
            start = mask_row_start(self.kb, self.mask_node, self.score_shape, row,
                                   self.score_dims)
            per_key = not self.mask_node.shape[-1] == 1 != self.score_shape[-1]
            if not per_key:  # one flag for the whole row
                ok = rv.splat(self.kb.load(self.mask, start, "bool"))
            start = b.add(start, first_key)
        in_order = rv.splat(b.sub(query, first_key))  # key j + lane counts when <= query

        def valid(j):
            flags = rv.load_bool(self.mask, start, j) if self.mask is not None and per_key \
                else ok
            if self.causal:
                flags = b.and_(flags, b.icmp_signed("<=", rv.positions(j), in_order))
            return b.and_(flags, rv.in_row(j))

        return valid
