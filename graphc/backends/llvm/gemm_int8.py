"""An int8 GEMM on AVX512-VNNI (`vpdpbusd`: 4 u8 x s8 products summed into each i32 lane).

Public API:
  define_gemm_int8(module, epilogue, activation='linear', bias=False, vnni=None,
                   own_comp=False) -> ir.Function
      defines (once per variant per module)
        void @name(i32 tid, i32 nthreads, i64 M, i64 N, i64 K, u8* A, i64 lda, i8* B, i32* comp,
                   f32* row_scale, f32* col_scale, f32* bias, void* C, i64 ldc)
      acc[m, n] = sum_k A[m, k] * B[k, n] in exact int32 arithmetic (wrapping past 2**31), and
        epilogue 'int32':      C[m, n] = acc                                     (C is i32*)
        epilogue 'dequantize': C[m, n] = act(f32(acc - comp[n]) * (row_scale[m] * col_scale[n])
                                             + bias[n])                           (C is f32*)
      (comp, row_scale, col_scale, bias are unused, may be null, with 'int32'; bias without it).
      own_comp ('dequantize' only): comp is not read but summed in the kernel, from the same
      loads of B (one more vpdpbusd per vector, A = 128 in every byte): for a few rows, where
      a separate pass over B for comp would cost as much as the product.
B is packed once by graphc.ops.quant.pack_weights: int8 [ceil(K/4), round_up(N, 16), 4],
zero-padded. Each row of A holds lda >= quant.padded_k(K) bytes (the pad is never part of the
result: B's pad rows are zero).

A is read as unsigned bytes: signed activations q in [-128, 127] are stored as q + 128 and the
offset is removed in the epilogue with comp[n] = 128 * sum_k B[k, n] (quant_scheme.py).
SPMD contract as gemm.py: every thread calls with its tid; rows (in MR blocks) or, below MR
rows per thread, column vectors are split between the threads; no workspace, no barrier
(B is packed once, when the weights are quantized). Loads are `align 1`: NumPy's buffers carry
no alignment promise.

Micro-kernel: an MR x NV block of <16 x i32> accumulators over the K/4 groups; per group, one
4-byte load of A per row broadcast to all lanes and NV 64-byte loads of B.
"""

from __future__ import annotations

from llvmlite import ir

from graphc.backends.llvm import jit, vecmath
from graphc.backends.llvm.gemm_microkernel import MR, NV, k_loop
from graphc.backends.llvm.gemm_variant import counted_loop, declare, entry_prologue, round_up
from graphc.backends.llvm.irutil import F32, I1, I32, I64, PTR, VOID, c64
from graphc.ops.quant import GROUP, LANES

VI32 = ir.VectorType(I32, LANES)
VF32 = ir.VectorType(F32, LANES)
VMASK = ir.VectorType(I1, LANES)
EPILOGUES = ("int32", "dequantize")
ENTRY_ARGS = ["tid", "nthreads", "M", "N", "K", "A", "lda", "B", "comp", "row_scale",
              "col_scale", "bias", "C", "ldc"]
ENTRY_TYPES = [I32, I32, I64, I64, I64, PTR, I64, PTR, PTR, PTR, PTR, PTR, PTR, I64]
VPDPBUSD = "llvm.x86.avx512.vpdpbusd.512"
OFFSET_BYTES = 0x80808080  # A's offset 128 in each of a lane's 4 bytes (own_comp)


def host_has_vnni() -> bool:
    return "+avx512vnni" in jit.host_cpu()[1].split(",")


def gemm_int8_name(epilogue: str, activation: str, bias: bool, vnni: bool,
                   own_comp: bool = False) -> str:
    tail = f"_{activation}{'_bias' if bias else ''}" if epilogue == "dequantize" else ""
    tail += "_owncomp" if own_comp else ""
    return f"graphc_gemm_u8s8_{epilogue}{tail}{'' if vnni else '_portable'}"


