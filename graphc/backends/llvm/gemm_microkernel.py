"""The GEMM's micro-kernel (gemm.py): an MR x nv block of vector accumulators kept in registers
over a pass of the k loop, and its epilogue (bias, activation, accumulate, masked stores of C).
A panel computes k rows k_lo..k_hi of the sum (all of K, or one packed block of A^T's).

With K-blocking (gemm_plan.py) a panel is computed in passes over blocks of k rows, every row
tile of the panel per pass, so the block of B the tiles share stays in L1: a pass after the
first starts from the partial sums it left in C, and only the last pass runs the epilogue."""

from __future__ import annotations

from dataclasses import dataclass

from llvmlite import ir

from graphc.backends.llvm import vecmath
from graphc.backends.llvm.gemm_pack import A_BLOCK_K
from graphc.backends.llvm.gemm_variant import GemmVariant, counted_loop, declare, round_up
from graphc.backends.llvm.irutil import I32, I64, PTR, c64, smax, smin

MR, NV = 6, 4  # the default register tile (gemm_plan.TilePlan); the int8/bf16 GEMMs use it too
PANEL_ARGS = ["K", "A", "lda", "i_start", "i_end", "Bp", "b_stride", "C", "ldc", "j0", "ncols",
              "bias", "k_lo", "k_hi", "Ap"]


@dataclass
class KPass:
    """k rows k0..k1 of one pass; `first`/`last` (i1, or None without K-blocking) tell whether C
    holds nothing of ours yet and whether the epilogue runs; `packed_a`: the tiles read A^T's
    packed block (else A in place)."""

    k0: ir.Value
    k1: ir.Value
    first: ir.Value | None = None
    last: ir.Value | None = None
    packed_a: bool = False


def define_panel(g: GemmVariant, nv: int) -> ir.Function:
    """panel(K, A, lda, i_start, i_end, Bp, b_stride, C, ldc, j0, ncols, bias, k_lo, k_hi, Ap):
    rows i_start..i_end of C's columns j0..j0+ncols (<= nv*VL), k rows k_lo..k_hi of the sum
    (the epilogue runs when k_hi reaches K), from the panel at Bp whose k rows are b_stride
    elements apart (a packed panel, or op(B) itself read in place). With g.pack_a and Ap not
    null the tiles read A from Ap, rows i_start..i_end packed by gemm_pack.define_pack_a."""
    fn, b = g.function(f"{g.name}_panel{nv}",
                       [I64, PTR, I64, I64, I64, PTR, I64, PTR, I64, I64, I64, PTR, I64, I64, PTR],
                       PANEL_ARGS)
    fn.linkage = "internal"
    args = dict(zip(PANEL_ARGS, fn.args, strict=True))
    if not g.pack_a:
        emit_k_passes(g, b, nv, args, False)
    else:
        with b.if_else(b.icmp_unsigned("==", args["Ap"], ir.Constant(PTR, None))) as (
                in_place, packed):
            with in_place:
                emit_k_passes(g, b, nv, args, False)
            with packed:
                emit_k_passes(g, b, nv, args, True)
    b.ret_void()
    return fn


def emit_k_passes(g, b, nv, args, packed_a):
    """The row tiles over k rows k_lo..k_hi, in passes of the plan's k_block (or one)."""
    K, k_lo, k_hi = args["K"], args["k_lo"], args["k_hi"]
    k_block = g.k_block or (A_BLOCK_K if g.pack_a else None)
    if k_block is None:
        emit_row_tiles(g, b, nv, args, KPass(k_lo, k_hi))
        return
    # at least one pass: with K = 0 the epilogue still writes act(bias)
    passes = b.sdiv(b.add(b.sub(k_hi, k_lo), c64(k_block - 1)), c64(k_block))
    passes = smax(b, passes, c64(1))

    def k_pass(b, p):
        k0 = b.add(k_lo, b.mul(p, c64(k_block)))
        k1 = b.add(k0, c64(k_block))
        k1 = smin(b, k1, k_hi)
        first = b.icmp_signed("==", k0, c64(0))
        emit_row_tiles(g, b, nv, args, KPass(k0, k1, first, b.icmp_signed(">=", k1, K),
                                             packed_a))
    counted_loop(b, c64(0), passes, c64(1), k_pass, "kp")


