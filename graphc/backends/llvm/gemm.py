"""A register-blocked, multi-threaded GEMM emitted as LLVM IR, with a fused epilogue.

Public API:
  define_gemm(module, dtype, transpose_a, transpose_b, bias, activation, accumulate) -> ir.Function
      defines (once per variant per module; later calls return the same function)
        void @name(i32 tid, i32 nthreads, i64 M, i64 N, i64 K, T* A, i64 lda, T* B, i64 ldb,
                   T* C, i64 ldc, T* bias, T* workspace)
      computing  C[M,N] = act(op(A) @ op(B) + bias[None, :])  (+ the old C when accumulate),
      row-major with leading dimensions; op(A) = A^T when transpose_a (A is then stored K x M),
      op(B) = B^T when transpose_b (B stored N x K). `bias` is ignored (may be null) without the
      bias flag. activation: 'linear', 'relu', 'sigmoid', 'tanh'. dtype 'float32' | 'float64'.
  gemm_workspace_elems(M, N, K, nthreads, dtype='float32') -> int   elements of T for
      `workspace` (64-byte aligned; K * ceil(N / VL) * VL: independent of M and nthreads)
  gemm_name(...) -> str                              the symbol define_gemm uses
  define_gemm_step(module, gemm, name) -> ir.Function   a step function that calls one GEMM with
      arguments read from an i8** array (for tests and benchmarks via threads.parallel_run)

SPMD contract: EVERY thread of a parallel run calls the function with its tid and the same
arguments; each thread computes a disjoint part of C. When it splits rows it first packs B
cooperatively and meets the others at `graphc_barrier`. The workspace is in use until every
thread has returned: a caller that reuses it for another kernel puts a barrier in between.
M, N, K are run-time values; any sizes work (0 included: nothing is written, or act(bias)).

Algorithm (BLIS-style): a micro-kernel keeps an MR x NV block of <16 x float>
(or <8 x double>) accumulators in registers over the k loop (gemm_plan.py picks MR x NV, the
unrolling and the K-blocking per machine: 6 x 4 everywhere so far), broadcasting one A element
per row per k step into llvm.fma with the NV vectors of B's row k. op(B) is read in place for
at most DIRECT_MAX_ROWS rows of C (not transposed); otherwise it is first packed into panels of
NV vectors (or 1 for the last few columns), zero-padded; B^T is packed with in-register VL x VL
transposes. Whole panels load B and store C unmasked; the panel holding the N tail masks them
(a masked load cost the k loop ~20% of the peak on Intel). The M tail runs an MR-row tile that
re-reads the last row (and skips its stores) while 3 or more rows remain, and 1-row tiles for
the last 1-2. With K-blocking a panel is computed in passes over blocks of k (partial sums kept
in C). A transposed (stored K x M: a power-of-two M puts every k step's element in another page
and the same L1 set) is copied first, block by block of at most gemm_pack.A_BLOCK_K k rows and
A_BLOCK_ELEMS elements, into MR-row panels on the thread's stack; every panel of the thread's
columns then reads the block from L2 in one stream (wide weight gradient 2048x256x2048 on one
thread: 43% -> 72% of peak) - when a thread has PACK_A_MIN_COLUMNS columns to share the copy,
else A^T is read in place (narrow products: the copy would cost more than it saves).
Threads split the columns (each packs its own panels, no barrier) or, when that balances worse
(few columns, e.g. N=10), the rows (packing shared, then one barrier; none when B is read in place).

Modules: gemm_variant.py (a variant's types, vector helpers), gemm_plan.py (blocking per
machine), gemm_pack.py (packing op(B) and A^T), gemm_microkernel.py (register block and epilogue),
this one (the entry: the threads' split).
"""

from __future__ import annotations

from llvmlite import ir

