"""The max-pooling gradient over a static geometry (only the batch known at run time),
vectorized along the channels (channel_vectors.py): for each output pixel, the window's max
per channel (one vector fold over the unrolled taps), then dy goes to the first tap that
holds it, lane by lane. Each thread owns whole images, zeroes them first (unless windows that
tile the image cover it: then every pixel is written once, without reading it back), and
writes only inside them (padding taps are skipped, never written even with zero). The
scalar kernel of emit_pool.py remains for run-time spatial sizes."""

from __future__ import annotations

from llvmlite import ir

from graphc.backends.llvm.channel_vectors import ChannelVectors
from graphc.backends.llvm.conv_kernels import Geometry
from graphc.backends.llvm.irutil import I1, c64, for_range
from graphc.backends.llvm.windows import zero


def pool_grad_geometry(node) -> Geometry:
    x, gy = node.inputs
    rank = x.ndim - 2
    return Geometry.of(x.shape[1:-1], x.shape[-1], gy.shape[1:-1], node.attr("pool_size"),
                       node.attr("strides"), (1,) * rank, node.attr("padding"))


def has_static_geometry(node) -> bool:
    x, gy = node.inputs
    return None not in x.shape[1:] and None not in gy.shape[1:]


def windows_tile(g: Geometry) -> bool:
    """Each input pixel lies in at most one window: it receives at most one gradient."""
    return (g.SH, g.SW, g.PT, g.PL) == (g.KH, g.KW, 0, 0)


def check_bfloat16_routing(node) -> None:
    """bfloat16 gradients are routed exactly only where no pixel sums two of them (the
    interpreter sums in float32 and rounds once; a bfloat16 buffer would round each sum)."""
    if has_static_geometry(node) and windows_tile(pool_grad_geometry(node)):
        return
    x, gy = node.inputs
    raise NotImplementedError(
        f"llvm backend: {node.op} on bfloat16 needs static spatial sizes and windows that tile "
        f"the input (strides == pool_size, no top/left padding); received x {x.shape}, "
        f"dy {gy.shape}, pool_size {node.attr('pool_size')}, strides {node.attr('strides')}, "
        f"padding {node.attr('padding')}: cast x and dy to float32 for this op")


class MaxPoolGrad:
    def __init__(self, kb, node):
        self.kb, self.b, self.g = kb, kb.b, pool_grad_geometry(node)
        self.vec = ChannelVectors(kb.b, node.dtype)
        g = self.g
        self.tiles = windows_tile(g)
        # the windows cover every pixel: nothing to zero first
        self.covers = self.tiles and (g.OH * g.KH, g.OW * g.KW) == (g.H, g.W)

    def taps(self, n, oh, ow):
        """(offset of input pixel channel 0, inside the image) of each tap of (oh, ow)."""
        b, g, out = self.b, self.g, []
        for kh in range(g.KH):
            ih = b.add(b.mul(oh, c64(g.SH)), c64(kh - g.PT))
            for kw in range(g.KW):
                iw = b.add(b.mul(ow, c64(g.SW)), c64(kw - g.PL))
                inside = b.and_(b.icmp_unsigned("<", ih, c64(g.H)),
                                b.icmp_unsigned("<", iw, c64(g.W)))
                pixel = b.add(b.mul(b.add(b.mul(n, c64(g.H)), ih), c64(g.W)), iw)
                out.append((b.mul(b.select(inside, pixel, c64(0)), c64(g.C)), inside))
        return out

    def route(self, taps, grad, first, lanes):
        """dx[first tap holding each lane's max] += grad, for channels first .. + lanes."""
        b, vec, x, dx = self.b, self.vec, self.kb.ins[0], self.kb.out
        values, peak = [], None
        for at, inside in taps:  # padding taps read a real pixel, then count as -inf
            value = vec.load(x, b.add(at, c64(first)), lanes)
            values.append(value)
            masked = b.select(inside, value, ir.Constant(value.type, [float("-inf")] * lanes))
            peak = masked if peak is None else vec.maximum(peak, masked)
        none = ir.Constant(ir.VectorType(I1, lanes), [0] * lanes)
        taken = none
        for (at, inside), value in zip(taps, values):
            here = b.select(inside, b.and_(b.fcmp_ordered("==", value, peak), b.not_(taken)),
                            none)
            with b.if_then(inside):  # never write a padding tap's stand-in pixel
                target = b.add(at, c64(first))
                if self.tiles:  # this window alone covers the pixel: no read-modify-write
                    vec.store(b.select(here, grad, ir.Constant(grad.type, None)), dx, target)
                else:
                    old = vec.load(dx, target, lanes)
                    vec.store(b.select(here, b.fadd(old, grad), old), dx, target)
            taken = b.or_(taken, here)

    def image(self, n):
        b, g = self.b, self.g
        size = g.H * g.W * g.C
        if not self.covers:
            zero(self.kb, self.kb.out, b.mul(n, c64(size)), c64(size), self.kb.node.dtype)

        def pixel(p):
            oh, ow = b.sdiv(p, c64(g.OW)), b.srem(p, c64(g.OW))
            taps = self.taps(n, oh, ow)
            dy = b.mul(b.add(b.mul(n, c64(g.OH * g.OW)), p), c64(g.C))
            for first, lanes in self.vec.chunks(g.C):
                grad = self.vec.load(self.kb.ins[1], b.add(dy, c64(first)), lanes)
                self.route(taps, grad, first, lanes)

        for_range(b, c64(0), c64(g.OH * g.OW), pixel, name="p")


def emit_max_pool_grad_vector(kb, node):
    """Each thread its own images (see the module doc)."""
    grad = MaxPoolGrad(kb, node)
    lo, hi = kb.split(kb.dims(node)[0])
    for_range(kb.b, lo, hi, grad.image, name="n")
    return kb.finish()