def define_gemm_int8(module: ir.Module, epilogue: str, activation: str = "linear",
                     bias: bool = False, vnni: bool | None = None,
                     own_comp: bool = False) -> ir.Function:
    """Define the variant in `module` (or return it if already defined). See module doc.
    vnni: use vpdpbusd (default: when this CPU has AVX512-VNNI); False emits the same exact
    integer sums from plain vector IR (any CPU, slower)."""
    vnni = host_has_vnni() if vnni is None else vnni
    if epilogue not in EPILOGUES:
        raise ValueError(f"define_gemm_int8: epilogue must be one of {EPILOGUES}; received "
                         f"{epilogue!r}")
    if activation not in vecmath.ACTIVATIONS:
        raise ValueError(f"define_gemm_int8: unknown activation {activation!r}; choose one of "
                         f"{', '.join(sorted(vecmath.ACTIVATIONS))}")
    if own_comp and epilogue != "dequantize":
        raise ValueError("define_gemm_int8: own_comp needs the 'dequantize' epilogue (comp "
                         f"is only used there); received {epilogue!r}")
    name = gemm_int8_name(epilogue, activation, bias, vnni, own_comp)
    existing = module.globals.get(name)
    if existing is not None:
        return existing
    spec = Int8Variant(module, name, epilogue, activation, bias, vnni, own_comp)
    panels = {nv: define_panel(spec, nv) for nv in (1, NV)}
    fn = new_function(module, name, ENTRY_TYPES, ENTRY_ARGS)
    emit_entry(spec, fn, panels)
    return fn


class Int8Variant:
    """The flags of one variant and the vector helpers its kernels share."""

    def __init__(self, module, name, epilogue, activation, bias, vnni, own_comp=False):
        self.module, self.name, self.epilogue, self.vnni = module, name, epilogue, vnni
        self.act, self.bias, self.own_comp = activation, bias, own_comp
        self.V = VI32  # the accumulators' type (gemm_microkernel.k_loop)

    def masked_load(self, b, ptr, mask, vty):
        suffix = "v16f32" if vty == VF32 else "v16i32"
        fn = declare(self.module, f"llvm.masked.load.{suffix}.p0",
                     ir.FunctionType(vty, [PTR, I32, VMASK, vty]))
        return b.call(fn, [ptr, ir.Constant(I32, 1), mask, ir.Constant(vty, None)])

    def masked_store(self, b, value, ptr, mask):
        suffix = "v16f32" if value.type == VF32 else "v16i32"
        fn = declare(self.module, f"llvm.masked.store.{suffix}.p0",
                     ir.FunctionType(VOID, [value.type, PTR, I32, VMASK]))
        b.call(fn, [value, ptr, ir.Constant(I32, 1), mask])

    def dot(self, b, acc, a, w):
        if self.vnni:
            fn = declare(self.module, VPDPBUSD, ir.FunctionType(VI32, [VI32, VI32, VI32]))
            return b.call(fn, [acc, a, w])
        # the same exact sums from plain IR, for CPUs without VNNI
        bytes64 = ir.VectorType(ir.IntType(8), LANES * GROUP)
        wide = ir.VectorType(I32, LANES * GROUP)
        prod = b.mul(b.zext(b.bitcast(a, bytes64), wide), b.sext(b.bitcast(w, bytes64), wide))
        for q in range(GROUP):
            lanes = ir.Constant(ir.VectorType(I32, LANES), [GROUP * i + q for i in range(LANES)])
            acc = b.add(acc, b.shuffle_vector(prod, ir.Constant(wide, ir.Undefined), lanes))
        return acc


def new_function(module, name, types, names):
    fn = ir.Function(module, ir.FunctionType(VOID, types), name=name)
    for arg, arg_name in zip(fn.args, names, strict=True):
        arg.name = arg_name
    return fn


def splat(b, x, vty):
    one = b.insert_element(ir.Constant(vty, ir.Undefined), x, ir.Constant(I32, 0))
    return b.shuffle_vector(one, ir.Constant(vty, ir.Undefined),
                            ir.Constant(ir.VectorType(I32, LANES), [0] * LANES))


def lane_mask(b, first_col, ncols):
    iota = ir.Constant(ir.VectorType(I64, LANES), list(range(LANES)))
    return b.icmp_signed("<", iota, splat(b, b.sub(ncols, first_col),
                                          ir.VectorType(I64, LANES)))


def byte_at(b, ptr, offset):
    return b.gep(ptr, [offset], source_etype=ir.IntType(8))