def emit_row_tiles(g, b, nv, args, kp: KPass):
    # MR-row tiles while at least 3 rows remain (the last may re-read rows it does not
    # store), then single rows: batches of 1 or 2 rows do not pay for MR. A packed block has
    # whole MR-row panels only (its last one repeats a row).
    mr = g.plan.mr
    if kp.packed_a:
        counted_loop(b, args["i_start"], args["i_end"], c64(mr),
                     lambda b, i0: emit_tile(g, b, nv, mr, i0, args, kp), "mi")
        return
    rows = b.sub(args["i_end"], args["i_start"])
    over_two = b.sub(rows, c64(2))
    over_two = b.select(b.icmp_signed(">", over_two, c64(0)), over_two, c64(0))
    tiled_end = b.add(args["i_start"], round_up(b, over_two, mr))
    counted_loop(b, args["i_start"], tiled_end, c64(mr),
                 lambda b, i0: emit_tile(g, b, nv, mr, i0, args, kp), "mi")
    single_start = b.select(b.icmp_signed("<", tiled_end, args["i_end"]), tiled_end,
                            args["i_end"])
    counted_loop(b, single_start, args["i_end"], c64(1),
                 lambda b, i0: emit_tile(g, b, nv, 1, i0, args, kp), "m1")


@dataclass
class ASource:
    """Where a tile reads op(A): row r's element k at ptr[row_base[r] + k * k_stride]."""

    ptr: ir.Value
    row_base: list
    k_stride: ir.Value
    unroll: int  # k steps per trip of the k loop


def a_source(g, b, i0, a, rows, packed_a) -> ASource:
    """The tile's MR-row panel of the packed block, else A itself."""
    if packed_a:
        panel = b.mul(b.sub(i0, a["i_start"]), b.sub(a["k_hi"], a["k_lo"]))
        ptr = g.gep(b, a["Ap"], b.sub(panel, b.mul(a["k_lo"], c64(len(rows)))))
        return ASource(ptr, [c64(r) for r in range(len(rows))], c64(len(rows)), g.plan.unroll)
    if g.ta:
        return ASource(a["A"], rows, a["lda"], g.unroll)
    return ASource(a["A"], [b.mul(row, a["lda"]) for row in rows], c64(1), g.unroll)


def emit_tile(g, b, nv, mr, i0, a, kp: KPass):
    last_row = b.sub(a["i_end"], c64(1))
    rows = []
    for r in range(mr):
        row = b.add(i0, c64(r))
        rows.append(b.select(b.icmp_signed("<", row, last_row), row, last_row) if r else row)
    source = a_source(g, b, i0, a, rows, kp.packed_a)
    c_rows = [g.gep(b, a["C"], b.add(b.mul(row, a["ldc"]), a["j0"])) for row in rows]
    masks = [g.lane_mask(b, c64(v * g.vl), a["ncols"]) for v in range(nv)]
    # whole panels load and store unmasked (masked loads held the k loop at ~78% of peak on
    # Intel); a panel read in place may end inside the last row of B, so partial ones mask
    with b.if_else(b.icmp_signed("==", a["ncols"], c64(nv * g.vl))) as (whole, partial):
        for branch, lanes in ((whole, [None] * nv), (partial, masks)):
            with branch:
                init = starting_sums(g, b, nv, c_rows, lanes, kp)
                accs = tile_sums(g, b, nv, mr, a, source, lanes, kp, init)
                emit_epilogue(g, b, nv, i0, accs, a, c_rows, lanes, kp)


def tile_sums(g, b, nv, mr, a, source: ASource, masks, kp: KPass, init):
    """The k loop of one tile: B's nv vectors per k (masks[v] None: unmasked) times a
    broadcast A element per row."""
    row_base, k_stride = source.row_base, source.k_stride
    prefetch = prefetcher(g, b, source.ptr, row_base, k_stride)

    def step(b, k, accs):
        bp = g.gep(b, a["Bp"], b.mul(k, a["b_stride"]))
        bvec = [g.load_vector(b, g.gep(b, bp, c64(v * g.vl)), masks[v]) for v in range(nv)]
        a_k = g.gep(b, source.ptr, b.mul(k, k_stride))  # one pointer per k, invariant rows
        prefetch(b, k)
        out = []
        for r in range(mr):
            x = b.load(g.gep(b, a_k, row_base[r]), typ=g.T)
            xs = g.splat(b, x)
            out += [vecmath.fma(b, xs, bvec[v], accs[r * nv + v]) for v in range(nv)]
        return out
    return k_range_loop(g, b, kp.k0, kp.k1, init, step, source.unroll)


def prefetcher(g, b, A, row_base, k_stride):
    """step(b, k): prefetch each row's A element plan.prefetch ahead of k (rows of op(A) are
    separate streams when A is not transposed; transposed, a tile's rows share lines)."""
    distance = g.plan.prefetch
    if not distance or g.ta:
        return lambda b, k: None
    fn = declare(g.module, "llvm.prefetch.p0", ir.FunctionType(ir.VoidType(), [PTR, I32, I32,
                                                                               I32]))
    read, keep, data = (ir.Constant(I32, x) for x in (0, 3, 1))

    def prefetch(b, k):
        ahead = b.add(k, c64(distance))
        for base in row_base:
            b.call(fn, [g.gep(b, A, b.add(base, ahead)), read, keep, data])
    return prefetch


