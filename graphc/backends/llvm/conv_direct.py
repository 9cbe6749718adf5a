"""A register-blocked direct convolution with a static geometry: for receptive fields too
small for the GEMM (a first layer on one input channel: 3 x 3 x 1 -> 32), and for every layer
with at least a machine vector of output channels (3 x 3 x 32 -> 64: about twice the implicit
GEMM's speed, which computes junk pixels and re-reads its result per kernel row).

Each thread takes its share of the output rows (image, out row). Along a row, PIXELS output
pixels at a time, and the output channels in blocks of a few vectors (channel_vectors.py): every
tap's weight vector is loaded once and feeds an FMA into each pixel's accumulators (x values
broadcast, zero in the padding), so the accumulators live in registers and each output value
is stored once, after its bias and activation (oneDNN's NHWC direct convolution, blocked over
output channels and pixels); a fused max pooling (conv_pool.py) takes the max of each window's
finished pixels in registers, and only the pooled pixels are stored. Over more than
UNROLLED_CHANNELS input channels, a run-time loop walks each tap's channels. The scalar loop nest
(emit_conv.emit_conv_direct) stays for run-time spatial sizes.
"""

from __future__ import annotations

from graphc.backends.llvm import vecmath
from graphc.backends.llvm.channel_vectors import ChannelVectors
from graphc.backends.llvm.conv_gemm import conv_geometry
from graphc.backends.llvm.conv_pool import PoolWindow
from graphc.backends.llvm.irutil import MEM_TYPE, c64, const, for_range

PIXELS = 6  # output pixels per register block along a row (x 4 vectors: 24 accumulators)
UNROLLED_CHANNELS = 4  # up to this many input channels a tap's channels are unrolled


class DirectTaps:
    """A direct convolution kernel: the static geometry of a convolution of x (x_shape) with
    kernel shape `w_shape` (..., cin, cout), vector helpers, and tap_value/tap_row reading x
    tap by tap where x is the kernel's first pointer."""

    def __init__(self, kb, node, x_shape, w_shape):
        self.kb, self.b, self.dtype = kb, kb.b, node.dtype
        self.g = conv_geometry(node, x_shape, w_shape)
        self.cout = w_shape[-1]
        self.vec = ChannelVectors(kb.b, self.dtype)

    def tap_value(self, n, ih, iw, channel):
        """x[n, ih, iw, channel], or 0 where (ih, iw) lies in the padding."""
        b = self.b
        start, inside = self.tap_row(n, ih, iw)
        index = b.add(start, c64(channel))
        value = b.load(b.gep(self.kb.ins[0], [index], source_etype=MEM_TYPE[self.dtype],
                             inbounds=True), typ=MEM_TYPE[self.dtype])
        return value if inside is None else b.select(inside, value, const(self.dtype, 0))

    def tap_row(self, n, ih, iw):
        """(index of x[n, ih, iw, 0], or 0 in the padding; the i1 `inside`, or None when no
        tap of this geometry leaves the image)."""
        b, g = self.b, self.g
        pixel = b.add(b.mul(b.add(b.mul(n, c64(g.H)), ih), c64(g.W)), iw)
        start = b.mul(pixel, c64(g.C))
        if never_outside(g):
            return start, None
        inside = b.and_(b.icmp_unsigned("<", ih, c64(g.H)), b.icmp_unsigned("<", iw, c64(g.W)))
        return b.select(inside, start, c64(0)), inside


def never_outside(g) -> bool:
    """No padding, and the last window ends inside the image: every tap reads x."""
    last_h = (g.OH - 1) * g.SH + (g.KH - 1) * g.DH
    last_w = (g.OW - 1) * g.SW + (g.KW - 1) * g.DW
    return (g.PT, g.PL) == (0, 0) and last_h < g.H and last_w < g.W