def emit_entry(spec, fn, panels):
    """Split C between the threads: by MR-row blocks, or by column vectors when there are
    fewer than MR rows per thread (a batch of 1 still uses every thread)."""
    a = dict(zip(ENTRY_ARGS, fn.args, strict=True))
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    M, N, nt, t, nvec = entry_prologue(b, a, LANES)
    by_cols = b.icmp_signed("<", M, b.mul(nt, c64(MR)))
    share = round_up(b, b.sdiv(b.add(M, b.sub(nt, c64(1))), nt), MR)
    r0 = b.select(by_cols, c64(0), clamp(b, b.mul(t, share), M))
    r1 = b.select(by_cols, M, clamp(b, b.add(r0, share), M))
    v0 = b.select(by_cols, b.sdiv(b.mul(t, nvec), nt), c64(0))
    v1 = b.select(by_cols, b.sdiv(b.mul(b.add(t, c64(1)), nvec), nt), nvec)
    span = b.sub(v1, v0)
    full = b.sdiv(span, c64(NV))
    ldb = b.mul(b.mul(nvec, c64(LANES)), c64(GROUP))  # bytes per k group of packed B

    def panel(b, u):
        is_full = b.icmp_signed("<", u, full)
        first = b.add(v0, b.select(is_full, b.mul(u, c64(NV)), b.add(b.mul(full, c64(NV)),
                                                                      b.sub(u, full))))
        j0 = b.mul(first, c64(LANES))
        width = b.select(is_full, c64(NV * LANES), c64(LANES))
        ncols = b.sub(N, j0)
        ncols = b.select(b.icmp_signed("<", ncols, width), ncols, width)
        args = [a["K"], a["A"], a["lda"], r0, r1, byte_at(b, a["B"], b.mul(j0, c64(GROUP))), ldb,
                a["comp"], a["row_scale"], a["col_scale"], a["bias"], a["C"], a["ldc"], j0, ncols]
        with b.if_else(is_full) as (wide, narrow):
            with wide:
                b.call(panels[NV], args)
            with narrow:
                b.call(panels[1], args)
    counted_loop(b, c64(0), b.add(full, b.srem(span, c64(NV))), c64(1), panel, "pc")
    b.ret_void()


def clamp(b, x, hi):
    return b.select(b.icmp_signed("<", x, hi), x, hi)


PANEL_ARGS = ["K", "A", "lda", "i_start", "i_end", "Bp", "ldb", "comp", "row_scale",
              "col_scale", "bias", "C", "ldc", "j0", "ncols"]
PANEL_TYPES = [I64, PTR, I64, I64, I64, PTR, I64, PTR, PTR, PTR, PTR, PTR, I64, I64, I64]


def define_panel(spec, nv):
    """Rows i_start..i_end of columns j0..j0+ncols (<= nv*16): MR-row tiles while 3 or more
    rows remain (the last re-reads rows it does not store), then single rows."""
    fn = new_function(spec.module, f"{spec.name}_panel{nv}", PANEL_TYPES, PANEL_ARGS)
    fn.linkage = "internal"
    fn.attributes.add("noinline")
    a = dict(zip(PANEL_ARGS, fn.args, strict=True))
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    over_two = b.sub(b.sub(a["i_end"], a["i_start"]), c64(2))
    over_two = b.select(b.icmp_signed(">", over_two, c64(0)), over_two, c64(0))
    tiled_end = b.add(a["i_start"], round_up(b, over_two, MR))
    counted_loop(b, a["i_start"], tiled_end, c64(MR),
                 lambda b, i0: emit_tile(spec, b, nv, MR, i0, a), "mi")
    counted_loop(b, clamp(b, tiled_end, a["i_end"]), a["i_end"], c64(1),
                 lambda b, i0: emit_tile(spec, b, nv, 1, i0, a), "m1")
    b.ret_void()
    return fn


