"""The GEMM's micro-kernel (gemm.py): an MR x nv block of vector accumulators kept in registers
over the whole k loop, and its epilogue (bias, activation, accumulate, masked stores of C)."""

from __future__ import annotations

from llvmlite import ir

from graphc.backends.llvm import vecmath
from graphc.backends.llvm.gemm_variant import GemmVariant, counted_loop, round_up
from graphc.backends.llvm.irutil import I64, PTR, c64

MR = 6  # rows of the register block
NV = 4  # vectors per panel row (NR = NV * VL)
PANEL_ARGS = ["K", "A", "lda", "i_start", "i_end", "Bp", "b_stride", "C", "ldc", "j0", "ncols",
              "bias"]


def define_panel(g: GemmVariant, nv: int) -> ir.Function:
    """panel(K, A, lda, i_start, i_end, Bp, b_stride, C, ldc, j0, ncols, bias): rows
    i_start..i_end of C's columns j0..j0+ncols (<= nv*VL) from the panel at Bp whose k rows
    are b_stride elements apart (a packed panel, or op(B) itself read in place)."""
    fn, b = g.function(f"{g.name}_panel{nv}",
                       [I64, PTR, I64, I64, I64, PTR, I64, PTR, I64, I64, I64, PTR], PANEL_ARGS)
    fn.linkage = "internal"
    args = dict(zip(PANEL_ARGS, fn.args, strict=True))
    # MR-row tiles while at least 3 rows remain (the last may re-read rows it does not
    # store), then single rows: batches of 1 or 2 rows do not pay for 6.
    rows = b.sub(args["i_end"], args["i_start"])
    over_two = b.sub(rows, c64(2))
    over_two = b.select(b.icmp_signed(">", over_two, c64(0)), over_two, c64(0))
    tiled_end = b.add(args["i_start"], round_up(b, over_two, MR))
    counted_loop(b, args["i_start"], tiled_end, c64(MR),
                 lambda b, i0: emit_tile(g, b, nv, MR, i0, args), "mi")
    single_start = b.select(b.icmp_signed("<", tiled_end, args["i_end"]), tiled_end,
                            args["i_end"])
    counted_loop(b, single_start, args["i_end"], c64(1),
                 lambda b, i0: emit_tile(g, b, nv, 1, i0, args), "m1")
    b.ret_void()
    return fn


def emit_tile(g, b, nv, mr, i0, a):
    last_row = b.sub(a["i_end"], c64(1))
    row_scale, k_stride = (c64(1), a["lda"]) if g.ta else (a["lda"], c64(1))
    row_base = []
    for r in range(mr):
        row = b.add(i0, c64(r))
        if r:
            row = b.select(b.icmp_signed("<", row, last_row), row, last_row)
        row_base.append(b.mul(row, row_scale))
    zero = ir.Constant(g.V, None)
    # masked loads: a panel read in place may end inside the last row of B
    masks = [g.lane_mask(b, c64(v * g.vl), a["ncols"]) for v in range(nv)]

    def step(b, k, accs):
        bp = g.gep(b, a["Bp"], b.mul(k, a["b_stride"]))
        bvec = [g.masked_load(b, g.gep(b, bp, c64(v * g.vl)), masks[v]) for v in range(nv)]
        koff = b.mul(k, k_stride)
        out = []
        for r in range(mr):
            x = b.load(g.gep(b, a["A"], b.add(row_base[r], koff)), typ=g.T)
            xs = g.splat(b, x)
            out += [vecmath.fma(b, xs, bvec[v], accs[r * nv + v]) for v in range(nv)]
        return out
    accs = k_loop(g, b, a["K"], [zero] * (mr * nv), step)
    emit_epilogue(g, b, nv, mr, i0, accs, a)


def k_loop(g, b, K, init, step):
    """Run `step` for k in 0..K with the accumulators in phis (LLVM unrolls it x4)."""
    pre = b.block
    body, end = b.append_basic_block("k"), b.append_basic_block("k.end")
    b.cbranch(b.icmp_signed(">", K, c64(0)), body, end)
    b.position_at_end(body)
    k = b.phi(I64)
    accs = [b.phi(g.V) for _ in init]
    out = step(b, k, accs)
    k_next = b.add(k, c64(1))
    b.cbranch(b.icmp_signed("<", k_next, K), body, end)
    add_incoming([k, *accs], [c64(0), *init], pre, [k_next, *out], body)
    b.position_at_end(end)
    final = [b.phi(g.V) for _ in init]
    add_incoming(final, init, pre, out, body)
    return final


def add_incoming(phis, first, first_block, second, second_block):
    for phi, x, y in zip(phis, first, second, strict=True):
        phi.add_incoming(x, first_block)
        phi.add_incoming(y, second_block)


def emit_epilogue(g, b, nv, mr, i0, accs, a):
    masks = [g.lane_mask(b, c64(v * g.vl), a["ncols"]) for v in range(nv)]
    bias = []
    if g.bias:
        base = g.gep(b, a["bias"], a["j0"])
        bias = [g.masked_load(b, g.gep(b, base, c64(v * g.vl)), masks[v]) for v in range(nv)]
    rows = b.sub(a["i_end"], i0)
    for r in range(mr):
        row_ptr = g.gep(b, a["C"], b.add(b.mul(b.add(i0, c64(r)), a["ldc"]), a["j0"]))
        if r == 0:
            store_row(g, b, nv, accs[:nv], bias, masks, row_ptr)
            continue
        with b.if_then(b.icmp_signed(">", rows, c64(r))):
            store_row(g, b, nv, accs[r * nv:(r + 1) * nv], bias, masks, row_ptr)


def store_row(g, b, nv, accs, bias, masks, row_ptr):
    for v in range(nv):
        x = b.fadd(accs[v], bias[v]) if bias else accs[v]
        if g.act in ("linear", "relu"):
            x = vecmath.emit_activation(b, g.act, x)
        else:  # long expansions: one shared copy instead of MR * NV inlined ones
            x = b.call(vecmath.activation_function(g.module, g.act, g.V), [x])
        ptr = g.gep(b, row_ptr, c64(v * g.vl))
        if g.acc:
            x = b.fadd(x, g.masked_load(b, ptr, masks[v]))
        g.masked_store(b, x, ptr, masks[v])