from graphc.backends.llvm import vecmath
from graphc.backends.llvm.gemm_microkernel import define_panel
from graphc.backends.llvm.gemm_pack import (
    A_BLOCK_ELEMS,
    A_BLOCK_K,
    PACK_A_MIN_COLUMNS,
    define_pack,
    define_pack_a,
)
from graphc.backends.llvm.gemm_plan import TilePlan, host_plan
from graphc.backends.llvm.gemm_variant import (
    VECTOR_LANES,
    GemmVariant,
    counted_loop,
    declare,
    entry_prologue,
    round_up,
)
from graphc.backends.llvm.irutil import I32, I64, PTR, c64, smax, smin

# Up to this many rows op(B) (not transposed) is read in place, not packed: measured on Zen 4,
# one thread, 784x500 and 1024x1024 B, packing only pays from ~256 rows (512^3: 111 vs 107).
DIRECT_MAX_ROWS = 128
ENTRY_ARGS = ["tid", "nthreads", "M", "N", "K", "A", "lda", "B", "ldb", "C", "ldc", "bias",
              "workspace"]
ENTRY_TYPES = [I32, I32, I64, I64, I64, PTR, I64, PTR, I64, PTR, I64, PTR, PTR]


def gemm_name(dtype, transpose_a, transpose_b, bias, activation, accumulate) -> str:
    ops = ("t" if transpose_a else "n") + ("t" if transpose_b else "n")
    tail = ("_bias" if bias else "") + f"_{activation}" + ("_acc" if accumulate else "")
    return f"graphc_gemm_{'f32' if dtype == 'float32' else 'f64'}_{ops}{tail}"


