"""LLVM IR for the recurrent sequence ops (graphc/ops/recurrent.py) and their BPTT ops.

One SPMD function per op runs the whole time loop, so the code size does not depend on the
sequence length:

    void name(i32 tid, i32 nthreads, i64 batch, ptr inputs..., ptr out, ptr workspace)

Each step is: barrier, one packed GEMM with the recurrent kernel (every thread takes part;
`workspace` holds its packed B), barrier, then a pointwise pass over this thread's batch
rows (innermost loop over units, branch-free so it vectorizes; the sigmoid/tanh come from
vecmath). The packed layouts and equations are those of the NumPy references:
    simple_rnn_seq  [h]                    simple_rnn_seq_grad  [da, dh_prev]
    lstm_seq        [h, c, i, f, g, o]     lstm_seq_grad        [dz_i, dz_f, dz_g, dz_o, dh_prev,
                                                                  dc_prev]
    gru_seq         [h, z, r, hh, rh]      gru_seq_grad         [dz, dr, drh, dah, dh_prev]
where the forward GEMM writes its result straight into the packed output (LSTM: z into the
gate slots, accumulated onto P; GRU: h_prev @ U + b into slots r, hh, rh, read before they are
overwritten) and the backward GEMM writes dh_prev (GRU: accumulates onto dh * z).
"""

from __future__ import annotations

from dataclasses import dataclass

from llvmlite import ir

from graphc.backends.llvm import vecmath
from graphc.backends.llvm.conv_kernels import declare_barrier, define_spmd, tag
from graphc.backends.llvm.gemm import gemm_workspace_elems
from graphc.backends.llvm.gemm_library import gemm_function
from graphc.backends.llvm.irutil import (
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

# (pointer names, gates, forward slots, backward slots) per op
LAYOUTS = {
    "simple_rnn_seq": (("P", "h0", "U", "Y"), 1, 1),
    "simple_rnn_seq_grad": (("U", "Y", "gY", "G"), 1, 2),
    "lstm_seq": (("P", "h0", "c0", "U", "Y"), 4, 6),
    "lstm_seq_grad": (("c0", "U", "Y", "gY", "G"), 4, 6),
    "gru_seq": (("P", "h0", "U", "b", "Y"), 3, 5),
    "gru_seq_grad": (("h0", "U", "Y", "gY", "G"), 3, 5),
}


def workspace_elems(op: str, units: int, dtype: str) -> int:
    """Elements of `dtype` the kernel's GEMM workspace needs (independent of the batch)."""
    gates = LAYOUTS[op][1]
    n, k = (units, gates * units) if op.endswith("_grad") else (gates * units, units)
    return gemm_workspace_elems(0, n, k, 1, dtype)


@dataclass
class Rec:
    """The builder state of one recurrence function: sizes, arguments, index helpers."""

    b: object
    a: dict
    dtype: str
    T: int
    u: int
    lanes: int = 1  # > 1 while emitting a unit loop that moves whole vectors

    @property
    def vl(self) -> int:
        return {"float32": 16, "float64": 8}[self.dtype]

    def row(self, width, n, t):
        """Offset of (n, t, 0) in a (batch, T, width * u) tensor."""
        return self.b.mul(self.b.add(self.b.mul(n, c64(self.T)), t), c64(width * self.u))

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
        """body(n) for this thread's share of the batch rows."""
        lo, hi = split_range(self.b, self.a["batch"], self.a["tid"], self.a["nthreads"])
        for_range(self.b, lo, hi, body, name="n")

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

    def barrier(self):
        self.b.call(declare_barrier(self.b.module), [self.a["tid"], self.a["nthreads"]])

    def gemm(self, M, N, K, A, lda, B, ldb, C, ldc, *, tb=False, bias=None, acc=False):
        """C (+)= A @ op(B) (+ bias) with every thread; lda is an i64 value, the rest ints."""
        fn = gemm_function(self.b.module, self.dtype, False, tb, bias is not None, "linear", acc)
        no_bias = ir.Constant(PTR, None)
        self.b.call(
            fn,
            [
                self.a["tid"],
                self.a["nthreads"],
                M,
                c64(N),
                c64(K),
                A,
                lda,
                B,
                c64(ldb),
                C,
                c64(ldc),
                no_bias if bias is None else bias,
                self.a["workspace"],
            ],
        )

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
        is_last = self.b.icmp_signed("==", t, c64(self.T - 1))
        nxt = self.b.select(is_last, t, self.b.add(t, c64(1)))
        return V(self, self.b.select(is_last, self.c(0), raw(later_value(nxt))))


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


def start(module, op, dtype, T, units, suffix=""):
    names = LAYOUTS[op][0] + ("workspace",)
    fn, b, a = define_spmd(module, f"graphc_{op}{suffix}_{tag(dtype)}_{T}_{units}", names)
    return fn, (None if b is None else Rec(b, a, dtype, T, units))


def time_loop(r, forward: bool, step):
    """step(t) for t = 0..T-1 (forward) or T-1..0."""

    def body(i):
        step(i if forward else r.b.sub(c64(r.T - 1), i))

    for_range(r.b, c64(0), c64(r.T), body, name="t")


def hidden_before(r, t, width, n, k):
    """h_{t-1}[n, k]: h0 at t == 0, else slot 0 of the packed output Y at t - 1."""
    return r.previous(
        t,
        lambda: r.ld("h0", r.b.add(r.b.mul(n, c64(r.u)), k)),
        lambda e: r.ld("Y", r.b.add(r.row(width, n, e), k)),
    )


def recurrent_gemm(r, t, width, gates, C_offset, bias=None, acc=False):
    """C (Y at t, from C_offset units) (+)= h_{t-1} @ U (+ bias), every thread."""
    b = r.b
    is_first = b.icmp_signed("==", t, c64(0))
    earlier = b.select(is_first, c64(0), b.sub(t, c64(1)))
    A = b.select(is_first, r.a["h0"], r.at("Y", b.mul(earlier, c64(width * r.u))))
    lda = b.select(is_first, c64(r.u), c64(r.T * width * r.u))
    C = r.at("Y", b.add(b.mul(t, c64(width * r.u)), c64(C_offset * r.u)))
    r.gemm(
        r.a["batch"],
        gates * r.u,
        r.u,
        A,
        lda,
        r.a["U"],
        gates * r.u,
        C,
        r.T * width * r.u,
        bias=bias,
        acc=acc,
    )


def backward_gemm(r, t, width, k_units, c_slot, acc=False):
    """G[:, t, c_slot] (+)= G[:, t, :k_units] @ U^T, every thread (U is (u, k_units * u))."""
    b = r.b
    A = r.at("G", b.mul(t, c64(width * r.u)))
    C = r.at("G", b.add(b.mul(t, c64(width * r.u)), c64(c_slot * r.u)))
    r.gemm(
        r.a["batch"],
        r.u,
        k_units * r.u,
        A,
        c64(r.T * width * r.u),
        r.a["U"],
        k_units * r.u,
        C,
        r.T * width * r.u,
        tb=True,
        acc=acc,
    )
