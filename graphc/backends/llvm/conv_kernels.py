"""LLVM IR for the data movement around convolutions: im2col and col2im, a block of rows at a
time.

Convolutions run on the GEMM (gemm.py): `im2col` copies every receptive field of a
channels_last input into one row of a (batch * out_h * out_w, kh * kw * cin) matrix, ordered
like the rows of the Keras kernel reshaped to (kh * kw * cin, cout), so

    forward        y  = im2col(x) @ W
    weight grad    dW = im2col(x)^T @ dy
    input grad     dx = col2im(dy @ W^T)

A 1-D convolution is the 2-D one with height 1. The functions here work on one block of
output positions for one thread (`void name(i64 r0, i64 rows, i64 k0, i64 k1, ptr in, ptr
out)`; im2col can also keep only the columns k0..k1), so a kernel can give each thread its
own blocks and never make threads wait for each other. Geometry is static (baked into the
function, whose name encodes it); only the batch is a run-time value. `define_spmd` (also used by
the recurrent kernels) declares the SPMD signature `void name(i32 tid, i32 nthreads, i64
sizes..., ptr...)`: the batch, and the number of time steps of a recurrence.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass

from llvmlite import ir

from graphc.backends.llvm.irutil import (
    I32,
    I64,
    ITEMSIZE,
    MEM_TYPE,
    PTR,
    VOID,
    c64,
    const,
    for_range,
    load,
    smax,
    smin,
    store,
)


@dataclass(frozen=True)
class Geometry:
    """A 2-D window sweep over channels_last images (1-D: H = KH = SH = DH = 1, PT = 0)."""

    H: int
    W: int
    C: int
    OH: int
    OW: int
    KH: int
    KW: int
    SH: int = 1
    SW: int = 1
    DH: int = 1
    DW: int = 1
    PT: int = 0
    PL: int = 0

    @property
    def K(self) -> int:  # one im2col row
        return self.KH * self.KW * self.C

    @property
    def key(self) -> str:
        return "_".join(str(v) for v in astuple(self))

    @classmethod
    def of(cls, in_size, channels, out_size, kernel, strides, dilation, padding):
        """From the op attributes of a 1-D or 2-D op (sizes are the spatial dims)."""
        if len(in_size) == 1:
            in_size, out_size, kernel = (1, *in_size), (1, *out_size), (1, *kernel)
            strides, dilation, padding = (1, *strides), (1, *dilation), ((0, 0), *padding)
        return cls(
            in_size[0],
            in_size[1],
            channels,
            out_size[0],
            out_size[1],
            kernel[0],
            kernel[1],
            strides[0],
            strides[1],
            dilation[0],
            dilation[1],
            padding[0][0],
            padding[1][0],
        )


def define_spmd(module: ir.Module, name: str, pointers: tuple, sizes: tuple = ("batch",)):
    """(function, builder or None if it already exists, args dict) of an SPMD kernel:
    void name(i32 tid, i32 nthreads, i64 sizes..., ptr pointers...)."""
    existing = module.globals.get(name)
    if existing is not None:
        return existing, None, None
    fnty = ir.FunctionType(VOID, [I32, I32] + [I64] * len(sizes) + [PTR] * len(pointers))
    fn = ir.Function(module, fnty, name=name)
    fn.linkage = "internal"
    names = ("tid", "nthreads", *sizes, *pointers)
    for arg, arg_name in zip(fn.args, names):
        arg.name = arg_name
    for arg in fn.args[2 + len(sizes):]:
        arg.add_attribute("noalias")
    return fn, ir.IRBuilder(fn.append_basic_block("entry")), dict(zip(names, fn.args))


def tag(dtype: str) -> str:
    return {"float32": "f32", "float64": "f64"}[dtype]


class Sweep:
    """Index arithmetic of one geometry inside a builder."""

    def __init__(self, b: ir.IRBuilder, g: Geometry):
        self.b, self.g = b, g

    def position(self, r):
        """(image, out row, out col) of output position r (0 .. batch * OH * OW)."""
        b, g = self.b, self.g
        n = b.sdiv(r, c64(g.OH * g.OW))
        p = b.srem(r, c64(g.OH * g.OW))
        return n, b.sdiv(p, c64(g.OW)), b.srem(p, c64(g.OW))

    def taps(self, oh, ow, body):
        """body(tap index, input row, input col, inside) for every kernel tap, row-major."""
        b, g = self.b, self.g

        def tap_row(kh):
            ih = b.sub(b.add(b.mul(oh, c64(g.SH)), b.mul(kh, c64(g.DH))), c64(g.PT))
            row_in = b.icmp_unsigned("<", ih, c64(g.H))  # negative wraps to large: outside

            def tap_col(kw):
                iw = b.sub(b.add(b.mul(ow, c64(g.SW)), b.mul(kw, c64(g.DW))), c64(g.PL))
                inside = b.and_(row_in, b.icmp_unsigned("<", iw, c64(g.W)))
                body(b.add(b.mul(kh, c64(g.KW)), kw), ih, iw, inside)

            for_range(b, c64(0), c64(g.KW), tap_col, name="kw")

        for_range(b, c64(0), c64(g.KH), tap_row, name="kh")

    def tap_source(self, oh, ow, t):
        """(input row, input col, inside the image) under tap t of output (oh, ow)."""
        b, g = self.b, self.g
        kh, kw = b.sdiv(t, c64(g.KW)), b.srem(t, c64(g.KW))
        ih = b.sub(b.add(b.mul(oh, c64(g.SH)), b.mul(kh, c64(g.DH))), c64(g.PT))
        iw = b.sub(b.add(b.mul(ow, c64(g.SW)), b.mul(kw, c64(g.DW))), c64(g.PL))
        inside = b.and_(b.icmp_unsigned("<", ih, c64(g.H)), b.icmp_unsigned("<", iw, c64(g.W)))
        return ih, iw, inside

    def pixel(self, n, ih, iw):
        """Offset of input pixel (n, ih, iw, channel 0)."""
        b, g = self.b, self.g
        return b.mul(b.add(b.mul(b.add(b.mul(n, c64(g.H)), ih), c64(g.W)), iw), c64(g.C))

    def channels(self, body):
        for_range(self.b, c64(0), c64(self.g.C), body, name="c")


def define_block(module: ir.Module, name: str, pointers: tuple):
    """(function, builder or None if it already exists, args) of a block function
    `void name(i64 r0, i64 rows, i64 k0, i64 k1, ptr...)`, run by one thread."""
    existing = module.globals.get(name)
    if existing is not None:
        return existing, None, None
    fn = ir.Function(module, ir.FunctionType(VOID, [I64] * 4 + [PTR] * len(pointers)), name=name)
    fn.linkage = "internal"
    names = ("r0", "rows", "k0", "k1", *pointers)
    for arg, arg_name in zip(fn.args, names):
        arg.name = arg_name
    for arg in fn.args[4:]:
        arg.add_attribute("noalias")
    return fn, ir.IRBuilder(fn.append_basic_block("entry")), dict(zip(names, fn.args))


def define_im2col_block(module: ir.Module, dtype: str, g: Geometry) -> ir.Function:
    """cols[i, k - k0] = x under column k (= tap * C + channel) of output position r0 + i,
    for i < rows and k0 <= k < k1; zero in the padding. Rows of cols are k1 - k0 long."""
    fn, b, a = define_block(module, f"graphc_im2col_{tag(dtype)}_{g.key}", ("x", "cols"))
    if b is None:
        return fn
    s, zero = Sweep(b, g), const(dtype, 0)
    k0, k1 = a["k0"], a["k1"]
    width = b.sub(k1, k0)
    first_tap = b.sdiv(k0, c64(g.C))
    end_tap = b.sdiv(b.add(k1, c64(g.C - 1)), c64(g.C))

    def row(i):
        n, oh, ow = s.position(b.add(a["r0"], i))

        def tap(t):
            ih, iw, inside = s.tap_source(oh, ow, t)
            src = b.select(inside, s.pixel(n, ih, iw), c64(0))  # branch-free: read, then mask
            start = b.mul(t, c64(g.C))
            c_lo = smax(b, b.sub(k0, start), c64(0))
            c_hi = smin(b, b.sub(k1, start), c64(g.C))
            dst = b.add(b.mul(i, width), b.sub(start, k0))

            def channel(c):
                value = b.select(inside, load(b, a["x"], b.add(src, c), dtype), zero)
                store(b, value, a["cols"], b.add(dst, c), dtype)

            whole = b.and_(b.icmp_signed("==", c_lo, c64(0)), b.icmp_signed("==", c_hi, c64(g.C)))
            with b.if_else(whole) as (all_channels, some):
                with all_channels:
                    copy_run(b, dtype, g.C, inside, (a["x"], src), (a["cols"], dst))
                with some:
                    for_range(b, c_lo, c_hi, channel, name="c")

        for_range(b, first_tap, end_tap, tap, name="t")

    for_range(b, c64(0), a["rows"], row, name="i")
    b.ret_void()
    return fn


RUN_LANES = 16  # values per vector of an im2col run copy


def copy_run(b, dtype: str, count: int, inside, source, target):
    """target[i] = source[i] if inside else 0 for i < count (static), in vectors: a tap's C
    channels are contiguous in both x and cols (the source index is valid when outside)."""
    for first in range(0, count, RUN_LANES):
        lanes = min(RUN_LANES, count - first)
        vector = ir.VectorType(MEM_TYPE[dtype], lanes)
        (src, at), (dst, to) = source, target
        value = b.load(b.gep(src, [b.add(at, c64(first))], source_etype=MEM_TYPE[dtype],
                             inbounds=True), typ=vector, align=ITEMSIZE[dtype])
        value = b.select(inside, value, ir.Constant(vector, [0.0] * lanes))
        b.store(value, b.gep(dst, [b.add(to, c64(first))], source_etype=MEM_TYPE[dtype],
                             inbounds=True), align=ITEMSIZE[dtype])


def define_col2im_block(module: ir.Module, dtype: str, g: Geometry) -> ir.Function:
    """dx[pixel under tap t of output r0 + i] += cols[i, t * C + c] (full im2col rows; k0, k1
    unused). The caller owns every image these rows touch, so the adds never race."""
    fn, b, a = define_block(module, f"graphc_col2im_{tag(dtype)}_{g.key}", ("cols", "dx"))
    if b is None:
        return fn
    s = Sweep(b, g)

    def row(i):
        n, oh, ow = s.position(b.add(a["r0"], i))

        def tap(t, ih, iw, inside):
            src = b.add(b.mul(i, c64(g.K)), b.mul(t, c64(g.C)))
            with b.if_then(inside):
                dst = s.pixel(n, ih, iw)
                s.channels(
                    lambda c: accumulate(
                        b, a["dx"], b.add(dst, c), load(b, a["cols"], b.add(src, c), dtype), dtype
                    )
                )

        s.taps(oh, ow, tap)

    for_range(b, c64(0), a["rows"], row, name="i")
    b.ret_void()
    return fn


def accumulate(b, ptr, index, value, dtype):
    store(b, b.fadd(load(b, ptr, index, dtype), value), ptr, index, dtype)


__all__ = [
    "Geometry",
    "define_col2im_block",
    "define_im2col_block",
    "define_spmd",
]
