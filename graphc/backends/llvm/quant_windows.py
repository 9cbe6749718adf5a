"""Convolution windows quantized straight from a channels_last input into the int8 GEMM's A
block (emit_quant_conv.py): no float column matrix is ever written.

    void graphc_quant_windows_<f32|f64>_<mode>_<pool>_<geometry>(
        i64 r0, i64 rows, T scale, ptr x, ptr a, ptr row_scale, ptr maxima)

Rows count output positions in raster order, or, with a pooling window PH x PW (`pool`,
emit_quant_conv.py pools the GEMM's rows), window by window: row r is position r % (PH * PW)
(row-major) of pooling window r // (PH * PW) (raster order over the pooled image).
For each output position of rows r0 + i (i < rows) its window, in im2col order (tap, channel) with
zeros in the padding, becomes bytes q + 128 at a + i * Kp (pad bytes K..Kp zero), and 1 / s
goes to row_scale[i]: s = 127 / (max |window| + EPSILON) (mode 'dynamic'; mode 'pixels'
takes max |window| from maxima, the bits of each pixel's max |x| over its channels, made once
per image by quant_image.py) or the static `scale` (mode 'static');
q = clip(roundeven(v * s), -127, 127). These are the steps of emit_quant.quantize_row, one
vector of channels at a time, so the bytes equal the interpreter's (graphc/ops/quant.py).
"""

from __future__ import annotations

import math

from llvmlite import ir

from graphc.backends.llvm import vecmath
from graphc.backends.llvm.conv_kernels import Geometry, Sweep, tag
from graphc.backends.llvm.gemm_variant import VECTOR_LANES
from graphc.backends.llvm.irutil import (
    I1,
    I8,
    I32,
    I64,
    ITEMSIZE,
    PTR,
    REG_TYPE,
    VOID,
    c64,
    declare,
    for_range,
)
from graphc.ops.quant import EPSILON, QMAX, padded_k

OFFSET = 128  # signed q -> the unsigned byte vpdpbusd reads
UNROLL_TAPS = 16  # kernels of up to 4 x 4 taps have them unrolled
LINE_BYTES = 64
L2_LOCALITY = 2  # llvm.prefetch locality 2: prefetcht1, into L2 (the next image waits ~10 us)
ARGS = ("r0", "rows", "scale", "x", "a", "row_scale", "maxima")
MODES = ("dynamic", "static", "pixels")


def define_quantized_windows(module: ir.Module, dtype: str, g: Geometry, mode: str,
                             pool: tuple = (1, 1)) -> ir.Function:
    """The block function above for geometry g (defined once per module)."""
    if mode not in MODES:
        raise ValueError(f"define_quantized_windows: mode must be one of {MODES}; received "
                         f"{mode!r}")
    name = f"graphc_quant_windows_{tag(dtype)}_{mode}_{pool[0]}x{pool[1]}_{g.key}"
    existing = module.globals.get(name)
    if existing is not None:
        return existing
    T = REG_TYPE[dtype]
    fn = ir.Function(module, ir.FunctionType(VOID, [I64, I64, T] + [PTR] * 4), name=name)
    fn.linkage = "internal"
    for arg, arg_name in zip(fn.args, ARGS, strict=True):
        arg.name = arg_name
    for arg in fn.args[3:]:
        arg.add_attribute("noalias")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    w = Windows(b, dtype, g, dict(zip(ARGS, fn.args)), pool)
    for_range(b, c64(0), w.a["rows"], lambda i: w.window(i, mode), name="i")
    b.ret_void()
    return fn


