"""LLVM IR for the data movement around convolutions: im2col, col2im and zero padding.

Convolutions run on the packed GEMM (gemm.py): `im2col` copies every receptive field of a
channels_last input into one row of a (batch * out_h * out_w, kh * kw * cin) matrix, ordered
like the rows of the Keras kernel reshaped to (kh * kw * cin, cout), so

    forward        y  = im2col(x) @ W
    weight grad    dW = im2col(x)^T @ dy
    input grad     dx = col2im(dy @ W^T)

A 1-D convolution is the 2-D one with height 1. Every function here is SPMD:

    void name(i32 tid, i32 nthreads, i64 batch, ptr in, ptr out)

called by every thread of a parallel run; each thread takes a disjoint share (im2col and pad:
rows; col2im: whole images, so the scatter-adds of two threads never meet). Geometry is
static (baked into the function, whose name encodes it); only the batch is a run-time value.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass

from llvmlite import ir

from graphc.backends.llvm.irutil import (
    I32,
    I64,
    PTR,
    VOID,
    c64,
    const,
    for_range,
    load,
    split_range,
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


def define_spmd(module: ir.Module, name: str, pointers: tuple):
    """(function, builder or None if it already exists, args dict) of an SPMD kernel."""
    existing = module.globals.get(name)
    if existing is not None:
        return existing, None, None
    fnty = ir.FunctionType(VOID, [I32, I32, I64] + [PTR] * len(pointers))
    fn = ir.Function(module, fnty, name=name)
    fn.linkage = "internal"
    names = ("tid", "nthreads", "batch", *pointers)
    for arg, arg_name in zip(fn.args, names):
        arg.name = arg_name
    for arg in fn.args[3:]:
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

    def pixel(self, n, ih, iw):
        """Offset of input pixel (n, ih, iw, channel 0)."""
        b, g = self.b, self.g
        return b.mul(b.add(b.mul(b.add(b.mul(n, c64(g.H)), ih), c64(g.W)), iw), c64(g.C))

    def channels(self, body):
        for_range(self.b, c64(0), c64(self.g.C), body, name="c")


def define_im2col(module: ir.Module, dtype: str, g: Geometry) -> ir.Function:
    """cols[r, tap * C + c] = x at tap of output position r (zero in the padding)."""
    fn, b, a = define_spmd(module, f"graphc_im2col_{tag(dtype)}_{g.key}", ("x", "cols"))
    if b is None:
        return fn
    s, zero = Sweep(b, g), const(dtype, 0)
    lo, hi = split_range(b, b.mul(a["batch"], c64(g.OH * g.OW)), a["tid"], a["nthreads"])

    def row(r):
        n, oh, ow = s.position(r)

        def tap(t, ih, iw, inside):
            src = b.select(inside, s.pixel(n, ih, iw), c64(0))  # branch-free: read, then mask
            dst = b.add(b.mul(r, c64(g.K)), b.mul(t, c64(g.C)))
            s.channels(
                lambda c: store(
                    b,
                    b.select(inside, load(b, a["x"], b.add(src, c), dtype), zero),
                    a["cols"],
                    b.add(dst, c),
                    dtype,
                )
            )

        s.taps(oh, ow, tap)

    for_range(b, lo, hi, row, name="r")
    b.ret_void()
    return fn


def define_col2im(module: ir.Module, dtype: str, g: Geometry) -> ir.Function:
    """dx = sum over taps of cols scattered back to the pixels they were read from."""
    fn, b, a = define_spmd(module, f"graphc_col2im_{tag(dtype)}_{g.key}", ("cols", "dx"))
    if b is None:
        return fn
    s = Sweep(b, g)
    lo, hi = split_range(b, a["batch"], a["tid"], a["nthreads"])
    image = g.H * g.W * g.C

    def one_image(n):
        base = b.mul(n, c64(image))
        for_range(
            b,
            c64(0),
            c64(image),
            lambda i: store(b, const(dtype, 0), a["dx"], b.add(base, i), dtype),
            name="z",
        )

        def position(p):
            r = b.add(b.mul(n, c64(g.OH * g.OW)), p)
            _, oh, ow = s.position(r)

            def tap(t, ih, iw, inside):
                src = b.add(b.mul(r, c64(g.K)), b.mul(t, c64(g.C)))
                with b.if_then(inside):
                    dst = s.pixel(n, ih, iw)
                    s.channels(
                        lambda c: accumulate(
                            b,
                            a["dx"],
                            b.add(dst, c),
                            load(b, a["cols"], b.add(src, c), dtype),
                            dtype,
                        )
                    )

            s.taps(oh, ow, tap)

        for_range(b, c64(0), c64(g.OH * g.OW), position, name="p")

    for_range(b, lo, hi, one_image, name="n")
    b.ret_void()
    return fn


def accumulate(b, ptr, index, value, dtype):
    store(b, b.fadd(load(b, ptr, index, dtype), value), ptr, index, dtype)


def define_pad(module: ir.Module, dtype: str, g: Geometry) -> ir.Function:
    """out (batch, OH, OW, C) = x zero-padded by PT rows above and PL columns left (a Geometry
    with a 1 x 1 window and unit strides: out pixel (oh, ow) reads (oh - PT, ow - PL))."""
    fn, b, a = define_spmd(module, f"graphc_pad_{tag(dtype)}_{g.key}", ("x", "out"))
    if b is None:
        return fn
    s, zero = Sweep(b, g), const(dtype, 0)
    lo, hi = split_range(b, b.mul(a["batch"], c64(g.OH * g.OW)), a["tid"], a["nthreads"])

    def pixel(r):
        n, oh, ow = s.position(r)

        def tap(_, ih, iw, inside):
            src = b.select(inside, s.pixel(n, ih, iw), c64(0))
            dst = b.mul(r, c64(g.C))
            s.channels(
                lambda c: store(
                    b,
                    b.select(inside, load(b, a["x"], b.add(src, c), dtype), zero),
                    a["out"],
                    b.add(dst, c),
                    dtype,
                )
            )

        s.taps(oh, ow, tap)

    for_range(b, lo, hi, pixel, name="r")
    b.ret_void()
    return fn


def declare_barrier(module: ir.Module) -> ir.Function:
    existing = module.globals.get("graphc_barrier")
    if existing is not None:
        return existing
    return ir.Function(module, ir.FunctionType(VOID, [I32, I32]), name="graphc_barrier")


__all__ = [
    "Geometry",
    "declare_barrier",
    "define_col2im",
    "define_im2col",
    "define_pad",
    "define_spmd",
]
