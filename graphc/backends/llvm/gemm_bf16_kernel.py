"""The bfloat16 GEMM's micro-kernel (gemm_bf16.py): a 6-row x 64-column tile of float32
accumulators over all k pairs, the pair dot product (vdpbf16ps or its exact emulation), and
the epilogue (bias, activation; a bfloat16 C rounds after each, as the interpreter's ops do)."""

from __future__ import annotations

from llvmlite import ir

from graphc.backends.llvm import vecmath
from graphc.backends.llvm.bf16 import round_to_bfloat16, widen_bits
from graphc.backends.llvm.gemm_microkernel import add_incoming, k_loop
from graphc.backends.llvm.gemm_variant import declare
from graphc.backends.llvm.irutil import F32, I16, I32, I64, PTR, c64

VL = 16  # float32 lanes per vector; one vector of packed B holds 16 columns x 2 k
MR, NV = 6, 4  # register tile: 6 rows x 4 vectors (24 accumulators)
PANEL = NV * VL
V32, VI32, VI16 = ir.VectorType(F32, VL), ir.VectorType(I32, VL), ir.VectorType(I16, VL)
MASK = ir.VectorType(ir.IntType(1), VL)


class BFloat(ir.Type):
    """LLVM's `bfloat` (llvmlite has no class for it): the dot product intrinsic's operand."""

    def _to_string(self):
        return "bfloat"


PAIRS = ir.VectorType(BFloat(), 2 * VL)


def splat(b, x, ty=I32):
    vty = ir.VectorType(ty, VL)
    one = b.insert_element(ir.Constant(vty, ir.Undefined), x, ir.Constant(I32, 0))
    return b.shuffle_vector(one, ir.Constant(vty, ir.Undefined),
                            ir.Constant(ir.VectorType(I32, VL), [0] * VL))


def flush_denormal(b, bits):
    """float32 bit patterns with a zero exponent become a zero of their sign (DAZ / FTZ)."""
    exponent = b.and_(bits, ir.Constant(VI32, [0x7F800000] * VL))
    denormal = b.icmp_unsigned("==", exponent, ir.Constant(VI32, [0] * VL))
    return b.select(denormal, b.and_(bits, ir.Constant(VI32, [-(2**31)] * VL)), bits)


def dot(g, b, acc, a_pairs, b_pairs):
    """acc + the pair products, lane by lane, as vdpbf16ps computes it (Intel SDM): inputs'
    denormals read as zero, odd k product added first, then the even one, each sum rounded to
    nearest even and flushed to zero if denormal; products of two bfloat16 are exact."""
    if not g.emulated:
        fn = declare(g.module, "llvm.x86.avx512bf16.dpbf16ps.512",
                     ir.FunctionType(V32, [V32, PAIRS, PAIRS]))
        return b.call(fn, [acc, b.bitcast(a_pairs, PAIRS), b.bitcast(b_pairs, PAIRS)])
    high = ir.Constant(VI32, [-65536] * VL)  # 0xFFFF0000: the odd k's bfloat16, in place
    for part in (lambda x: b.and_(x, high), lambda x: b.shl(x, ir.Constant(VI32, [16] * VL))):
        product = b.fmul(b.bitcast(flush_denormal(b, part(a_pairs)), V32),
                         b.bitcast(flush_denormal(b, part(b_pairs)), V32))
        acc = b.bitcast(flush_denormal(b, b.bitcast(b.fadd(acc, product), VI32)), V32)
    return acc


def load_a_pair(g, b, i, p, odd_tail):
    """(A[i, 2p], A[i, 2p+1]) as one i32 word, op(A)'s row i; in an odd K's tail pair only
    the first (the high half zero): nothing past op(A)'s last column is read."""
    a = g.args
    if g.ta:  # A stored K x M: the pair's two elements are a row apart
        first = b.add(b.mul(b.mul(p, c64(2)), a["lda"]), i)
        low = b.zext(b.load(b.gep(a["A"], [first], source_etype=I16), typ=I16), I32)
        if odd_tail:
            return low
        second = b.gep(a["A"], [b.add(first, a["lda"])], source_etype=I16)
        return b.or_(low, b.shl(b.zext(b.load(second, typ=I16), I32), ir.Constant(I32, 16)))
    ptr = b.gep(a["A"], [b.add(b.mul(i, a["lda"]), b.mul(p, c64(2)))], source_etype=I16)
    if odd_tail:
        return b.zext(b.load(ptr, typ=I16), I32)
    return b.load(ptr, typ=I32, align=2)