class DirectConv(DirectTaps):
    """The IR of one direct convolution kernel: its epilogue and the pixel blocks."""

    def __init__(self, kb, node, bias, activation, pool):
        super().__init__(kb, node, node.inputs[0].shape, node.inputs[1].shape)
        self.bias, self.activation = bias, activation
        self.pool = PoolWindow.of(pool, self.g)

    def accumulate(self, n, oh, ows, first, lanes):
        """Accumulators (one vector of `lanes` channels from `first` per pixel in `ows`)."""
        if self.g.C > UNROLLED_CHANNELS:
            return self.accumulate_looped(n, oh, ows, first, lanes)
        b, g = self.b, self.g
        accs = [vecmath.const(self.vec.type(lanes), 0.0) for _ in ows]
        for kh in range(g.KH):
            ih = b.add(b.mul(oh, c64(g.SH)), c64(kh * g.DH - g.PT))
            for kw in range(g.KW):
                iws = [b.add(b.mul(ow, c64(g.SW)), c64(kw * g.DW - g.PL)) for ow in ows]
                for ci in range(g.C):
                    row = ((kh * g.KW + kw) * g.C + ci) * self.cout + first
                    wv = self.vec.load(self.kb.ins[1], c64(row), lanes)
                    accs = [vecmath.fma(b, self.vec.splat(self.tap_value(n, ih, iw, ci), lanes), wv,
                                        acc) for iw, acc in zip(iws, accs)]
        return accs

    def accumulate_looped(self, n, oh, ows, first, lanes):
        """As accumulate, with a run-time loop over the input channels of each tap (same
        order: tap by tap, channel by channel); each pixel's row of x indexed once per tap."""
        b, g, t = self.b, self.g, MEM_TYPE[self.dtype]
        accs = [vecmath.const(self.vec.type(lanes), 0.0) for _ in ows]
        for kh in range(g.KH):
            ih = b.add(b.mul(oh, c64(g.SH)), c64(kh * g.DH - g.PT))
            for kw in range(g.KW):
                iws = [b.add(b.mul(ow, c64(g.SW)), c64(kw * g.DW - g.PL)) for ow in ows]
                pixels = [self.tap_row(n, ih, iw) for iw in iws]
                w_row = c64((kh * g.KW + kw) * g.C * self.cout + first)

                def channel(ci, *accs, pixels=pixels, w_row=w_row):
                    wv = self.vec.load(self.kb.ins[1], b.add(w_row, b.mul(ci, c64(self.cout))),
                                       lanes)
                    out = []
                    for (start, inside), acc in zip(pixels, accs):
                        value = b.load(b.gep(self.kb.ins[0], [b.add(start, ci)], source_etype=t,
                                             inbounds=True), typ=t)
                        if inside is not None:
                            value = b.select(inside, value, const(self.dtype, 0))
                        out.append(vecmath.fma(b, self.vec.splat(value, lanes), wv, acc))
                    return out

                accs = for_range(b, c64(0), c64(g.C), channel, accs, "ci")
        return accs

    def epilogue(self, acc, first):
        """act(acc + bias): the GEMM epilogue's order."""
        if self.bias is not None:
            acc = self.b.fadd(acc, self.vec.load(self.bias, c64(first), acc.type.count))
        return vecmath.emit_activation(self.b, self.activation, acc)

    def pixel_block(self, n, ph, pw0, count):
        """Pooled pixels pw0 .. pw0 + count - 1 of pooled row (n, ph), every channel: the max
        of each window's finished conv pixels (with no pooling, the conv pixels themselves)."""
        b, p = self.b, self.pool
        ows = [b.add(b.mul(b.add(pw0, c64(k)), c64(p.PW)), c64(dw))
               for k in range(count) for dw in range(p.PW)]
        first_row = b.mul(ph, c64(p.PH))
        out = b.mul(b.add(b.mul(n, c64(p.POH)), ph), c64(p.POW))
        for first, lanes in self.vec.chunks(self.cout):
            best = [None] * count
            for dh in range(p.PH):
                accs = self.accumulate(n, b.add(first_row, c64(dh)), ows, first, lanes)
                for i, acc in enumerate(accs):
                    value, k = self.epilogue(acc, first), i // p.PW
                    best[k] = value if best[k] is None else self.vec.maximum(best[k], value)
            for k, value in enumerate(best):
                pixel = b.add(out, b.add(pw0, c64(k)))
                self.vec.store(value, self.kb.out, b.add(b.mul(pixel, c64(self.cout)), c64(first)))

    def row(self, r):
        """Pooled row r = n * POH + ph: blocks of about PIXELS conv pixels, then the rest."""
        b, p = self.b, self.pool
        n, ph = b.sdiv(r, c64(p.POH)), b.srem(r, c64(p.POH))
        per = max(1, PIXELS // p.PW)
        blocks = p.POW // per
        for_range(b, c64(0), c64(blocks),
                  lambda k: self.pixel_block(n, ph, b.mul(k, c64(per)), per), name="owb")
        if p.POW % per:
            self.pixel_block(n, ph, c64(blocks * per), p.POW % per)


def emit_conv_direct_blocked(kb, node, bias, activation, pool=None):
    """The kernel: each thread its share of the (pooled) output rows (see the module doc)."""
    conv = DirectConv(kb, node, bias, activation, pool)
    lo, hi = kb.split(kb.b.mul(kb.dims(node)[0], c64(conv.pool.POH)))
    for_range(kb.b, lo, hi, conv.row, name="row")
    return kb.finish()
