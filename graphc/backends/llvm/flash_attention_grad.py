"""The flash_attention_grad kernel (graphc/ops/flash_attention.py): each thread owns whole
(batch, head) pairs, so dQ, dK and dV accumulate in the output with no atomics. For a pair it
walks the key tiles (K_j and V_j transposed once per tile) and, inside, the query tiles that
can see them (with `causal`, those at or after the tile's first key):
  S = Q_i K_j^T; P = exp(scale S - lse) where keys count, 0 elsewhere (the saved logsumexp);
  dV_j += P^T dO_i; dP = dO_i V_j^T; dS = scale P (dP - D) with D = rowsum(dO * O) - g_lse;
  dQ_i += dS K_j; dK_j += dS^T Q_i
five one-thread GEMMs on blocks of the thread's stack; the (Lq, Lk) scores are never held.
With a mask, a query that no key counts for (uniform weights, Keras's rule) adds dO / Lk to
every dV row afterwards."""

from __future__ import annotations

from llvmlite import ir

from graphc.backends.llvm import vecmath
from graphc.backends.llvm.emitters import register
from graphc.backends.llvm.flash_tiles import FlashTiles, add, fold_lanes
from graphc.backends.llvm.irutil import I1, c64
from graphc.backends.llvm.row_vectors import RowVectors


