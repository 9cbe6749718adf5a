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

Algorithm (BLIS-style, A is never packed): a micro-kernel keeps an MR x NV = 6 x 4 block of
<16 x float> (or <8 x double>) accumulators in registers over the whole k loop (LLVM unrolls it
x4), broadcasting one A element per row per k step into llvm.fma with the NV vectors of B's
row k. op(B) is read in place for at most DIRECT_MAX_ROWS rows of C (not transposed); otherwise
it is first packed into panels of 4 vectors (or 1 for the last few columns), zero-padded; B^T is
packed with in-register VL x VL transposes. Loads of B and stores of C are masked, so the N tail
costs nothing extra; the M tail runs a 6-row tile that re-reads the last row (and skips its
stores) while 3-5 rows remain, and 1-row tiles for the last 1-2. Threads split the columns
(each packs its own panels, no barrier) or, when that balances worse (few columns, e.g. N=10),
the rows (packing shared, then one barrier; none when B is read in place).
"""

from __future__ import annotations

from llvmlite import ir

from graphc.backends.llvm import vecmath

MR = 6  # rows of the register block
NV = 4  # vectors per panel row (NR = NV * VL)
# Up to this many rows op(B) (not transposed) is read in place, not packed: measured on Zen 4,
# one thread, 784x500 and 1024x1024 B, packing only pays from ~256 rows (512^3: 111 vs 107).
DIRECT_MAX_ROWS = 128
_VL = {"float32": 16, "float64": 8}
_TY = {"float32": ir.FloatType, "float64": ir.DoubleType}
I32, I64, PTR = ir.IntType(32), ir.IntType(64), ir.PointerType()


def gemm_name(dtype, transpose_a, transpose_b, bias, activation, accumulate) -> str:
    ops = ("t" if transpose_a else "n") + ("t" if transpose_b else "n")
    tail = ("_bias" if bias else "") + f"_{activation}" + ("_acc" if accumulate else "")
    return f"graphc_gemm_{'f32' if dtype == 'float32' else 'f64'}_{ops}{tail}"


def gemm_workspace_elems(M: int, N: int, K: int, nthreads: int, dtype: str = "float32") -> int:
    """Elements of T the caller allocates (64-byte aligned) for `workspace`: all of op(B), packed
    into vectors. M and nthreads do not change it (kept in the signature for callers)."""
    vl = _VL[dtype]
    return max(1, K * ((N + vl - 1) // vl) * vl)


def define_gemm(module: ir.Module, dtype: str, transpose_a: bool, transpose_b: bool,
                bias: bool, activation: str, accumulate: bool) -> ir.Function:
    """Define the GEMM variant in `module` (or return it if already defined). See module doc."""
    if dtype not in _VL:
        raise ValueError(f"define_gemm: dtype must be 'float32' or 'float64'; received {dtype!r}")
    if activation not in vecmath.ACTIVATIONS:
        raise ValueError(f"define_gemm: unknown activation {activation!r}; choose one of "
                         f"{', '.join(sorted(vecmath.ACTIVATIONS))}")
    name = gemm_name(dtype, transpose_a, transpose_b, bias, activation, accumulate)
    existing = module.globals.get(name)
    if existing is not None:
        return existing
    return _GemmEmitter(module, name, dtype, transpose_a, transpose_b, bias, activation,
                        accumulate).define()


def _c64(v):
    return ir.Constant(I64, v)


def _declare(module, name, fnty):
    existing = module.globals.get(name)
    return existing if existing is not None else ir.Function(module, fnty, name=name)


def _counted_loop(b, start, stop, step, body, name):
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


class _GemmEmitter:
    def __init__(self, module, name, dtype, ta, tb, bias, activation, accumulate):
        self.module, self.name, self.dtype = module, name, dtype
        self.ta, self.tb, self.bias, self.act, self.acc = ta, tb, bias, activation, accumulate
        self.T = _TY[dtype]()
        self.vl = _VL[dtype]
        self.V = ir.VectorType(self.T, self.vl)
        self.MV = ir.VectorType(ir.IntType(1), self.vl)
        self.align = 4 if dtype == "float32" else 8

    # ---------------------------------------------------------------- small helpers
    def gep(self, b, ptr, idx):
        return b.gep(ptr, [idx], source_etype=self.T)

    def splat(self, b, x):
        vty = ir.VectorType(x.type, self.vl)
        undef = ir.Constant(vty, ir.Undefined)
        one = b.insert_element(undef, x, ir.Constant(I32, 0))
        return b.shuffle_vector(one, undef, ir.Constant(ir.VectorType(I32, self.vl), [0] * self.vl))

    def lane_mask(self, b, first_col, ncols):
        """Lanes (columns first_col + 0..VL-1) that are < ncols."""
        iota = ir.Constant(ir.VectorType(I64, self.vl), list(range(self.vl)))
        return b.icmp_signed("<", iota, self.splat(b, b.sub(ncols, first_col)))

    def masked_load(self, b, ptr, mask):
        fn = _declare(self.module, f"llvm.masked.load.v{self.vl}{self._tname()}.p0",
                      ir.FunctionType(self.V, [PTR, I32, self.MV, self.V]))
        return b.call(fn, [ptr, ir.Constant(I32, self.align), mask, ir.Constant(self.V, None)])

    def masked_store(self, b, value, ptr, mask):
        fn = _declare(self.module, f"llvm.masked.store.v{self.vl}{self._tname()}.p0",
                      ir.FunctionType(ir.VoidType(), [self.V, PTR, I32, self.MV]))
        b.call(fn, [value, ptr, ir.Constant(I32, self.align), mask])

    def _tname(self):
        return "f32" if self.dtype == "float32" else "f64"

    def function(self, name, args, arg_names):
        fn = ir.Function(self.module, ir.FunctionType(ir.VoidType(), args), name=name)
        fn.attributes.add("noinline")  # each is called from several places: keep one copy
        for arg, arg_name in zip(fn.args, arg_names, strict=True):
            arg.name = arg_name
        return fn, ir.IRBuilder(fn.append_basic_block("entry"))

    # ---------------------------------------------------------------- packing op(B)
    def define_pack(self):
        """pack(B, ldb, K, j0, ncols, nvp, dst): columns j0..j0+ncols of op(B) into dst, row
        stride nvp*VL, zero-padded (shared by all variants with this dtype and transpose_b)."""
        name = f"graphc_gemm_pack_{self._tname()}_{'t' if self.tb else 'n'}"
        if name in self.module.globals:
            return self.module.globals[name]
        fn, b = self.function(name, [PTR, I64, I64, I64, I64, I64, PTR],
                              ["B", "ldb", "K", "j0", "ncols", "nvp", "dst"])
        fn.linkage = "internal"
        B, ldb, K, j0, ncols, nvp, dst = fn.args
        stride = b.mul(nvp, _c64(self.vl))
        if self.tb:
            self._pack_transposed(b, B, ldb, K, j0, ncols, stride, dst)
        else:
            self._pack_rows(b, B, ldb, K, j0, ncols, nvp, stride, dst)
        b.ret_void()
        return fn

    def _pack_rows(self, b, B, ldb, K, j0, ncols, nvp, stride, dst):
        def row(b, k):
            src = self.gep(b, B, b.add(b.mul(k, ldb), j0))
            out = self.gep(b, dst, b.mul(k, stride))

            def vec(b, v):
                col = b.mul(v, _c64(self.vl))
                x = self.masked_load(b, self.gep(b, src, col), self.lane_mask(b, col, ncols))
                b.store(x, self.gep(b, out, col), align=64)
            _counted_loop(b, _c64(0), nvp, _c64(1), vec, "pv")
        _counted_loop(b, _c64(0), K, _c64(1), row, "pk")

    def _pack_transposed(self, b, B, ldb, K, j0, ncols, stride, dst):
        """op(B)[k, j] = B[j, k]: VL x VL blocks are transposed in registers; the k tail and
        the partial/padding columns are copied one element at a time."""
        vl = self.vl
        k_full = b.and_(K, _c64(-vl))
        j_full = b.and_(ncols, _c64(-vl))

        def column_block(b, jb):
            def k_block(b, kb):
                rows = [b.load(self.gep(b, B, b.add(b.mul(b.add(j0, b.add(jb, _c64(i))), ldb),
                                                    kb)), typ=self.V, align=self.align)
                        for i in range(vl)]
                for i, vec in enumerate(self.transpose(b, rows)):
                    out = b.add(b.mul(b.add(kb, _c64(i)), stride), jb)
                    b.store(vec, self.gep(b, dst, out), align=64)
            _counted_loop(b, _c64(0), k_full, _c64(vl), k_block, "tkb")
        _counted_loop(b, _c64(0), j_full, _c64(vl), column_block, "tjb")
        self._pack_elements(b, B, ldb, j0, ncols, stride, dst, _c64(0), stride, k_full, K)
        self._pack_elements(b, B, ldb, j0, ncols, stride, dst, j_full, stride, _c64(0), k_full)

    def transpose(self, b, rows):
        """Transpose VL vectors of VL lanes: log2(VL) rounds of full-width interleaves."""
        n = len(rows)
        lo = ir.Constant(ir.VectorType(I32, n), [x for i in range(n // 2) for x in (i, i + n)])
        hi = ir.Constant(ir.VectorType(I32, n),
                         [x for i in range(n // 2, n) for x in (i, i + n)])
        for _ in range(n.bit_length() - 1):
            rows = [vec for i in range(n // 2)
                    for vec in (b.shuffle_vector(rows[i], rows[i + n // 2], lo),
                                b.shuffle_vector(rows[i], rows[i + n // 2], hi))]
        return rows

    def _pack_elements(self, b, B, ldb, j0, ncols, stride, dst, j_lo, j_hi, k_lo, k_hi):
        zero = ir.Constant(self.T, 0.0)

        def column(b, j):
            valid = b.icmp_signed("<", j, ncols)
            # padding columns (j >= ncols) must not read past B: they re-read column j0
            src_row = self.gep(b, B, b.mul(b.select(valid, b.add(j0, j), j0), ldb))

            def elem(b, k):
                x = b.load(self.gep(b, src_row, k), typ=self.T)
                b.store(b.select(valid, x, zero), self.gep(b, dst, b.add(b.mul(k, stride), j)))
            _counted_loop(b, k_lo, k_hi, _c64(1), elem, "tk")
        _counted_loop(b, j_lo, j_hi, _c64(1), column, "tj")

    # ---------------------------------------------------------------- micro-kernel
    def define_panel(self, nv):
        """panel(K, A, lda, i_start, i_end, Bp, b_stride, C, ldc, j0, ncols, bias): rows
        i_start..i_end of C's columns j0..j0+ncols (<= nv*VL) from the panel at Bp whose k rows
        are b_stride elements apart (a packed panel, or op(B) itself read in place)."""
        names = ["K", "A", "lda", "i_start", "i_end", "Bp", "b_stride", "C", "ldc", "j0",
                 "ncols", "bias"]
        fn, b = self.function(f"{self.name}_panel{nv}",
                              [I64, PTR, I64, I64, I64, PTR, I64, PTR, I64, I64, I64, PTR], names)
        fn.linkage = "internal"
        args = dict(zip(names, fn.args, strict=True))
        # MR-row tiles while at least 3 rows remain (the last may re-read rows it does not
        # store), then single rows: batches of 1 or 2 rows do not pay for 6.
        rows = b.sub(args["i_end"], args["i_start"])
        over_two = b.sub(rows, _c64(2))
        over_two = b.select(b.icmp_signed(">", over_two, _c64(0)), over_two, _c64(0))
        tiled_end = b.add(args["i_start"], _round_up(b, over_two, MR))
        _counted_loop(b, args["i_start"], tiled_end, _c64(MR),
                      lambda b, i0: self.emit_tile(b, nv, MR, i0, args), "mi")
        single_start = b.select(b.icmp_signed("<", tiled_end, args["i_end"]), tiled_end,
                                args["i_end"])
        _counted_loop(b, single_start, args["i_end"], _c64(1),
                      lambda b, i0: self.emit_tile(b, nv, 1, i0, args), "m1")
        b.ret_void()
        return fn

    def emit_tile(self, b, nv, mr, i0, a):
        last_row = b.sub(a["i_end"], _c64(1))
        row_scale, k_stride = (_c64(1), a["lda"]) if self.ta else (a["lda"], _c64(1))
        row_base = []
        for r in range(mr):
            row = b.add(i0, _c64(r))
            if r:
                row = b.select(b.icmp_signed("<", row, last_row), row, last_row)
            row_base.append(b.mul(row, row_scale))
        zero = ir.Constant(self.V, None)
        # masked loads: a panel read in place may end inside the last row of B
        masks = [self.lane_mask(b, _c64(v * self.vl), a["ncols"]) for v in range(nv)]

        def step(b, k, accs):
            bp = self.gep(b, a["Bp"], b.mul(k, a["b_stride"]))
            bvec = [self.masked_load(b, self.gep(b, bp, _c64(v * self.vl)), masks[v])
                    for v in range(nv)]
            koff = b.mul(k, k_stride)
            out = []
            for r in range(mr):
                x = b.load(self.gep(b, a["A"], b.add(row_base[r], koff)), typ=self.T)
                xs = self.splat(b, x)
                out += [vecmath.fma(b, xs, bvec[v], accs[r * nv + v]) for v in range(nv)]
            return out
        accs = self.k_loop(b, a["K"], [zero] * (mr * nv), step)
        self.emit_epilogue(b, nv, mr, i0, accs, a)

    def k_loop(self, b, K, init, step):
        """Run `step` for k in 0..K with the accumulators in phis (LLVM unrolls it x4)."""
        pre = b.block
        body, end = b.append_basic_block("k"), b.append_basic_block("k.end")
        b.cbranch(b.icmp_signed(">", K, _c64(0)), body, end)
        b.position_at_end(body)
        k = b.phi(I64)
        accs = [b.phi(self.V) for _ in init]
        out = step(b, k, accs)
        k_next = b.add(k, _c64(1))
        b.cbranch(b.icmp_signed("<", k_next, K), body, end)
        self._incoming([k, *accs], [_c64(0), *init], pre, [k_next, *out], body)
        b.position_at_end(end)
        final = [b.phi(self.V) for _ in init]
        self._incoming(final, init, pre, out, body)
        return final

    @staticmethod
    def _incoming(phis, first, first_block, second, second_block):
        for phi, x, y in zip(phis, first, second, strict=True):
            phi.add_incoming(x, first_block)
            phi.add_incoming(y, second_block)

    def emit_epilogue(self, b, nv, mr, i0, accs, a):
        masks = [self.lane_mask(b, _c64(v * self.vl), a["ncols"]) for v in range(nv)]
        bias = []
        if self.bias:
            base = self.gep(b, a["bias"], a["j0"])
            bias = [self.masked_load(b, self.gep(b, base, _c64(v * self.vl)), masks[v])
                    for v in range(nv)]
        rows = b.sub(a["i_end"], i0)
        for r in range(mr):
            row_ptr = self.gep(b, a["C"], b.add(b.mul(b.add(i0, _c64(r)), a["ldc"]), a["j0"]))
            if r == 0:
                self.store_row(b, nv, accs[:nv], bias, masks, row_ptr)
                continue
            with b.if_then(b.icmp_signed(">", rows, _c64(r))):
                self.store_row(b, nv, accs[r * nv:(r + 1) * nv], bias, masks, row_ptr)

    def store_row(self, b, nv, accs, bias, masks, row_ptr):
        for v in range(nv):
            x = b.fadd(accs[v], bias[v]) if bias else accs[v]
            if self.act in ("linear", "relu"):
                x = vecmath.emit_activation(b, self.act, x)
            else:  # long expansions: one shared copy instead of MR * NV inlined ones
                x = b.call(vecmath.activation_function(self.module, self.act, self.V), [x])
            ptr = self.gep(b, row_ptr, _c64(v * self.vl))
            if self.acc:
                x = b.fadd(x, self.masked_load(b, ptr, masks[v]))
            self.masked_store(b, x, ptr, masks[v])

    # ---------------------------------------------------------------- the entry point
    def define(self):
        self.pack = self.define_pack()
        self.panels = {nv: self.define_panel(nv) for nv in (1, NV)}
        self.barrier = _declare(self.module, "graphc_barrier",
                                ir.FunctionType(ir.VoidType(), [I32, I32]))
        names = ["tid", "nthreads", "M", "N", "K", "A", "lda", "B", "ldb", "C", "ldc", "bias",
                 "workspace"]
        fn, b = self.function(self.name, [I32, I32, I64, I64, I64, PTR, I64, PTR, I64, PTR,
                                          I64, PTR, PTR], names)
        for arg in (fn.args[9], fn.args[12]):
            arg.add_attribute("noalias")
        self.a = dict(zip(names, fn.args, strict=True))
        self.emit_dispatch(b)
        return fn

    def emit_dispatch(self, b):
        a = self.a
        M, N = a["M"], a["N"]
        with b.if_then(b.or_(b.icmp_signed("<=", M, _c64(0)), b.icmp_signed("<=", N, _c64(0)))):
            b.ret_void()
        nt = b.sext(a["nthreads"], I64)
        nt = b.select(b.icmp_signed("<", nt, _c64(1)), _c64(1), nt)
        t = b.sext(a["tid"], I64)
        nvec = b.sdiv(b.add(N, _c64(self.vl - 1)), _c64(self.vl))
        rows_per = _round_up(b, b.sdiv(b.add(M, b.sub(nt, _c64(1))), nt), MR)
        cost_cols = b.mul(b.sdiv(b.add(nvec, b.sub(nt, _c64(1))), nt), _round_up(b, M, MR))
        cost_rows = b.mul(nvec, rows_per)
        split_cols = b.icmp_signed("<=", cost_cols, cost_rows)
        for direct in ((True, False) if not self.tb else (False,)):
            # the in-place variant first; it returns, so the packed one runs only past it
            with b.if_then(b.icmp_signed("<=", M, _c64(DIRECT_MAX_ROWS)) if direct
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
        offset = b.select(is_full, b.mul(u, _c64(NV)), b.add(b.mul(full, _c64(NV)),
                                                              b.sub(u, full)))
        return b.add(first, offset), is_full

    def emit_split_columns(self, b, t, nt, nvec, direct=False):
        c0 = b.sdiv(b.mul(t, nvec), nt)
        span = b.sub(b.sdiv(b.mul(b.add(t, _c64(1)), nvec), nt), c0)
        full = b.sdiv(span, _c64(NV))
        count = b.add(full, b.srem(span, _c64(NV)))

        def panel(b, u):
            p, is_full = self.panel_at(b, c0, u, full)
            self.emit_panel(b, p, is_full, pack=not direct, i_start=_c64(0), i_end=self.a["M"],
                            direct=direct)
        _counted_loop(b, _c64(0), count, _c64(1), panel, "pc")

    def emit_split_rows(self, b, t, nt, nvec, rows_per, direct):
        full = b.sdiv(nvec, _c64(NV))
        count = b.add(full, b.srem(nvec, _c64(NV)))
        if not direct:
            self.emit_shared_packing(b, t, nt, full, count)
        M = self.a["M"]
        r0 = b.mul(t, rows_per)
        r0 = b.select(b.icmp_signed("<", r0, M), r0, M)
        r1 = b.add(r0, rows_per)
        r1 = b.select(b.icmp_signed("<", r1, M), r1, M)

        def compute(b, u):
            p, is_full = self.panel_at(b, _c64(0), u, full)
            self.emit_panel(b, p, is_full, pack=False, i_start=r0, i_end=r1, direct=direct)
        _counted_loop(b, _c64(0), count, _c64(1), compute, "rq")

    def emit_shared_packing(self, b, t, nt, full, count):
        """Threads pack every nt-th panel of all of op(B), then wait for each other."""
        def pack(b, u):
            p, is_full = self.panel_at(b, _c64(0), u, full)
            self.emit_panel(b, p, is_full, pack=True, i_start=None, i_end=None)
        _counted_loop(b, t, count, nt, pack, "pq")
        b.call(self.barrier, [self.a["tid"], self.a["nthreads"]])

    def emit_panel(self, b, p, is_full, pack, i_start, i_end, direct=False):
        """Pack and/or compute the panel at column vector p (NV vectors wide, or one);
        `direct` computes from op(B) in place (only without transpose_b)."""
        a = self.a
        pc = b.select(is_full, _c64(NV), _c64(1))
        j0 = b.mul(p, _c64(self.vl))
        ncols = b.sub(a["N"], j0)
        width = b.mul(pc, _c64(self.vl))
        ncols = b.select(b.icmp_signed("<", ncols, width), ncols, width)
        bp = self.gep(b, a["workspace"], b.mul(a["K"], j0))
        b_stride = width
        if direct:
            bp, b_stride = self.gep(b, a["B"], j0), a["ldb"]
        if pack:
            b.call(self.pack, [a["B"], a["ldb"], a["K"], j0, ncols, pc, bp])
        if i_start is None:
            return
        args = [a["K"], a["A"], a["lda"], i_start, i_end, bp, b_stride, a["C"], a["ldc"], j0,
                ncols, a["bias"]]
        with b.if_else(is_full) as (wide, narrow):
            with wide:
                b.call(self.panels[NV], args)
            with narrow:
                b.call(self.panels[1], args)


def _round_up(b, x, multiple):
    return b.mul(b.sdiv(b.add(x, _c64(multiple - 1)), _c64(multiple)), _c64(multiple))


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
        slot = b.gep(args, [_c64(i)], source_etype=I64)
        slots.append(b.load(slot, typ=ty))
    b.call(gemm, [tid, nthreads, *slots])
    b.ret_void()
    return fn
