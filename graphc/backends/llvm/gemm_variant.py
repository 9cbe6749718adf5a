"""One GEMM variant being emitted (gemm.py): its types and the vector-IR helpers that the
packing, micro-kernel and driver modules share (masked loads/stores, splats, counted loops)."""

from __future__ import annotations

from dataclasses import dataclass, field

from llvmlite import ir

from graphc.backends.llvm.gemm_plan import TilePlan
from graphc.backends.llvm.irutil import I32, I64, PTR, c64

VECTOR_LANES = {"float32": 16, "float64": 8}
_ELEMENT_TYPE = {"float32": ir.FloatType, "float64": ir.DoubleType}


@dataclass
class GemmVariant:
    """The flags of define_gemm for one `module`, and the IR types they imply."""

    module: ir.Module
    name: str
    dtype: str
    ta: bool  # transpose_a
    tb: bool  # transpose_b
    bias: bool
    act: str
    acc: bool  # accumulate into C
    plan: TilePlan  # register tile, K-blocking, prefetch (gemm_plan.py)
    T: ir.Type = field(init=False)  # the element type
    vl: int = field(init=False)  # lanes per vector
    V: ir.VectorType = field(init=False)
    MV: ir.VectorType = field(init=False)  # a lane mask
    align: int = field(init=False)

    def __post_init__(self):
        self.T = _ELEMENT_TYPE[self.dtype]()
        self.vl = VECTOR_LANES[self.dtype]
        self.V = ir.VectorType(self.T, self.vl)
        self.MV = ir.VectorType(ir.IntType(1), self.vl)
        self.align = 4 if self.dtype == "float32" else 8

    @property
    def k_block(self) -> int | None:
        """k rows per pass. Passes keep partial sums in C, so `act(op(A) @ op(B)) + old C` with
        a nonlinear act needs all of K in one pass (the old C is folded in first otherwise)."""
        return None if self.acc and self.act != "linear" else self.plan.k_block

    @property
    def pack_a(self) -> bool:
        """A transposed may be read from blocks packed into MR-row panels (gemm_pack.define_pack_a;
        gemm.py decides per call). The blocks cut K into passes, so `act(...) + old C` with a
        nonlinear act cannot."""
        return self.ta and not (self.acc and self.act != "linear")

    @property
    def unroll(self) -> int:
        """k steps per trip of the k loop. With A transposed in place, LLVM turns each unrolled
        step's rows into addresses of their own and spills them (and B vectors): one (a packed
        block of A^T unrolls as planned)."""
        return 1 if self.ta else self.plan.unroll

    def gep(self, b, ptr, idx):
        return b.gep(ptr, [idx], source_etype=self.T)

    def splat(self, b, x):
        vty = ir.VectorType(x.type, self.vl)
        undef = ir.Constant(vty, ir.Undefined)
        one = b.insert_element(undef, x, ir.Constant(I32, 0))
        return b.shuffle_vector(one, undef, ir.Constant(ir.VectorType(I32, self.vl), [0] * self.vl))

    def lane_mask(self, b, first_col, ncols):
        """Lanes (columns first_col + 0..VL-1) that are < ncols."""
        # one 32-bit compare (two of 64 bits would be merged in a mask register per use)
        left = b.sub(ncols, first_col)
        left = b.trunc(b.select(b.icmp_signed("<", left, c64(self.vl)), left, c64(self.vl)), I32)
        iota = ir.Constant(ir.VectorType(I32, self.vl), list(range(self.vl)))
        return b.icmp_signed("<", iota, self.splat(b, left))

    def masked_load(self, b, ptr, mask):
        fn = declare(self.module, f"llvm.masked.load.v{self.vl}{self.tname()}.p0",
                     ir.FunctionType(self.V, [PTR, I32, self.MV, self.V]))
        return b.call(fn, [ptr, ir.Constant(I32, self.align), mask, ir.Constant(self.V, None)])

    def masked_store(self, b, value, ptr, mask):
        fn = declare(self.module, f"llvm.masked.store.v{self.vl}{self.tname()}.p0",
                     ir.FunctionType(ir.VoidType(), [self.V, PTR, I32, self.MV]))
        b.call(fn, [value, ptr, ir.Constant(I32, self.align), mask])

    def load_vector(self, b, ptr, mask):
        """A vector from ptr: masked, or a plain load when mask is None (all lanes)."""
        return b.load(ptr, typ=self.V, align=self.align) if mask is None else \
            self.masked_load(b, ptr, mask)

    def store_vector(self, b, value, ptr, mask):
        if mask is None:
            b.store(value, ptr, align=self.align)
        else:
            self.masked_store(b, value, ptr, mask)

    def tname(self):
        return "f32" if self.dtype == "float32" else "f64"

    def function(self, name, args, arg_names):
        fn = ir.Function(self.module, ir.FunctionType(ir.VoidType(), args), name=name)
        fn.attributes.add("noinline")  # each is called from several places: keep one copy
        for arg, arg_name in zip(fn.args, arg_names, strict=True):
            arg.name = arg_name
        return fn, ir.IRBuilder(fn.append_basic_block("entry"))


def declare(module, name, fnty):
    existing = module.globals.get(name)
    return existing if existing is not None else ir.Function(module, fnty, name=name)


def counted_loop(b, start, stop, step, body, name):
    """for i in range(start, stop, step): body(b, i) -- emitted at the builder's position."""
    head = b.append_basic_block(f"{name}.head")
    loop = b.append_basic_block(f"{name}.body")
    done = b.append_basic_block(f"{name}.done")
    pre = b.block
    b.branch(head)
    b.position_at_end(head)
    i = b.phi(I64, name=name)
    i.add_incoming(start, pre)
    b.cbranch(b.icmp_signed("<", i, stop), loop, done)
    b.position_at_end(loop)
    body(b, i)
    i.add_incoming(b.add(i, step), b.block)
    b.branch(head)
    b.position_at_end(done)


def round_up(b, x, multiple):
    return b.mul(b.sdiv(b.add(x, c64(multiple - 1)), c64(multiple)), c64(multiple))


def entry_prologue(b, a, lanes: int):
    """A GEMM entry's start: return at once for an empty C; else (M, N, nthreads (at least
    1), tid, the number of `lanes`-wide column vectors of C), all i64."""
    M, N = a["M"], a["N"]
    with b.if_then(b.or_(b.icmp_signed("<=", M, c64(0)), b.icmp_signed("<=", N, c64(0)))):
        b.ret_void()
    nt = b.sext(a["nthreads"], I64)
    nt = b.select(b.icmp_signed("<", nt, c64(1)), c64(1), nt)
    t = b.sext(a["tid"], I64)
    return M, N, nt, t, b.sdiv(b.add(N, c64(lanes - 1)), c64(lanes))
