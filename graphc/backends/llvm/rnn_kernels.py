"""LLVM IR for the recurrent sequence ops (graphc/ops/recurrent.py) and their BPTT ops.

One SPMD function per op runs the whole time loop; the number of time steps is an argument,
so neither the code nor its size depends on the sequence length (which may be a run-time size):

    void name(i32 tid, i32 nthreads, i64 batch, i64 steps, ptr inputs..., ptr out, ptr workspace)

Each thread takes blocks of its batch rows through every step: one GEMM of the block's
states with the recurrent kernel (read in place: no workspace, no barrier; the BPTT ops get
U^T as an input), then a pointwise pass over the block's rows (innermost loop over units,
branch-free so it vectorizes; the sigmoid/tanh come from vecmath). The packed layouts
and equations are those of the NumPy references:
    simple_rnn_seq  [h]                    simple_rnn_seq_grad  [da, dh_prev]
    lstm_seq        [h, c, i, f, g, o]     lstm_seq_grad        [dz_i, dz_f, dz_g, dz_o, dh_prev,
                                                                  dc_prev]
    gru_seq         [h, z, r, hh, rh]      gru_seq_grad         [dz, dr, drh, dah, dh_prev]
where the forward GEMM writes its result straight into the packed output (LSTM: z into the
gate slots, accumulated onto P; GRU: h_prev @ U + b into slots r, hh, rh, read before they are
overwritten) and the backward GEMM writes dh_prev (GRU: accumulates onto dh * z).

The forward ops' `_projected` forms (graphc/ops/recurrent_projected.py) take x, W and bx
instead of P and compute each step's x_t @ W + bx for the block's rows just before its
recurrent GEMM (project_inputs), so P is never written whole.

A BPTT op whose upstream gradient gY is of the last step alone (batch, slots * u: ops/
recurrent_upstream.py) gets a `_last` variant that reads it at step T-1 and zeros before.

With a mask (the ops' optional last input, bool (batch, time)) the kernel takes one more
pointer, `mask`, before the output: at a held step the cell's results are replaced by the
previous states (and zero gates), and the backward GEMM accumulates onto the gradient that
passes the step unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

from llvmlite import ir

from graphc.backends.llvm import vecmath
from graphc.backends.llvm.conv_kernels import define_spmd, tag
from graphc.backends.llvm.gemm import DIRECT_MAX_ROWS
from graphc.backends.llvm.gemm_library import gemm_function
from graphc.backends.llvm.irutil import (
    I32,
    ITEMSIZE,
    MEM_TYPE,
    PTR,
    c64,
    const,
    for_range,
    load,
    split_range,
    store,
)

BLOCK_ROWS = DIRECT_MAX_ROWS  # rows per GEMM call: the most the GEMM reads B in place for

# (pointer names, gates, slots of the packed output) per op
LAYOUTS = {
    "simple_rnn_seq": (("P", "h0", "U", "Y"), 1, 1),
    "simple_rnn_seq_grad": (("UT", "Y", "gY", "G"), 1, 2),
    "lstm_seq": (("P", "h0", "c0", "U", "Y"), 4, 6),
    "lstm_seq_grad": (("c0", "UT", "Y", "gY", "G"), 4, 6),
    "gru_seq": (("P", "h0", "U", "b", "Y"), 3, 5),
    "gru_seq_grad": (("h0", "UT", "Y", "gY", "G"), 3, 5),
    # the input projection inside (graphc/ops/recurrent_projected.py): x, W, bx replace P
    "simple_rnn_seq_projected": (("x", "W", "bx", "h0", "U", "Y"), 1, 1),
    "lstm_seq_projected": (("x", "W", "bx", "h0", "c0", "U", "Y"), 4, 6),
    "gru_seq_projected": (("x", "W", "bx", "h0", "U", "b", "Y"), 3, 5),
}


@dataclass
class Rec:
    """The builder state of one recurrence function: sizes, arguments, index helpers."""

    b: object
    a: dict
    dtype: str
    T: object  # the number of time steps: an i64 argument
    u: int
    lanes: int = 1  # > 1 while emitting a unit loop that moves whole vectors
    first_row: object = None  # the current block of batch rows (i64 values)
    block_rows: object = None
    masked: bool = False  # whether the kernel takes a (batch, time) mask
    last_only: bool = False  # whether gY is the last step's gradient alone (batch, width * u)
    features: int = 0  # > 0: the kernel projects x (batch, T, features) itself, no P

    def keep(self, n, t):
        """Whether step t of row n runs (an i1, splatted over the lanes), or None unmasked."""
        if not self.masked:
            return None
        flag = load(self.b, self.a["mask"], self.b.add(self.b.mul(n, self.T), t), "bool")
        if self.lanes == 1:
            return flag
        vector = ir.VectorType(flag.type, self.lanes)
        one = self.b.insert_element(ir.Constant(vector, None), flag, ir.Constant(I32, 0))
        return self.b.shuffle_vector(one, ir.Constant(vector, None),
                                     ir.Constant(ir.VectorType(I32, self.lanes), [0] * self.lanes))

    def upstream(self, width, n, t, slot, k):
        """gY[n, t, slot, k]; with last_only the op got step T-1's rows alone (zeros before),
        so no (batch, T, width * u) tensor of zeros is written and read."""
        if not self.last_only:
            return self.v("gY", self.slot(self.row(width, n, t), slot, k))
        value = self.ld("gY", self.slot(self.b.mul(n, c64(width * self.u)), slot, k))
        is_last = self.b.icmp_signed("==", t, self.last_step())
        return V(self, self.b.select(is_last, value, self.c(0)))

    def hold(self, keep, new, old):
        """new where the step runs, else old (numbers are constants); new when unmasked."""
        if keep is None:
            return new
        lift = lambda x: raw(x) if isinstance(x, V) else self.c(x)  # noqa: E731
        return V(self, self.b.select(keep, lift(new), lift(old)))

    @property
    def vl(self) -> int:
        return {"float32": 16, "float64": 8}[self.dtype]

    def row(self, width, n, t):
        """Offset of (n, t, 0) in a (batch, T, width * u) tensor."""
        return self.b.mul(self.b.add(self.b.mul(n, self.T), t), c64(width * self.u))

    def last_step(self):
        return self.b.sub(self.T, c64(1))

    def step_stride(self, width):
        """Elements between batch rows of a (batch, T, width * u) tensor."""
        return self.b.mul(self.T, c64(width * self.u))

    def ld(self, name, index):
        if self.lanes == 1:
            return load(self.b, self.a[name], index, self.dtype)
        ty = ir.VectorType(MEM_TYPE[self.dtype], self.lanes)
        return self.b.load(self.at(name, index), typ=ty, align=ITEMSIZE[self.dtype])

    def st(self, value, name, index):
        if self.lanes == 1:
            store(self.b, raw(value), self.a[name], index, self.dtype)
        else:
            self.b.store(raw(value), self.at(name, index), align=ITEMSIZE[self.dtype])

    def c(self, value):
        scalar = const(self.dtype, value)
        if self.lanes == 1:
            return scalar
        return ir.Constant(ir.VectorType(scalar.type, self.lanes), [scalar] * self.lanes)

    def rows(self, body):
        """body(n) for the batch rows of the current block."""
        end = self.b.add(self.first_row, self.block_rows)
        for_range(self.b, self.first_row, end, body, name="n")

    def row_blocks(self, body):
        """body() once per block of at most BLOCK_ROWS of this thread's batch rows (set as
        first_row, block_rows). Batch rows are independent recurrences, so a thread runs its
        blocks through all time steps without ever waiting for another thread."""
        b = self.b
        lo, hi = split_range(b, self.a["batch"], self.a["tid"], self.a["nthreads"])
        count = b.sdiv(b.add(b.sub(hi, lo), c64(BLOCK_ROWS - 1)), c64(BLOCK_ROWS))

        def block(k):
            self.first_row = b.add(lo, b.mul(k, c64(BLOCK_ROWS)))
            left = b.sub(hi, self.first_row)
            small = b.icmp_signed("<", left, c64(BLOCK_ROWS))
            self.block_rows = b.select(small, left, c64(BLOCK_ROWS))
            body()

        for_range(b, c64(0), count, block, name="block")

    def units(self, body):
        """body(k) over the units: whole vectors of lanes first (explicit, so the cell math
        vectorizes whatever LLVM can prove about aliasing), then one unit at a time."""
        whole = self.u // self.vl * self.vl
        if whole:
            self.lanes = self.vl
            for_range(
                self.b,
                c64(0),
                c64(whole // self.vl),
                lambda j: body(self.b.mul(j, c64(self.vl))),
                name="kv",
            )
            self.lanes = 1
        if whole < self.u:
            for_range(self.b, c64(whole), c64(self.u), body, name="k")

    def gemm(self, N, K, A, lda, B, ldb, C, ldc, *, bias=None, acc=False):
        """C (+)= A @ B (+ bias) for the current block's rows, on this thread alone: with at
        most DIRECT_MAX_ROWS rows the GEMM reads B in place (no packing, no barrier)."""
        gemm_alone(self.b, self.dtype, (self.block_rows, c64(N), c64(K)), (A, lda), (B, c64(ldb)),
                   (C, ldc), bias=bias, acc=acc, workspace=self.a["workspace"])

    def slot(self, base, slot, k):
        """Index of unit k of slot `slot` in a packed row starting at `base`."""
        return self.b.add(base, self.b.add(c64(slot * self.u), k))

    def v(self, name, index):
        """Element `index` of argument `name` as an arithmetic-friendly value."""
        return V(self, self.ld(name, index))

    def at(self, name, offset):
        return self.b.gep(self.a[name], [offset], source_etype=MEM_TYPE[self.dtype])

    def previous(self, t, first_value, later_value):
        """first_value() at t == 0, else later_value(t - 1): both evaluated, one selected."""
        is_first = self.b.icmp_signed("==", t, c64(0))
        earlier = self.b.select(is_first, c64(0), self.b.sub(t, c64(1)))
        return V(self, self.b.select(is_first, raw(first_value()), raw(later_value(earlier))))

    def next_or_zero(self, t, later_value):
        """later_value(t + 1) for t < T - 1, else 0 (loads from a clamped, valid index)."""
        is_last = self.b.icmp_signed("==", t, self.last_step())
        nxt = self.b.select(is_last, t, self.b.add(t, c64(1)))
        return V(self, self.b.select(is_last, self.c(0), raw(later_value(nxt))))


def gemm_alone(b, dtype, sizes, A, B, C, *, bias=None, acc=False, transpose_a=False,
               workspace=None):
    """C (+)= op(A) @ B (+ bias) on the calling thread alone (tid 0 of 1): sizes = (M, N, K),
    A, B, C = (pointer, leading dimension), all i64 values. With at most DIRECT_MAX_ROWS rows
    the GEMM reads B in place and needs no workspace."""
    fn = gemm_function(b.module, dtype, transpose_a, False, bias is not None, "linear", acc)
    null = ir.Constant(PTR, None)
    b.call(fn, [ir.Constant(I32, 0), ir.Constant(I32, 1), *sizes, *A, *B, *C,
                null if bias is None else bias, null if workspace is None else workspace])


def raw(x):
    return x.value if isinstance(x, V) else x


class V:
    """An IR float value with arithmetic operators, so cell equations read like the NumPy ones
    (plain IEEE operations, no fast-math, to stay close to the reference)."""

    def __init__(self, r: Rec, value):
        self.r, self.value = r, value

    def lift(self, other):
        return other.value if isinstance(other, V) else self.r.c(other)

    def __add__(self, o):
        return V(self.r, self.r.b.fadd(self.value, self.lift(o)))

    def __sub__(self, o):
        return V(self.r, self.r.b.fsub(self.value, self.lift(o)))

    def __mul__(self, o):
        return V(self.r, self.r.b.fmul(self.value, self.lift(o)))

    def __rsub__(self, o):
        return V(self.r, self.r.b.fsub(self.lift(o), self.value))

    __radd__, __rmul__ = __add__, __mul__


def sigmoid(x: V) -> V:
    return V(x.r, vecmath.emit_sigmoid(x.r.b, x.value))


def tanh(x: V) -> V:
    return V(x.r, vecmath.emit_tanh(x.r.b, x.value))


def activation(name: str, x: V) -> V:
    return V(x.r, vecmath.emit_activation(x.r.b, name, x.value))


def activation_slope(name: str, y: V) -> V:
    """d activation / d input, from the activation's output y (as in the NumPy reference)."""
    if name == "tanh":
        return 1 - y * y
    if name == "sigmoid":
        return y * (1 - y)
    if name == "relu":
        b = y.r.b
        return V(y.r, b.select(b.fcmp_ordered(">", y.value, y.r.c(0)), y.r.c(1), y.r.c(0)))
    return V(y.r, y.r.c(1))