class FlashBackward:
    """One kernel's (batch, head) pairs; buffers: the P and dS blocks, transposed K_j and V_j,
    the query rows' D."""

    def __init__(self, kb, node):
        self.kb, self.b = kb, kb.b
        self.g, self.out = kb.ins[0], kb.ins[4]
        inputs = list(node.inputs[1:4]) + list(node.inputs[5:])  # q, k, v[, mask]
        self.t = t = FlashTiles(kb, node, inputs, kb.ins[1:4] + kb.ins[5:])
        self.width = t.dv + 1  # a packed output row: context, logsumexp
        self.p, self.dp = t.buffer(t.bq * t.bk), t.buffer(t.bq * t.bk)
        self.keys_t, self.values_t = t.buffer(t.dk * t.bk), t.buffer(t.dv * t.bk)
        self.delta = t.buffer(t.bq)
        self.packed = RowVectors(kb, node.dtype, c64(t.dv))

    def head(self, head):
        b, t = self.b, self.t
        size = b.add(b.mul(t.lq, c64(t.dk)), b.mul(t.lk, c64(t.dk + t.dv)))
        dq = t.at(self.kb.out, b.mul(head, size))
        dk = t.at(dq, b.mul(t.lq, c64(t.dk)))
        dv = t.at(dk, b.mul(t.lk, c64(t.dk)))
        t.zero(dq, size)
        t.tiles(c64(0), t.lk, t.bk, lambda key, keys: self.key_tile(head, key, keys, dq, dk, dv))
        if t.mask is not None:  # only a mask leaves a query with no key
            self.kb.loop(c64(0), t.lq, lambda r: self.keyless_row(head, r, dv), name="keyless")

    def keyless_row(self, head, r, dv):
        """A query that no key counts for weighs every value 1/Lk whatever its scores: dO / Lk
        into every dV row (its P and dS in the tiles are 0)."""
        b, t, kb = self.b, self.t, self.kb
        keys = RowVectors(kb, t.dtype, t.lk)
        valid = t.key_validity(keys, head, r, c64(0))
        none = keys.splat(ir.Constant(I1, 0))
        seen = keys.loop(lambda j, seen: [b.or_(seen, valid(j))], [none], name="live")[0]
        lanes = ir.IntType(keys.vl)
        dead = b.icmp_unsigned("==", b.bitcast(seen, lanes), ir.Constant(lanes, 0))
        with b.if_then(dead):
            rv, packed = self.packed, b.mul(b.add(b.mul(head, t.lq), r), c64(self.width))
            weight = rv.splat(b.fdiv(ir.Constant(rv.V.element, 1.0),
                                     b.sitofp(t.lk, rv.V.element)))

            def key(n):
                row = b.mul(n, c64(t.dv))
                rv.loop(lambda j: rv.store(b.fadd(rv.load(dv, row, j), b.fmul(
                    rv.load(self.g, packed, j), weight)), dv, row, j), name="dv")

            kb.loop(c64(0), t.lk, key, name="key")

    def key_tile(self, head, key, keys, dq, dk, dv):
        b, t = self.b, self.t
        tile = b.add(b.mul(head, t.lk), key)
        t.transpose(t.rows_of(t.k, tile, t.dk), keys, t.dk, self.keys_t)
        t.transpose(t.rows_of(t.v, tile, t.dv), keys, t.dv, self.values_t)
        first = b.mul(b.sdiv(key, c64(t.bq)), c64(t.bq)) if t.causal else c64(0)
        grads = (dq, t.rows_of(dk, key, t.dk), t.rows_of(dv, key, t.dv))

        def query_tile(query, rows):
            self.query_tile(head, key, keys, query, rows, grads)

        t.tiles(first, t.lq, t.bq, query_tile)

    def query_tile(self, head, key, keys, query, rows, grads):
        b, t, (dq, dk, dv) = self.b, self.t, grads
        row = b.add(b.mul(head, t.lq), query)
        q_rows, g_rows = t.rows_of(t.q, row, t.dk), t.rows_of(self.g, row, self.width)
        o_rows = t.rows_of(self.out, row, self.width)
        t.gemm(False, False, rows, keys, t.dk, q_rows, t.dk, self.keys_t, t.bk, self.p, t.bk)
        t.over_keys(keys, lambda width: self.kb.loop(c64(0), rows, lambda r: self.probabilities(
            head, query, r, key, width, g_rows, o_rows), name="prow"))
        t.gemm(True, True, keys, t.dv, rows, self.p, t.bk, g_rows, self.width, dv, t.dv)
        t.gemm(False, False, rows, keys, t.dv, g_rows, self.width, self.values_t, t.bk, self.dp,
               t.bk)
        t.over_keys(keys, lambda width: self.kb.loop(
            c64(0), rows, lambda r: self.score_gradient(r, width), name="dsrow"))
        t.gemm(False, True, rows, t.dk, keys, self.dp, t.bk, t.rows_of(t.k, b.add(
            b.mul(head, t.lk), key), t.dk), t.dk, t.rows_of(dq, query, t.dk), t.dk)
        t.gemm(True, True, keys, t.dk, rows, self.dp, t.bk, q_rows, t.dk, dk, t.dk)

    def probabilities(self, head, query, r, key, keys, g_rows, o_rows):
        """P's row r over the score block (from the saved logsumexp), and D for the row."""
        b, t, kb = self.b, self.t, self.kb
        rv, start = RowVectors(kb, t.dtype, keys), b.mul(r, c64(t.bk))
        valid = t.key_validity(rv, head, b.add(query, r), key)
        packed = b.mul(r, c64(self.width))
        lse = rv.splat(kb.load(o_rows, b.add(packed, c64(t.dv)), t.dtype))
        scale = rv.constant(t.scale)

        def probability(j):
            s = b.fsub(b.fmul(rv.load(self.p, start, j), scale), lse)
            rv.store(b.select(valid(j), vecmath.emit_exp(b, s), rv.constant(0.0)), self.p,
                     start, j)

        rv.loop(probability, name="p")
        pv = self.packed

        def add_product(j, total):
            product = b.fmul(pv.load(g_rows, packed, j), pv.load(o_rows, packed, j))
            return [b.fadd(total, product)]

        dot = fold_lanes(b, pv.loop(add_product, [pv.constant(0.0)], name="dot")[0], add)
        g_lse = kb.load(g_rows, b.add(packed, c64(t.dv)), t.dtype)
        kb.store(b.fsub(dot, g_lse), self.delta, r, t.dtype)

    def score_gradient(self, r, keys):
        """dS's row r = scale P (dP - D), over the dP block."""
        b, t = self.b, self.t
        rv, start = RowVectors(self.kb, t.dtype, keys), b.mul(r, c64(t.bk))
        delta = rv.splat(self.kb.load(self.delta, r, t.dtype))
        scale = rv.constant(t.scale)

        def gradient(j):
            p = b.fmul(rv.load(self.p, start, j), scale)
            rv.store(b.fmul(p, b.fsub(rv.load(self.dp, start, j), delta)), self.dp, start, j)

        rv.loop(gradient, name="ds")


def emit_flash_attention_grad(kb, node):
    backward = FlashBackward(kb, node)
    lo, hi = kb.split(backward.t.heads)
    kb.loop(lo, hi, backward.head, name="pair")
    return kb.finish()


register("flash_attention_grad", "kernel", emit_flash_attention_grad)