def gemm_workspace_elems(M: int, N: int, K: int, nthreads: int, dtype: str = "float32") -> int:
    """Elements of T the caller allocates (64-byte aligned) for `workspace`: all of op(B), packed
    into vectors. M and nthreads do not change it (kept in the signature for callers)."""
    vl = VECTOR_LANES[dtype]
    return max(1, K * ((N + vl - 1) // vl) * vl)


def define_gemm(module: ir.Module, dtype: str, transpose_a: bool, transpose_b: bool,
                bias: bool, activation: str, accumulate: bool,
                plan: TilePlan | None = None) -> ir.Function:
    """Define the GEMM variant in `module` (or return it if already defined). See module doc.
    plan: the register tile and blocking (default: gemm_plan.host_plan(), this machine's)."""
    if dtype not in VECTOR_LANES:
        raise ValueError(f"define_gemm: dtype must be 'float32' or 'float64'; received {dtype!r}")
    if activation not in vecmath.ACTIVATIONS:
        raise ValueError(f"define_gemm: unknown activation {activation!r}; choose one of "
                         f"{', '.join(sorted(vecmath.ACTIVATIONS))}")
    name = gemm_name(dtype, transpose_a, transpose_b, bias, activation, accumulate)
    existing = module.globals.get(name)
    if existing is not None:
        return existing
    variant = GemmVariant(module, name, dtype, transpose_a, transpose_b, bias, activation,
                          accumulate, plan or host_plan())
    return GemmEntry(variant).fn


class GemmEntry:
    """The variant's entry function, emitted on construction: it splits C between the threads
    (by columns or by rows), packs op(B) or reads it in place, and calls the panels."""

    def __init__(self, g: GemmVariant):
        self.g = g
        self.pack = define_pack(g)
        self.pack_a = define_pack_a(g) if g.pack_a else None
        self.nv = g.plan.nv
        self.panels = {nv: define_panel(g, nv) for nv in {1, self.nv}}
        self.barrier = declare(g.module, "graphc_barrier",
                               ir.FunctionType(ir.VoidType(), [I32, I32]))
        self.fn, b = g.function(g.name, ENTRY_TYPES, ENTRY_ARGS)
        for arg in (self.fn.args[9], self.fn.args[12]):
            arg.add_attribute("noalias")
        self.a = dict(zip(ENTRY_ARGS, self.fn.args, strict=True))
        self.emit_dispatch(b)

    def emit_dispatch(self, b):
        self.ap = ir.Constant(PTR, None)
        if self.pack_a is not None:  # a constant size: the entry block's frame holds it
            self.ap = b.alloca(self.g.T, size=c64(A_BLOCK_ELEMS))
            self.ap.align = 64
        M, N, nt, t, nvec = entry_prologue(b, self.a, self.g.vl)
        mr = self.g.plan.mr
        rows_per = round_up(b, b.sdiv(b.add(M, b.sub(nt, c64(1))), nt), mr)
        cost_cols = b.mul(b.sdiv(b.add(nvec, b.sub(nt, c64(1))), nt), round_up(b, M, mr))
        cost_rows = b.mul(nvec, rows_per)
        split_cols = b.icmp_signed("<=", cost_cols, cost_rows)
        for direct in ((True, False) if not self.g.tb else (False,)):
            # the in-place variant first; it returns, so the packed one runs only past it
            with b.if_then(b.icmp_signed("<=", M, c64(DIRECT_MAX_ROWS)) if direct
                           else ir.Constant(ir.IntType(1), 1)):
                with b.if_else(split_cols) as (by_cols, by_rows):
                    with by_cols:
                        self.emit_split_columns(b, t, nt, nvec, direct)
                    with by_rows:
                        self.emit_split_rows(b, t, nt, nvec, rows_per, direct)
                b.ret_void()
        b.ret_void()

    def panel_at(self, b, first, u, full):
        """Panel u of a column range starting at vector `first` that holds `full` NV-vector
        panels followed by one-vector panels: (first column vector, is it NV wide)."""
        is_full = b.icmp_signed("<", u, full)
        nv = c64(self.nv)
        offset = b.select(is_full, b.mul(u, nv), b.add(b.mul(full, nv), b.sub(u, full)))
        return b.add(first, offset), is_full

    def emit_split_columns(self, b, t, nt, nvec, direct=False):
        c0 = b.sdiv(b.mul(t, nvec), nt)
        span = b.sub(b.sdiv(b.mul(b.add(t, c64(1)), nvec), nt), c0)
        full = b.sdiv(span, c64(self.nv))
        count = b.add(full, b.srem(span, c64(self.nv)))
        self.emit_row_range(b, c64(0), self.a["M"], (c0, full, count, span), not direct, direct)

    def emit_split_rows(self, b, t, nt, nvec, rows_per, direct):
        full = b.sdiv(nvec, c64(self.nv))
        count = b.add(full, b.srem(nvec, c64(self.nv)))
        if not direct:
            self.emit_shared_packing(b, t, nt, full, count)
        M = self.a["M"]
        r0 = b.mul(t, rows_per)
        r0 = smin(b, r0, M)
        r1 = b.add(r0, rows_per)
        r1 = smin(b, r1, M)
        self.emit_row_range(b, r0, r1, (c64(0), full, count, nvec), False, direct)

    def emit_row_range(self, b, r0, r1, panels, pack, direct):
        """Rows r0..r1 of the panels (first vector, full NV-wide ones, count, vectors); `pack`:
        pack each panel of op(B) before its first use. A^T is packed, in blocks of rows and k,
        when enough columns share it."""
        first, full, count, vectors = panels

        def in_place(b):
            def compute(b, u):
                p, is_full = self.panel_at(b, first, u, full)
                self.emit_panel(b, p, is_full, pack, r0, r1, direct)
            counted_loop(b, c64(0), count, c64(1), compute, "rq")
        if self.pack_a is None:
            in_place(b)
            return
        wide = b.icmp_signed(">=", b.mul(vectors, c64(self.g.vl)), c64(PACK_A_MIN_COLUMNS))
        with b.if_else(wide) as (packed, narrow):
            with packed:
                self.emit_packed_blocks(b, r0, r1, panels, pack, direct)
            with narrow:
                in_place(b)

    def emit_packed_blocks(self, b, r0, r1, panels, pack, direct):
        """emit_row_range with A^T packed block by block (gemm_pack.define_pack_a)."""
        first, full, count, _ = panels
        a, mr = self.a, self.g.plan.mr
        k_rows = smax(b, smin(b, a["K"], c64(A_BLOCK_K)), c64(1))
        block_rows = b.mul(b.sdiv(b.sdiv(c64(A_BLOCK_ELEMS), k_rows), c64(mr)), c64(mr))
        k_end = smax(b, a["K"], c64(1))

        def row_block(b, m0):
            m1 = b.add(m0, block_rows)
            m1 = smin(b, m1, r1)

            def k_block(b, k_lo):
                k_hi = b.add(k_lo, k_rows)
                k_hi = smin(b, k_hi, a["K"])
                b.call(self.pack_a, [a["A"], a["lda"], k_lo, k_hi, m0, m1, self.ap])
                pack_now = pack and b.and_(b.icmp_signed("==", m0, r0),
                                           b.icmp_signed("==", k_lo, c64(0)))

                def compute(b, u):
                    p, is_full = self.panel_at(b, first, u, full)
                    self.emit_panel(b, p, is_full, pack_now, m0, m1, direct, (k_lo, k_hi),
                                    self.ap)
                counted_loop(b, c64(0), count, c64(1), compute, "bq")
            counted_loop(b, c64(0), k_end, k_rows, k_block, "bk")
        counted_loop(b, r0, r1, block_rows, row_block, "bm")

    def emit_shared_packing(self, b, t, nt, full, count):
        """Threads pack every nt-th panel of all of op(B), then wait for each other."""
        def pack(b, u):
            p, is_full = self.panel_at(b, c64(0), u, full)
            self.emit_panel(b, p, is_full, pack=True, i_start=None, i_end=None)
        counted_loop(b, t, count, nt, pack, "pq")
        b.call(self.barrier, [self.a["tid"], self.a["nthreads"]])

    def emit_panel(self, b, p, is_full, pack, i_start, i_end, direct=False, k_range=None,
                   packed_a=None):
        """Pack (`pack`: a bool, or an i1 decided at run time) and/or compute the panel at
        column vector p (NV vectors wide, or one), k rows k_range (default all);
        `direct` computes from op(B) in place (only without transpose_b); packed_a: the
        packed block of A^T the tiles read (default none: A in place)."""
        a = self.a
        pc = b.select(is_full, c64(self.nv), c64(1))
        j0 = b.mul(p, c64(self.g.vl))
        ncols = b.sub(a["N"], j0)
        width = b.mul(pc, c64(self.g.vl))
        ncols = smin(b, ncols, width)
        bp = self.g.gep(b, a["workspace"], b.mul(a["K"], j0))
        b_stride = width
        if direct:
            bp, b_stride = self.g.gep(b, a["B"], j0), a["ldb"]
        if isinstance(pack, ir.Value):
            with b.if_then(pack):
                b.call(self.pack, [a["B"], a["ldb"], a["K"], j0, ncols, pc, bp])
        elif pack:
            b.call(self.pack, [a["B"], a["ldb"], a["K"], j0, ncols, pc, bp])
        if i_start is None:
            return
        k_lo, k_hi = k_range or (c64(0), a["K"])
        args = [a["K"], a["A"], a["lda"], i_start, i_end, bp, b_stride, a["C"], a["ldc"], j0,
                ncols, a["bias"], k_lo, k_hi, packed_a or ir.Constant(PTR, None)]
        with b.if_else(is_full) as (wide, narrow):
            with wide:
                b.call(self.panels[self.nv], args)
            with narrow:
                b.call(self.panels[1], args)


def define_gemm_step(module: ir.Module, gemm: ir.Function, name: str) -> ir.Function:
    """A step function `void name(i8** args, i32 tid, i32 nthreads)` that calls `gemm` with the
    11 values in args[0..10]: M, N, K, A, lda, B, ldb, C, ldc, bias, workspace (integers stored
    as 64-bit slots). Lets tests and benchmarks run one GEMM through threads.parallel_run."""
    fnty = ir.FunctionType(ir.VoidType(), [PTR, I32, I32])
    fn = ir.Function(module, fnty, name=name)
    args, tid, nthreads = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    slots = []
    for i, ty in enumerate(gemm.function_type.args[2:]):
        slot = b.gep(args, [c64(i)], source_etype=I64)
        slots.append(b.load(slot, typ=ty))
    b.call(gemm, [tid, nthreads, *slots])
    b.ret_void()
    return fn