class Windows:
    """The IR of one window: its taps' channel vectors, abs-max and quantization."""

    def __init__(self, b, dtype, g, args, pool):
        self.b, self.g, self.a, self.dtype, self.pool = b, g, args, dtype, pool
        self.T = REG_TYPE[dtype]
        self.bits = I64 if dtype == "float64" else I32
        self.lanes = VECTOR_LANES[dtype]
        self.sweep = Sweep(b, g)
        self.Kp = padded_k(g.K)
        # no padding: every tap is inside the image (no masking; LLVM cannot prove it)
        self.unpadded = g.PT == 0 and g.PL == 0 and all(
            (out - 1) * stride + (k - 1) * dilation < size for out, stride, k, dilation, size in (
                (g.OH, g.SH, g.KH, g.DH, g.H), (g.OW, g.SW, g.KW, g.DW, g.W)))

    def chunks(self) -> list:
        """(vectors, lanes) of a row of C channels: `vectors` whole vectors, then the rest."""
        whole, rest = divmod(self.g.C, self.lanes)
        return [(n, lanes) for n, lanes in ((whole, self.lanes), (1, rest)) if n and lanes]

    def window(self, i, mode: str) -> None:
        b, g = self.b, self.g
        n, oh, ow = self.position(b.add(self.a["r0"], i))
        if mode == "pixels":
            self.prefetch_next_image(b.add(self.a["r0"], i))
        scales = {"dynamic": self.dynamic_scale, "pixels": self.pixels_scale}
        s = scales[mode](n, oh, ow) if mode in scales else self.a["scale"]
        b.store(b.fdiv(ir.Constant(self.T, 1.0), s),
                b.gep(self.a["row_scale"], [i], source_etype=self.T))
        dst = b.gep(self.a["a"], [b.mul(i, c64(self.Kp))], source_etype=I8)

        def tap(t):
            src, inside = self.source(n, oh, ow, t)
            out = b.gep(dst, [b.mul(t, c64(g.C))], source_etype=I8)
            for count, lanes in self.chunks():
                first = self.first_channel(lanes)
                for_range(b, c64(0), c64(count), lambda j, lanes=lanes, first=first: self.store(
                    self.quantize(self.load(src, self.channel(first, j, lanes), lanes, inside), s,
                                  clip=mode == "static"),
                    out, self.channel(first, j, lanes)), name="v")
        self.each_tap(tap)
        self.zero_pad(dst)

    def prefetch_next_image(self, r) -> None:
        """Mode 'pixels' (x is one image, r a row of it): prefetch into L2 row r's share of the
        next image's lines. Images come from memory, read once; fetched a few lines a window
        while this image's windows are computed, the next image's pixel maxima find them in
        cache (fetched at once, the maxima stalled for them: ~20% of the kernel). Past the last
        image nothing harmful is fetched: x86 prefetches never fault."""
        b, g = self.b, self.g
        per_line = LINE_BYTES // ITEMSIZE[self.dtype]
        image = g.H * g.W * g.C
        rows = (g.OH // self.pool[0]) * (g.OW // self.pool[1]) * math.prod(self.pool)
        each = -(-math.ceil(image / per_line) // rows)  # lines a row prefetches
        first = b.add(c64(image), b.mul(r, c64(each * per_line)))
        prefetch = declare(b.module, "llvm.prefetch.p0", VOID, [PTR, I32, I32, I32])
        for k in range(each):
            at = b.gep(self.a["x"], [b.add(first, c64(k * per_line))], source_etype=self.T)
            b.call(prefetch, [at, *(ir.Constant(I32, v) for v in (0, L2_LOCALITY, 1))])

    def zero_pad(self, dst) -> None:
        """Pad bytes K..Kp of a row zero: the kernel's pad rows then add nothing."""
        for k in range(self.g.K, self.Kp):
            self.b.store(ir.Constant(I8, 0), self.b.gep(dst, [c64(k)], source_etype=I8))

    def each_tap(self, body, carried=()):
        """for_range over the taps, unrolled when there are few (their offsets then fold)."""
        taps = self.g.KH * self.g.KW
        if taps > UNROLL_TAPS:
            return for_range(self.b, c64(0), c64(taps), body, carried, name="t")
        for t in range(taps):
            carried = body(c64(t), *carried) or ()
        return carried

    def position(self, r):
        """(image, out row, out col) of row r (module doc)."""
        if self.pool == (1, 1):
            return self.sweep.position(r)
        b, g, (ph, pw) = self.b, self.g, self.pool
        pooled, at = b.sdiv(r, c64(ph * pw)), b.srem(r, c64(ph * pw))
        per_image = (g.OH // ph) * (g.OW // pw)
        n, p = b.sdiv(pooled, c64(per_image)), b.srem(pooled, c64(per_image))
        oh = b.add(b.mul(b.sdiv(p, c64(g.OW // pw)), c64(ph)), b.sdiv(at, c64(pw)))
        ow = b.add(b.mul(b.srem(p, c64(g.OW // pw)), c64(pw)), b.srem(at, c64(pw)))
        return n, oh, ow

    def first_channel(self, lanes):
        """Where a run of `lanes`-wide vectors starts: channel 0, or the rest after them."""
        return c64(0 if lanes == self.lanes else self.g.C - lanes)

    def channel(self, first, j, lanes):
        return self.b.add(first, self.b.mul(j, c64(lanes)))

    def source(self, n, oh, ow, t):
        """(offset of tap t's pixel, or 0 outside the image; inside) of output (n, oh, ow)."""
        ih, iw, inside = self.tap_source(oh, ow, t)
        return self.b.select(inside, self.sweep.pixel(n, ih, iw), c64(0)), inside

    def tap_source(self, oh, ow, t):
        """Sweep.tap_source, `inside` a constant true when there is no padding."""
        ih, iw, inside = self.sweep.tap_source(oh, ow, t)
        return ih, iw, ir.Constant(I1, 1) if self.unpadded else inside

    def load(self, src, c, lanes, inside):
        """`lanes` channels from x at src + c; zeros outside the image (read, then mask)."""
        b, vty = self.b, ir.VectorType(self.T, lanes)
        ptr = b.gep(self.a["x"], [b.add(src, c)], source_etype=self.T)
        value = b.load(ptr, typ=vty, align=ITEMSIZE[self.dtype])
        return b.select(inside, value, ir.Constant(vty, None))

    def quantize(self, v, s, clip=True):
        """Bytes roundeven(clip(v * s)) + 128, the steps of emit_quant.quantize_row. clip False:
        s is the window's own 127 / (max |v| + EPSILON), so |v * s| < 127.5 (NaN stays NaN
        either way) and rounding alone keeps q within +-127."""
        b, vty = self.b, v.type
        v = b.fmul(v, self.splat(s, vty))
        if clip:
            top, bottom = vecmath.const(vty, float(QMAX)), vecmath.const(vty, float(-QMAX))
            # clipping first: the bounds are whole, so the rounded value is the same
            v = b.select(b.fcmp_ordered(">", v, top), top, v)
            v = b.select(b.fcmp_ordered("<", v, bottom), bottom, v)
        ity = ir.VectorType(I32, vty.count)
        # lrint rounds to nearest even (the default mode) and converts in one instruction
        # (vcvtps2dq), where roundeven + fptosi take two
        lrint = declare(b.module, f"llvm.lrint.v{vty.count}i32.v{vty.count}"
                        f"{'f32' if vty.element == ir.FloatType() else 'f64'}", ity, [vty])
        byte = b.add(b.call(lrint, [v]), vecmath.const(ity, OFFSET))
        return b.trunc(byte, ir.VectorType(I8, vty.count))

    def store(self, value, out, c) -> None:
        self.b.store(value, self.b.gep(out, [c], source_etype=I8), align=1)

    def splat(self, x, vty):
        b = self.b
        one = b.insert_element(ir.Constant(vty, ir.Undefined), x, ir.Constant(I32, 0))
        return b.shuffle_vector(one, ir.Constant(vty, ir.Undefined),
                                ir.Constant(ir.VectorType(I32, vty.count), [0] * vty.count))

    def dynamic_scale(self, n, oh, ow):
        """127 / (max |window| + EPSILON): the unsigned maximum of the sign-cleared bits, as
        emit_quant.abs_max (a NaN ranks above inf and comes out NaN)."""
        chunks = self.chunks()
        zeros = [ir.Constant(ir.VectorType(self.bits, lanes), None) for _, lanes in chunks]

        def tap(t, *best):
            src, inside = self.source(n, oh, ow, t)
            return [self.fold(src, inside, count, lanes, bound)
                    for (count, lanes), bound in zip(chunks, best)]
        return self.scale_of(self.reduce(self.each_tap(tap, zeros)))

    def pixels_scale(self, n, oh, ow):
        """dynamic_scale's value from the pixels' maxima (one load per tap)."""
        b, g, zero = self.b, self.g, ir.Constant(self.bits, 0)

        def tap(t, best):
            ih, iw, inside = self.tap_source(oh, ow, t)
            pixel = b.select(inside, b.add(b.mul(b.add(b.mul(n, c64(g.H)), ih), c64(g.W)), iw),
                             c64(0))
            bits = b.load(b.gep(self.a["maxima"], [pixel], source_etype=self.bits),
                          typ=self.bits)
            return [self.umax(best, b.select(inside, bits, zero))]
        return self.scale_of(self.each_tap(tap, [zero])[0])

    def reduce(self, vectors):
        """The unsigned maximum of all lanes of `vectors` (0 for none)."""
        total = ir.Constant(self.bits, 0)
        for value in vectors:
            reduce = declare(self.b.module, f"llvm.vector.reduce.umax.v{value.type.count}"
                             f"i{self.bits.width}", self.bits, [value.type])
            total = self.umax(total, self.b.call(reduce, [value]))
        return total

    def scale_of(self, bits):
        """127 / (the float with these bits + EPSILON)."""
        b = self.b
        return b.fdiv(ir.Constant(self.T, float(QMAX)),
                      b.fadd(b.bitcast(bits, self.T), ir.Constant(self.T, EPSILON)))

    def fold(self, src, inside, count, lanes, best):
        """best, umax-ed with the magnitude bits of `count` vectors of `lanes` channels."""
        b = self.b
        first = self.first_channel(lanes)
        vty = ir.VectorType(self.bits, lanes)
        magnitude = vecmath.const(vty, (1 << (self.bits.width - 1)) - 1)

        def vector(j, acc):
            v = self.load(src, self.channel(first, j, lanes), lanes, inside)
            return [self.umax(acc, b.and_(b.bitcast(v, vty), magnitude))]
        return for_range(b, c64(0), c64(count), vector, [best], name="v")[0]

    def umax(self, x, y):
        return self.b.select(self.b.icmp_unsigned(">", x, y), x, y)