def start(module, op, dtype, units, suffix="", masked=False, last_only=False, features=0):
    """The op's function and its builder state (None when the module has it already); with
    `features` the op's `_projected` form, which reads x, W and bx instead of P."""
    op += "_projected" if features else ""
    *inputs, output = LAYOUTS[op][0]
    names = (*inputs, *(("mask",) if masked else ()), output, "workspace")
    suffix += ("_masked" if masked else "") + ("_last" if last_only else "")
    suffix += f"_x{features}" if features else ""
    fn, b, a = define_spmd(module, f"graphc_{op}{suffix}_{tag(dtype)}_{units}", names,
                           ("batch", "steps"))
    if b is None:
        return fn, None
    return fn, Rec(b, a, dtype, a["steps"], units, masked=masked, last_only=last_only,
                   features=features)


def time_loop(r, forward: bool, step):
    """step(t) for t = 0..T-1 (forward) or T-1..0."""

    def body(i):
        step(i if forward else r.b.sub(r.last_step(), i))

    for_range(r.b, c64(0), r.T, body, name="t")


def hidden_before(r, t, width, n, k):
    """h_{t-1}[n, k]: h0 at t == 0, else slot 0 of the packed output Y at t - 1."""
    return r.previous(
        t,
        lambda: r.ld("h0", r.b.add(r.b.mul(n, c64(r.u)), k)),
        lambda e: r.ld("Y", r.b.add(r.row(width, n, e), k)),
    )


