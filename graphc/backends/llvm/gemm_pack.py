"""Packing for the GEMM (gemm.py): op(B)'s columns j0..j0+ncols into zero-padded panels of whole
vectors (B^T is transposed VL x VL blocks at a time in registers); blocks of op(A) = A^T (rows
m0..m1, k rows k_lo..k_hi) into MR-row panels on the calling thread's stack."""

from __future__ import annotations

from llvmlite import ir

from graphc.backends.llvm.gemm_variant import GemmVariant, counted_loop
from graphc.backends.llvm.irutil import I32, I64, PTR, c64, smin

# A packed block of A^T holds at most A_BLOCK_K k rows of A_BLOCK_ELEMS // A_BLOCK_K (or more,
# when K is shorter) rows of op(A): a constant-size stack buffer (workspaces never depend on the
# thread count), in L2 while every panel of the thread's columns reads it.
A_BLOCK_K = 256
A_BLOCK_ELEMS = 128 * A_BLOCK_K
# Packing pays when at least this many of C's columns (per thread) read the block: one thread,
# A^T 96x128 times B 128xN: N=128 70% -> 84% of peak, N=64 81% -> 70%, 9x128x32 25% -> 20%.
PACK_A_MIN_COLUMNS = 128


def define_pack(g: GemmVariant) -> ir.Function:
    """pack(B, ldb, K, j0, ncols, nvp, dst): columns j0..j0+ncols of op(B) into dst, row
    stride nvp*VL, zero-padded (shared by all variants with this dtype and transpose_b)."""
    fn, b = pack_function(g, f"graphc_gemm_pack_{g.tname()}_{'t' if g.tb else 'n'}",
                          ["B", "ldb", "K", "j0", "ncols", "nvp", "dst"])
    if b is None:
        return fn
    B, ldb, K, j0, ncols, nvp, dst = fn.args
    stride = b.mul(nvp, c64(g.vl))
    if g.tb:
        pack_transposed(g, b, B, ldb, K, j0, ncols, stride, dst)
    else:
        pack_rows(g, b, B, ldb, K, j0, ncols, nvp, stride, dst)
    b.ret_void()
    return fn


def pack_function(g: GemmVariant, name: str, arg_names: list):
    """An internal function (src, five i64, dst) of g's module and a builder at its entry; the
    builder is None when an earlier variant defined it already (variants share packing)."""
    existing = g.module.globals.get(name)
    if existing is not None:
        return existing, None
    fn, b = g.function(name, [PTR, I64, I64, I64, I64, I64, PTR], arg_names)
    fn.linkage = "internal"
    return fn, b


def pack_rows(g, b, B, ldb, K, j0, ncols, nvp, stride, dst):
    def row(b, k):
        src = g.gep(b, B, b.add(b.mul(k, ldb), j0))
        out = g.gep(b, dst, b.mul(k, stride))

        def vec(b, v):
            col = b.mul(v, c64(g.vl))
            x = g.masked_load(b, g.gep(b, src, col), g.lane_mask(b, col, ncols))
            b.store(x, g.gep(b, out, col), align=64)
        counted_loop(b, c64(0), nvp, c64(1), vec, "pv")
    counted_loop(b, c64(0), K, c64(1), row, "pk")


def pack_transposed(g, b, B, ldb, K, j0, ncols, stride, dst):
    """op(B)[k, j] = B[j, k]: VL x VL blocks are transposed in registers; the k tail and
    the partial/padding columns are copied one element at a time."""
    vl = g.vl
    k_full = b.and_(K, c64(-vl))
    j_full = b.and_(ncols, c64(-vl))

    def column_block(b, jb):
        def k_block(b, kb):
            rows = [b.load(g.gep(b, B, b.add(b.mul(b.add(j0, b.add(jb, c64(i))), ldb), kb)),
                           typ=g.V, align=g.align)
                    for i in range(vl)]
            for i, vec in enumerate(transpose_registers(b, rows)):
                out = b.add(b.mul(b.add(kb, c64(i)), stride), jb)
                b.store(vec, g.gep(b, dst, out), align=64)
        counted_loop(b, c64(0), k_full, c64(vl), k_block, "tkb")
    counted_loop(b, c64(0), j_full, c64(vl), column_block, "tjb")
    pack_elements(g, b, B, ldb, j0, ncols, stride, dst, c64(0), stride, k_full, K)
    pack_elements(g, b, B, ldb, j0, ncols, stride, dst, j_full, stride, c64(0), k_full)


