"""The flash_attention kernel (graphc/ops/flash_attention.py). Work items are (batch*head, query
tile) pairs, split between the threads. An item walks the key tiles (with `causal`, only those
at or before its last query): S = Q_i K_j^T as a one-thread GEMM (K_j packed into a stack
buffer) into a (queries x keys) block on the stack, then per query row the online softmax
(scale, mask, the running maximum and sum, exponentials written back over S, the context row
rescaled when the maximum grows), then
O_i += P V_j, a GEMM that accumulates straight into the packed output. At the end each row is
divided by its sum and the logsumexp stored in the last slot (a row that no key counts for
gets the mean of all values and log(Lk), as Keras's -1e9 scores give). The (Lq, Lk) scores are never
held: a thread's memory is one block."""

from __future__ import annotations

from llvmlite import ir

from graphc.backends.llvm import vecmath
from graphc.backends.llvm.emitters import register
from graphc.backends.llvm.flash_tiles import FlashTiles, add, fold_lanes, larger
from graphc.backends.llvm.irutil import REG_TYPE, c64
from graphc.backends.llvm.row_vectors import RowVectors


class FlashForward:
    """One kernel's items; buffers: the score block, a transposed key tile, the rows' running
    maxima and sums."""

    def __init__(self, kb, node):
        self.kb, self.b = kb, kb.b
        self.t = t = FlashTiles(kb, node, node.inputs, kb.ins)
        self.width = t.dv + 1  # a packed output row: context, logsumexp
        self.scores, self.keys_t = t.buffer(t.bq * t.bk), t.buffer(t.dk * t.bk)
        self.top, self.total = t.buffer(t.bq), t.buffer(t.bq)
        self.scalar = REG_TYPE[node.dtype]
        self.context = RowVectors(kb, node.dtype, c64(t.dv))

    def item(self, item, query_tiles):
        b, t = self.b, self.t
        head = b.sdiv(item, query_tiles)
        first = b.mul(b.srem(item, query_tiles), c64(t.bq))
        rows = t.smaller(b.sub(t.lq, first), c64(t.bq))
        q_rows = t.rows_of(t.q, b.add(b.mul(head, t.lq), first), t.dk)
        out_rows = t.rows_of(self.kb.out, b.add(b.mul(head, t.lq), first), self.width)
        t.zero(out_rows, b.mul(rows, c64(self.width)))

        def start(r):
            self.kb.store(self.constant(float("-inf")), self.top, r, t.dtype)
            self.kb.store(self.constant(0.0), self.total, r, t.dtype)

        self.kb.loop(c64(0), rows, start, name="init")
        keys_end = t.smaller(t.lk, b.add(first, rows)) if t.causal else t.lk

        def key_tile(key, keys):
            self.key_tile(head, first, rows, q_rows, out_rows, key, keys)

        t.tiles(c64(0), keys_end, t.bk, key_tile)
        self.kb.loop(c64(0), rows, lambda r: self.finish_row(head, out_rows, r), name="finish")

    def key_tile(self, head, first, rows, q_rows, out_rows, key, keys):
        b, t = self.b, self.t
        tile = b.add(b.mul(head, t.lk), key)
        t.gemm(False, False, rows, keys, t.dk, q_rows, t.dk, t.rows_of(t.k, tile, t.dk), t.dk,
               self.scores, t.bk, packed_into=self.keys_t)
        t.over_keys(keys, lambda width: self.kb.loop(
            c64(0), rows, lambda r: self.online_row(head, first, r, key, width, out_rows),
            name="row"))
        t.gemm(False, True, rows, t.dv, keys, self.scores, t.bk, t.rows_of(t.v, tile, t.dv), t.dv,
               out_rows, self.width)

    def online_row(self, head, first, r, key, keys, out_rows):
        """Row r of the block: p = exp(scale s - new max) where keys count (0 elsewhere) over
        the scores, the running sum and context rescaled by exp(old max - new max)."""
        b, t = self.b, self.t
        rv, start = RowVectors(self.kb, t.dtype, keys), b.mul(r, c64(t.bk))
        valid = t.key_validity(rv, head, b.add(first, r), key)
        scale, never = rv.constant(t.scale), rv.constant(float("-inf"))

        def score(j):
            return b.select(valid(j), b.fmul(rv.load(self.scores, start, j), scale), never)

        def bigger(j, m):
            s = score(j)
            return [b.select(b.fcmp_ordered(">", s, m), s, m)]

        old = self.kb.load(self.top, r, t.dtype)
        new = larger(b, old, fold_lanes(b, rv.loop(bigger, [never], name="max")[0], larger))
        safe = b.select(b.fcmp_ordered("==", new, self.constant(float("-inf"))),
                        self.constant(0.0), new)

        def exponentials(j, total):
            e = b.select(valid(j), vecmath.emit_exp(b, b.fsub(score(j), rv.splat(safe))),
                         rv.constant(0.0))
            rv.store(e, self.scores, start, j)
            return [b.fadd(total, e)]

        added = fold_lanes(b, rv.loop(exponentials, [rv.constant(0.0)], name="exp")[0], add)
        factor = vecmath.emit_exp(b, b.fsub(old, safe))
        total = b.fadd(b.fmul(self.kb.load(self.total, r, t.dtype), factor), added)
        self.kb.store(total, self.total, r, t.dtype)
        self.kb.store(new, self.top, r, t.dtype)
        self.rescale(out_rows, r, factor)

    def finish_row(self, head, out_rows, r):
        """context / sum and logsumexp = max + log(sum); for a row with no key (only a mask
        makes one) every score counts as 0: the mean of all Lk values and log(Lk)."""
        b, t = self.b, self.t
        total = self.kb.load(self.total, r, t.dtype)
        some = b.fcmp_ordered(">", total, self.constant(0.0))
        self.rescale(out_rows, r, b.select(some, b.fdiv(self.constant(1.0), total),
                                           self.constant(0.0)))
        lse = b.fadd(self.kb.load(self.top, r, t.dtype), vecmath.emit_log(b, total))
        keys = b.sitofp(t.lk, self.scalar)
        slot = b.add(b.mul(r, c64(self.width)), c64(t.dv))
        self.kb.store(b.select(some, lse, vecmath.emit_log(b, keys)), out_rows, slot, t.dtype)
        if t.mask is not None:
            with b.if_then(b.not_(some)):
                self.add_mean_value(head, out_rows, r, b.fdiv(self.constant(1.0), keys))

    def add_mean_value(self, head, out_rows, r, inverse):
        """The context part of packed output row r (zeros) += the mean of the head's values."""
        b, t, rv = self.b, self.t, self.context
        start, weight = b.mul(r, c64(self.width)), rv.splat(inverse)

        def key(n):
            value = t.rows_of(t.v, b.add(b.mul(head, t.lk), n), t.dv)
            rv.loop(lambda j: rv.store(b.fadd(rv.load(out_rows, start, j), b.fmul(
                rv.load(value, c64(0), j), weight)), out_rows, start, j), name="mean")

        self.kb.loop(c64(0), t.lk, key, name="key")

    def rescale(self, out_rows, r, factor):
        """The context part of packed output row r times `factor`."""
        b, rv, start = self.b, self.context, self.b.mul(r, c64(self.width))
        splat = rv.splat(factor)
        rv.loop(lambda j: rv.store(b.fmul(rv.load(out_rows, start, j), splat), out_rows,
                                   start, j), name="rescale")

    def constant(self, value):
        return ir.Constant(self.scalar, value)


def emit_flash_attention(kb, node):
    forward = FlashForward(kb, node)
    b, t = kb.b, forward.t
    query_tiles = b.sdiv(b.add(t.lq, c64(t.bq - 1)), c64(t.bq))
    lo, hi = kb.split(b.mul(t.heads, query_tiles))
    kb.loop(lo, hi, lambda item: forward.item(item, query_tiles), name="item")
    return kb.finish()


register("flash_attention", "kernel", emit_flash_attention)