def recurrent_gemm(r, t, width, gates, C_offset, bias=None, acc=False):
    """Y[block, t, C_offset units...] (+)= h_{t-1}[block] @ U (+ bias)."""
    b, u = r.b, r.u
    block = b.mul(r.first_row, r.step_stride(width))
    is_first = b.icmp_signed("==", t, c64(0))
    earlier = b.select(is_first, c64(0), b.sub(t, c64(1)))
    A = b.select(
        is_first,
        r.at("h0", b.mul(r.first_row, c64(u))),
        r.at("Y", b.add(block, b.mul(earlier, c64(width * u)))),
    )
    lda = b.select(is_first, c64(u), r.step_stride(width))
    C = r.at("Y", b.add(block, b.add(b.mul(t, c64(width * u)), c64(C_offset * u))))
    r.gemm(gates * u, u, A, lda, r.a["U"], gates * u, C, r.step_stride(width), bias=bias,
           acc=acc)


def project_inputs(r, t, width, slot, gates, columns, *, acc=False):
    """Y[block, t, slot units...] (+)= x[block, t] @ W[:, columns] + bx[columns], W being
    (features, gates * u) and columns a range of its units: the step's input projection,
    computed for the block's rows just before its recurrent GEMM (while they are in cache)
    instead of read from a whole-sequence P."""
    b, u = r.b, r.u
    first, count = columns.start * u, (columns.stop - columns.start) * u
    row_stride = b.mul(r.T, c64(r.features))
    A = r.at("x", b.add(b.mul(r.first_row, row_stride), b.mul(t, c64(r.features))))
    C = r.at("Y", b.add(b.mul(r.first_row, r.step_stride(width)),
                        b.add(b.mul(t, c64(width * u)), c64(slot * u))))
    W_columns = r.at("W", c64(first))
    r.gemm(count, r.features, A, row_stride, W_columns, gates * u, C, r.step_stride(width),
           bias=r.at("bx", c64(first)), acc=acc)


def backward_gemm(r, t, width, k_units, c_slot, acc=False):
    """G[block, t, c_slot] (+)= G[block, t, :k_units] @ U^T (the op's input UT)."""
    b, u = r.b, r.u
    row = b.add(b.mul(r.first_row, r.step_stride(width)), b.mul(t, c64(width * u)))
    C = r.at("G", b.add(row, c64(c_slot * u)))
    r.gemm(
        u,
        k_units * u,
        r.at("G", row),
        r.step_stride(width),
        r.a["UT"],
        u,
        C,
        r.step_stride(width),
        acc=acc,
    )