def emit_tile(spec, b, nv, mr, i0, a):
    last_row = b.sub(a["i_end"], c64(1))
    rows = [byte_at(b, a["A"], b.mul(clamp(b, b.add(i0, c64(r)), last_row) if r else i0,
                                       a["lda"])) for r in range(mr)]
    groups = b.sdiv(b.add(a["K"], c64(GROUP - 1)), c64(GROUP))

    def step(b, g, accs):
        bp = byte_at(b, a["Bp"], b.mul(g, a["ldb"]))
        w = [b.load(byte_at(b, bp, c64(v * LANES * GROUP)), typ=VI32, align=1)
             for v in range(nv)]
        out = []
        for r in range(mr):
            x = b.load(byte_at(b, rows[r], b.mul(g, c64(GROUP))), typ=I32, align=1)
            xs = splat(b, x, VI32)
            out += [spec.dot(b, accs[r * nv + v], xs, w[v]) for v in range(nv)]
        if spec.own_comp:  # comp[n] = sum_k 128 * B[k, n], k < K: B's pad rows not counted
            ones = b.select(b.icmp_signed("<", g, b.sub(groups, c64(1))), c64(4),
                            b.sub(a["K"], b.mul(b.sub(groups, c64(1)), c64(GROUP))))
            word = b.trunc(b.lshr(c64(OFFSET_BYTES), b.mul(b.sub(c64(4), ones), c64(8))), I32)
            out += [spec.dot(b, accs[mr * nv + v], splat(b, word, VI32), w[v])
                    for v in range(nv)]
        return out
    count = (mr + spec.own_comp) * nv
    accs = k_loop(spec, b, groups, [ir.Constant(VI32, None)] * count, step)
    emit_epilogue(spec, b, nv, mr, i0, accs, a)


def emit_epilogue(spec, b, nv, mr, i0, accs, a):
    masks = [lane_mask(b, c64(v * LANES), a["ncols"]) for v in range(nv)]
    columns = column_terms(spec, b, nv, masks, a, accs[mr * nv:] if spec.own_comp else None)
    rows_left = b.sub(a["i_end"], i0)
    for r in range(mr):
        row = b.add(i0, c64(r))
        with b.if_then(b.icmp_signed(">", rows_left, c64(r))):
            store_row(spec, b, row, accs[r * nv:(r + 1) * nv], columns, masks, a)


def column_terms(spec, b, nv, masks, a, own_comp=None):
    """Per column vector: (comp, col_scale, bias or None), read once per tile (comp: the
    tile's own sums when given)."""
    if spec.epilogue == "int32":
        return []

    def vectors(ptr, vty):
        base = b.gep(ptr, [a["j0"]], source_etype=vty.element)
        return [spec.masked_load(b, b.gep(base, [c64(v * LANES)], source_etype=vty.element),
                                 masks[v], vty) for v in range(nv)]
    comp = vectors(a["comp"], VI32) if own_comp is None else own_comp
    scale = vectors(a["col_scale"], VF32)
    bias = vectors(a["bias"], VF32) if spec.bias else [None] * nv
    return list(zip(comp, scale, bias, strict=True))


def store_row(spec, b, row, accs, columns, masks, a):
    offset = b.add(b.mul(row, a["ldc"]), a["j0"])
    if spec.epilogue == "int32":
        base = b.gep(a["C"], [offset], source_etype=I32)
        for v, acc in enumerate(accs):
            spec.masked_store(b, acc, b.gep(base, [c64(v * LANES)], source_etype=I32), masks[v])
        return
    base = b.gep(a["C"], [offset], source_etype=F32)
    row_scale = splat(b, b.load(b.gep(a["row_scale"], [row], source_etype=F32), typ=F32), VF32)
    for v, (acc, (comp, col_scale, bias)) in enumerate(zip(accs, columns, strict=True)):
        x = b.fmul(b.sitofp(b.sub(acc, comp), VF32), b.fmul(row_scale, col_scale))
        if bias is not None:
            x = b.fadd(x, bias)
        if spec.act in ("linear", "relu"):
            x = vecmath.emit_activation(b, spec.act, x)
        else:  # long expansions: one shared copy
            x = b.call(vecmath.activation_function(spec.module, spec.act, VF32), [x])
        spec.masked_store(b, x, b.gep(base, [c64(v * LANES)], source_etype=F32), masks[v])


def define_gemm_int8_step(module: ir.Module, gemm: ir.Function, name: str) -> ir.Function:
    """`void name(i8** args, i32 tid, i32 nthreads)` calling `gemm` with the 12 values in
    args[0..11] (M, N, K, A, lda, B, comp, row_scale, col_scale, bias, C, ldc) as 64-bit slots:
    for tests and benchmarks through threads.parallel_run."""
    fn = ir.Function(module, ir.FunctionType(VOID, [PTR, I32, I32]), name=name)
    args, tid, nthreads = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    slots = [b.load(b.gep(args, [c64(i)], source_etype=I64), typ=ty)
             for i, ty in enumerate(gemm.function_type.args[2:])]
    b.call(gemm, [tid, nthreads, *slots])
    b.ret_void()
    return fn