def transpose_registers(b, rows):
    """Transpose VL vectors of VL lanes: log2(VL) rounds of full-width interleaves."""
    n = len(rows)
    lo = ir.Constant(ir.VectorType(I32, n), [x for i in range(n // 2) for x in (i, i + n)])
    hi = ir.Constant(ir.VectorType(I32, n), [x for i in range(n // 2, n) for x in (i, i + n)])
    for _ in range(n.bit_length() - 1):
        rows = [vec for i in range(n // 2)
                for vec in (b.shuffle_vector(rows[i], rows[i + n // 2], lo),
                            b.shuffle_vector(rows[i], rows[i + n // 2], hi))]
    return rows


def pack_elements(g, b, B, ldb, j0, ncols, stride, dst, j_lo, j_hi, k_lo, k_hi):
    zero = ir.Constant(g.T, 0.0)

    def column(b, j):
        valid = b.icmp_signed("<", j, ncols)
        # padding columns (j >= ncols) must not read past B: they re-read column j0
        src_row = g.gep(b, B, b.mul(b.select(valid, b.add(j0, j), j0), ldb))

        def elem(b, k):
            x = b.load(g.gep(b, src_row, k), typ=g.T)
            b.store(b.select(valid, x, zero), g.gep(b, dst, b.add(b.mul(k, stride), j)))
        counted_loop(b, k_lo, k_hi, c64(1), elem, "tk")
    counted_loop(b, j_lo, j_hi, c64(1), column, "tj")


def define_pack_a(g: GemmVariant) -> ir.Function:
    """pack_a(A, lda, k_lo, k_hi, m0, m1, dst): rows m0..m1 of op(A) = A^T, k rows k_lo..k_hi,
    into dst as MR-row panels (panel p at p*MR*(k_hi-k_lo), element (r, k) at (k-k_lo)*MR + r;
    the last panel's rows past m1 repeat row m1-1)."""
    mr = g.plan.mr
    fn, b = pack_function(g, f"graphc_gemm_pack_a_{g.tname()}_{mr}",
                          ["A", "lda", "k_lo", "k_hi", "m0", "m1", "dst"])
    if b is None:
        return fn
    A, lda, k_lo, k_hi, m0, m1, dst = fn.args
    panel_elems = b.mul(b.sub(k_hi, k_lo), c64(mr))
    rows = b.sub(m1, m0)
    full = b.sdiv(rows, c64(mr))
    row_vector = ir.VectorType(g.T, mr)

    def k_row(b, k):
        src = g.gep(b, A, b.add(b.mul(k, lda), m0))
        out = g.gep(b, dst, b.mul(b.sub(k, k_lo), c64(mr)))

        def panel(b, p):  # MR consecutive elements of A's row k: one small vector copy
            x = b.load(g.gep(b, src, b.mul(p, c64(mr))), typ=row_vector, align=g.align)
            b.store(x, g.gep(b, out, b.mul(p, panel_elems)), align=g.align)
        counted_loop(b, c64(0), full, c64(1), panel, "pa")
        with b.if_then(b.icmp_signed("<", b.mul(full, c64(mr)), rows)):
            last = g.gep(b, out, b.mul(full, panel_elems))
            for r in range(mr):
                row = b.add(b.mul(full, c64(mr)), c64(r))
                row = smin(b, row, b.sub(rows, c64(1)))
                b.store(b.load(g.gep(b, src, row), typ=g.T), g.gep(b, last, c64(r)))
    counted_loop(b, k_lo, k_hi, c64(1), k_row, "ka")
    b.ret_void()
    return fn