def starting_sums(g, b, nv, c_rows, masks, kp: KPass):
    """The accumulators a pass starts from: zero, or C (the partial sums of earlier passes,
    and on the first pass the old C when accumulating)."""
    zero = [ir.Constant(g.V, None)] * (len(c_rows) * nv)
    if kp.first is None:
        return zero

    def load_c(b):
        return [g.load_vector(b, g.gep(b, ptr, c64(v * g.vl)), masks[v])
                for ptr in c_rows for v in range(nv)]
    if g.acc:
        return load_c(b)
    pre = b.block
    with b.if_then(b.not_(kp.first)):
        loaded, loaded_block = load_c(b), b.block
    sums = [b.phi(g.V) for _ in zero]
    add_incoming(sums, zero, pre, loaded, loaded_block)
    return sums


def k_loop(g, b, K, init, step):
    """Run `step` for k in 0..K with the accumulators in phis."""
    return k_range_loop(g, b, c64(0), K, init, step)


def k_range_loop(g, b, k0, k1, init, step, unroll=1):
    """Run `step` for k in k0..k1 with the accumulators in phis: `unroll` steps per trip
    while they fit (fewer loop-control uops beside the FMAs), then one at a time."""
    if unroll == 1:
        return strided_k_loop(g, b, k0, k1, 1, init, step)
    span = b.sub(k1, k0)
    main_end = b.add(k0, b.mul(b.sdiv(span, c64(unroll)), c64(unroll)))

    def steps(b, k, accs):
        for u in range(unroll):
            accs = step(b, b.add(k, c64(u)) if u else k, accs)
        return accs
    accs = strided_k_loop(g, b, k0, main_end, unroll, init, steps)
    return strided_k_loop(g, b, main_end, k1, 1, accs, step)


def strided_k_loop(g, b, k0, k1, stride, init, step):
    pre = b.block
    body, end = b.append_basic_block("k"), b.append_basic_block("k.end")
    b.cbranch(b.icmp_signed("<", k0, k1), body, end)
    b.position_at_end(body)
    k = b.phi(I64)
    accs = [b.phi(g.V) for _ in init]
    out = step(b, k, accs)
    k_next = b.add(k, c64(stride))
    b.cbranch(b.icmp_signed("<", k_next, k1), body, end)
    add_incoming([k, *accs], [k0, *init], pre, [k_next, *out], body)
    b.position_at_end(end)
    final = [b.phi(g.V) for _ in init]
    add_incoming(final, init, pre, out, body)
    return final


def add_incoming(phis, first, first_block, second, second_block):
    for phi, x, y in zip(phis, first, second, strict=True):
        phi.add_incoming(x, first_block)
        phi.add_incoming(y, second_block)


def emit_epilogue(g, b, nv, i0, accs, a, c_rows, masks, kp: KPass):
    """Store the tile's rows that exist; the last pass (or the only one) finishes them."""
    rows = b.sub(a["i_end"], i0)

    def store(b, finish):
        bias = []
        if finish and g.bias:
            base = g.gep(b, a["bias"], a["j0"])
            bias = [g.load_vector(b, g.gep(b, base, c64(v * g.vl)), masks[v]) for v in range(nv)]
        for r, ptr in enumerate(c_rows):
            row_accs = accs[r * nv:(r + 1) * nv]
            if r == 0:
                store_row(g, b, nv, row_accs, bias, masks, ptr, finish, kp.first is None)
                continue
            with b.if_then(b.icmp_signed(">", rows, c64(r))):
                store_row(g, b, nv, row_accs, bias, masks, ptr, finish, kp.first is None)
    if kp.last is None:
        store(b, True)
        return
    with b.if_else(kp.last) as (last, partial):
        with last:
            store(b, True)
        with partial:
            store(b, False)


def store_row(g, b, nv, accs, bias, masks, row_ptr, finish, add_old):
    """finish: bias and activation; add_old: add the old C (when not already in the sums)."""
    for v in range(nv):
        x = accs[v]
        if finish:
            x = b.fadd(x, bias[v]) if bias else x
            if g.act in ("linear", "relu"):
                x = vecmath.emit_activation(b, g.act, x)
            else:  # long expansions: one shared copy instead of MR * NV inlined ones
                x = b.call(vecmath.activation_function(g.module, g.act, g.V), [x])
        ptr = g.gep(b, row_ptr, c64(v * g.vl))
        if finish and g.acc and add_old:
            x = b.fadd(x, g.load_vector(b, ptr, masks[v]))
        g.store_vector(b, x, ptr, masks[v])