def emit_tile(g, b, i0, mr, j0):
    """C[i0:i0+mr, j0:j0+64] (columns past N masked off) from the packed panel at j0."""
    panel = g.packed(b, c64(0), j0)
    full_pairs = b.sdiv(g.args["K"], c64(2))

    def pair_step(b, p, accs, odd_tail=False):
        row = b.gep(panel, [b.mul(p, c64(PANEL))], source_etype=I32)
        bvec = [b.load(b.gep(row, [c64(v * VL)], source_etype=I32), typ=VI32, align=64)
                for v in range(NV)]
        out = []
        for r in range(mr):
            pair = splat(b, load_a_pair(g, b, b.add(i0, c64(r)), p, odd_tail))
            out += [dot(g, b, accs[r * NV + v], pair, bvec[v]) for v in range(NV)]
        return out

    accs = k_loop(g, b, full_pairs, [ir.Constant(V32, None)] * (mr * NV), pair_step)
    odd = b.icmp_signed("!=", b.srem(g.args["K"], c64(2)), c64(0))
    accs = if_else_values(b, odd, lambda b: pair_step(b, full_pairs, accs, True), accs)
    emit_epilogue(g, b, i0, mr, j0, accs)


def emit_epilogue(g, b, i0, mr, j0, accs, nv=NV):
    """accs (mr rows x nv vectors) into C[i0:i0+mr, j0:j0+16nv], columns past N masked off."""
    a = g.args
    iota = ir.Constant(ir.VectorType(I64, VL), list(range(VL)))
    for v in range(nv):
        first = b.add(j0, c64(v * VL))
        mask = b.icmp_signed("<", iota, splat(b, b.sub(a["N"], first), I64))
        bias = masked_load(g, b, a["bias"], first, mask) if g.bias else None
        for r in range(mr):
            x = finish(g, b, accs[r * nv + v], bias)
            offset = b.add(b.mul(b.add(i0, c64(r)), a["ldc"]), first)
            masked_store(g, b, x, a["C"], offset, mask)


def finish(g, b, x, bias):
    """Bias and activation on one accumulator vector; a bfloat16 C rounds after each op."""
    steps = [lambda x: x]
    if bias is not None:
        steps.append(lambda x: b.fadd(x, bias))
    if g.act in ("linear", "relu"):
        steps.append(lambda x: vecmath.emit_activation(b, g.act, x))
    else:  # long expansions: one shared copy instead of one per accumulator
        steps.append(lambda x: b.call(vecmath.activation_function(g.module, g.act, V32), [x]))
    for step in steps:
        x = step(x)
        x = round_to_bfloat16(b, x) if g.out_dtype == "bfloat16" else x
    return x


def masked_load(g, b, base, index, mask):
    """16 values of the output dtype at base[index], as <16 x float>."""
    ty, align = (VI16, 2) if g.out_dtype == "bfloat16" else (V32, 4)
    fn = declare(g.module, f"llvm.masked.load.v16{'i16' if ty == VI16 else 'f32'}.p0",
                 ir.FunctionType(ty, [PTR, I32, MASK, ty]))
    ptr = b.gep(base, [index], source_etype=ty.element)
    value = b.call(fn, [ptr, ir.Constant(I32, align), mask, ir.Constant(ty, None)])
    return widen_bits(b, value) if ty == VI16 else value


def masked_store(g, b, x, base, index, mask):
    ty, align = (VI16, 2) if g.out_dtype == "bfloat16" else (V32, 4)
    fn = declare(g.module, f"llvm.masked.store.v16{'i16' if ty == VI16 else 'f32'}.p0",
                 ir.FunctionType(ir.VoidType(), [ty, PTR, I32, MASK]))
    if ty == VI16:  # already rounded: the upper halves (odd i16 lanes) are the bfloat16 bits
        # a shuffle, not lshr+trunc: LLVM 22 turns a truncating masked store with a constant
        # one-lane mask (N = 1 known at compile time) into a 4-byte store, past the element
        halves = b.bitcast(x, ir.VectorType(I16, 2 * VL))
        odd = ir.Constant(ir.VectorType(I32, VL), list(range(1, 2 * VL, 2)))
        x = b.shuffle_vector(halves, ir.Constant(halves.type, ir.Undefined), odd)
    b.call(fn, [x, b.gep(base, [index], source_etype=ty.element), ir.Constant(I32, align), mask])


def if_else_values(b, cond, then, values):
    """`then(b)` when cond, else `values` unchanged: the merged values."""
    pre = b.block
    taken, end = b.append_basic_block("then"), b.append_basic_block("then.end")
    b.cbranch(cond, taken, end)
    b.position_at_end(taken)
    new = then(b)
    last = b.block
    b.branch(end)
    b.position_at_end(end)
    merged = [b.phi(v.type) for v in values]
    add_incoming(merged, values, pre, new, last)
    return merged
