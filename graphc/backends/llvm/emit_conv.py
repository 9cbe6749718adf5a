"""Kernels of the convolution, padding and pooling ops (graphc/ops/conv.py, pooling.py).

Convolutions are lowered onto the packed GEMM (gemm.py) through im2col (conv_kernels.py),
a chunk of whole images at a time, so the column matrix stays about two megabytes (an L2)
whatever the batch size:

    for each chunk of images:                 (every thread takes part in every step)
        forward:      im2col(x)   | barrier | y[chunk]  = cols @ W              | barrier
        weight grad:  im2col(x)   | barrier | dW       (+)= cols^T @ dy[chunk]   | barrier
        input grad:   cols = dy[chunk] @ W^T | barrier | col2im(cols) -> dx     | barrier

A 1 x 1 convolution with unit strides and no padding skips im2col (x is already the column
matrix). A forward convolution whose im2col row is shorter than DIRECT_BELOW (a first layer
on one channel: 3 x 3 x 1) runs as a direct loop nest instead, which measured faster there
(1.0 vs 1.5 ms for 3x3x1->32 on 128 28x28 images, one thread); from 3x3x32->64 on, the GEMM
path is 1.7-2x faster than direct loops in all three directions. The column matrix and the
GEMM's packing workspace are module globals of the kernel (their sizes depend only on
static shapes). Pooling kernels (emit_pool.py) share this module's window helpers.
"""

from __future__ import annotations

import math

from llvmlite import ir

from graphc.backends.llvm.conv_kernels import (
    Geometry,
    declare_barrier,
    define_col2im,
    define_im2col,
)
from graphc.backends.llvm.emitters import register
from graphc.backends.llvm.gemm import gemm_workspace_elems
from graphc.backends.llvm.gemm_library import gemm_function
from graphc.backends.llvm.irutil import ITEMSIZE, MEM_TYPE, PTR, c64, const, for_range

DIRECT_BELOW = 16  # forward convolutions with a smaller im2col row run as a direct loop nest
CHUNK_BYTES = 1 << 21  # target size of one chunk's column matrix (2 MB: L2 of one core)


def conv_geometry(node, x_shape, w_shape) -> Geometry:
    """The static window geometry (only the batch may be a run-time size)."""
    if None in x_shape[1:] or None in w_shape:
        raise NotImplementedError(
            f"llvm backend: {node.op} needs static spatial sizes and channels, got input "
            f"{x_shape} and kernel {w_shape} (node built at {node.site}); use backend='numpy'"
        )
    rank = len(x_shape) - 2
    kernel = w_shape[:rank]
    strides, dilation, padding = (node.attr(k) for k in ("strides", "dilation", "padding"))
    out = tuple(
        (n + lo + hi - d * (k - 1) - 1) // s + 1
        for n, k, s, d, (lo, hi) in zip(x_shape[1:-1], kernel, strides, dilation, padding)
    )
    return Geometry.of(x_shape[1:-1], x_shape[-1], out, kernel, strides, dilation, padding)


def is_pointwise(g: Geometry) -> bool:
    """A 1 x 1 window that visits every pixel once: x itself is the column matrix."""
    return (g.KH, g.KW, g.SH, g.SW, g.PT, g.PL, g.OH, g.OW) == (1, 1, 1, 1, 0, 0, g.H, g.W)


def images_per_chunk(g: Geometry, dtype: str) -> int:
    return max(2, CHUNK_BYTES // max(1, g.OH * g.OW * g.K * ITEMSIZE[dtype]))


def global_buffer(module: ir.Module, name: str, dtype: str, elems: int):
    """A 64-byte aligned, zero-initialized internal array (in .bss: costs no file size)."""
    ty = ir.ArrayType(MEM_TYPE[dtype], max(1, elems))
    var = ir.GlobalVariable(module, ty, name=name)
    var.linkage = "internal"
    var.initializer = ir.Constant(ty, None)
    var.align = 64
    return var


class ConvKernel:
    """The shared frame of the three convolution kernels: sizes, buffers, the chunk loop."""

    def __init__(self, kb, node, x_shape, w_shape, cout):
        self.kb, self.b, self.node, self.dtype = kb, kb.b, node, node.dtype
        self.g = conv_geometry(node, x_shape, w_shape)
        self.cout = cout
        self.images = images_per_chunk(self.g, self.dtype)
        rows = self.images * self.g.OH * self.g.OW
        name = kb.fn.name
        self.cols = (
            None
            if is_pointwise(self.g)
            else self.pointer(global_buffer(kb.module, f"{name}_cols", self.dtype, rows * self.g.K))
        )
        elems = max(
            gemm_workspace_elems(0, n, k, 1, self.dtype)
            for n, k in ((cout, self.g.K), (self.g.K, cout), (cout, rows))
        )
        self.workspace = self.pointer(global_buffer(kb.module, f"{name}_ws", self.dtype, elems))

    def pointer(self, var):
        return self.b.bitcast(var, PTR)

    def at(self, ptr, offset):
        return self.b.gep(ptr, [offset], source_etype=MEM_TYPE[self.dtype])

    def barrier(self):
        self.b.call(declare_barrier(self.kb.module), [self.kb.tid, self.kb.nthreads])

    def gemm(self, ta, tb, acc, M, N, K, A, lda, B, ldb, C, ldc):
        fn = gemm_function(self.kb.module, self.dtype, ta, tb, False, "linear", acc)
        self.b.call(
            fn,
            [
                self.kb.tid,
                self.kb.nthreads,
                M,
                N,
                K,
                A,
                lda,
                B,
                ldb,
                C,
                ldc,
                ir.Constant(PTR, None),
                self.workspace,
            ],
        )

    def chunks(self, batch, body):
        """body(chunk index, first image, images in the chunk) over the batch."""
        b, per = self.b, c64(self.images)
        count = b.sdiv(b.add(batch, c64(self.images - 1)), per)

        def chunk(k):
            first = b.mul(k, per)
            left = b.sub(batch, first)
            body(k, first, b.select(b.icmp_signed("<", left, per), left, per))

        for_range(b, c64(0), count, chunk, name="chunk")

    def columns(self, images, x_chunk):
        """The chunk's column matrix (im2col, then a barrier), or x itself when pointwise."""
        if self.cols is None:
            return x_chunk
        fn = define_im2col(self.kb.module, self.dtype, self.g)
        self.b.call(fn, [self.kb.tid, self.kb.nthreads, images, x_chunk, self.cols])
        self.barrier()
        return self.cols

    def pixels(self, images, per_image):
        return self.b.mul(images, c64(per_image))


def emit_conv(kb, node):
    x, w = node.inputs
    if conv_geometry(node, x.shape, w.shape).K < DIRECT_BELOW:
        return emit_conv_direct(kb, node)
    ck = ConvKernel(kb, node, x.shape, w.shape, w.shape[-1])
    g, K = ck.g, c64(ck.g.K)
    batch = kb.dims(node)[0]

    def chunk(_, first, images):
        cols = ck.columns(images, ck.at(kb.ins[0], ck.pixels(first, g.H * g.W * g.C)))
        y = ck.at(kb.out, ck.pixels(first, g.OH * g.OW * ck.cout))
        ck.gemm(
            False,
            False,
            False,
            ck.pixels(images, g.OH * g.OW),
            c64(ck.cout),
            K,
            cols,
            K,
            kb.ins[1],
            c64(ck.cout),
            y,
            c64(ck.cout),
        )
        ck.barrier()

    ck.chunks(batch, chunk)
    return kb.finish()


def emit_conv_weight_grad(kb, node):
    x, dy = node.inputs
    cout = node.shape[-1]
    ck = ConvKernel(kb, node, x.shape, node.shape, cout)
    g, b, K = ck.g, kb.b, c64(ck.g.K)
    batch = kb.dims(x)[0]
    zero_if_empty(kb, node, batch)

    def chunk(k, first, images):
        cols = ck.columns(images, ck.at(kb.ins[0], ck.pixels(first, g.H * g.W * g.C)))
        dy_chunk = ck.at(kb.ins[1], ck.pixels(first, g.OH * g.OW * cout))
        rows = ck.pixels(images, g.OH * g.OW)
        args = (K, c64(cout), rows, cols, K, dy_chunk, c64(cout), kb.out, c64(cout))
        with b.if_else(b.icmp_signed("==", k, c64(0))) as (first_chunk, later):
            with first_chunk:
                ck.gemm(True, False, False, *args)
            with later:
                ck.gemm(True, False, True, *args)
        ck.barrier()

    ck.chunks(batch, chunk)
    return kb.finish()


def emit_conv_direct(kb, node):
    """A loop nest for receptive fields too small for the GEMM to pay off (e.g. 3 x 3 x 1):
    each output pixel accumulates tap by tap, the innermost loop over contiguous filters."""
    g, b, t = geometry_of(kb, node, node.inputs[0], node), kb.b, node.dtype
    co = kb.dims(node)[-1]

    def row(n, oh):
        def pixel(ow):
            out = b.mul(g.pixel(n, oh, ow, g.OH, g.OW), co)
            zero(kb, kb.out, out, co, t)

            def tap(kh, kw, ih, iw, inside):
                with b.if_then(inside):
                    src = b.mul(g.pixel(n, ih, iw, g.H, g.W), g.C)
                    w_row = b.mul(b.add(b.mul(kh, c64(g.KW)), kw), g.C)

                    def channel(ci):
                        xv = kb.load(kb.ins[0], b.add(src, ci), t)
                        w0 = b.mul(b.add(w_row, ci), co)
                        kb.loop(
                            c64(0),
                            co,
                            lambda j: add_into(
                                kb,
                                kb.out,
                                b.add(out, j),
                                b.fmul(xv, kb.load(kb.ins[1], b.add(w0, j), t)),
                                t,
                            ),
                            name="co",
                        )

                    kb.loop(c64(0), g.C, channel, name="ci")

            g.window(oh, ow, tap)

        kb.loop(c64(0), g.OW, pixel, name="ow")

    g.output_rows(row)
    return kb.finish()


def zero_if_empty(kb, node, batch):
    """An empty batch contributes nothing: the weight gradient is zero."""
    b = kb.b
    with b.if_then(b.icmp_signed("==", batch, c64(0))):
        lo, hi = kb.split(c64(math.prod(node.shape)))
        kb.loop(
            lo,
            hi,
            lambda i: kb.store(ir.Constant(MEM_TYPE[node.dtype], 0.0), kb.out, i, node.dtype),
        )


def emit_conv_input_grad(kb, node):
    dy, w = node.inputs
    ck = ConvKernel(kb, node, node.shape, w.shape, w.shape[-1])
    g, K, cout = ck.g, c64(ck.g.K), c64(w.shape[-1])
    batch = kb.dims(node)[0]
    pointwise = ck.cols is None

    def chunk(_, first, images):
        dy_chunk = ck.at(kb.ins[0], ck.pixels(first, g.OH * g.OW * w.shape[-1]))
        dx_chunk = ck.at(kb.out, ck.pixels(first, g.H * g.W * g.C))
        target = dx_chunk if pointwise else ck.cols
        ck.gemm(
            False,
            True,
            False,
            ck.pixels(images, g.OH * g.OW),
            K,
            cout,
            dy_chunk,
            cout,
            kb.ins[1],
            cout,
            target,
            K,
        )
        ck.barrier()
        if not pointwise:
            fn = define_col2im(kb.module, ck.dtype, g)
            kb.b.call(fn, [kb.tid, kb.nthreads, images, ck.cols, dx_chunk])
            ck.barrier()

    ck.chunks(batch, chunk)
    return kb.finish()


for _r in (1, 2):
    register(f"conv{_r}d", "kernel", emit_conv)
    register(f"conv{_r}d_weight_grad", "kernel", emit_conv_weight_grad)
    register(f"conv{_r}d_input_grad", "kernel", emit_conv_input_grad)


# ---- window sweeps shared with the pooling kernels (emit_pool.py) ----------------------------


class Window:
    """Sizes (i64 values) of one window sweep, as 2-D: images (N, H, W, C) -> (N, OH, OW, ...)."""

    def __init__(self, kb, image, out, kernel, strides, dilation, padding):
        self.kb, self.b = kb, kb.b
        two = len(kernel) == 2
        pad = lambda t, v: tuple(t) if two else (v,) + tuple(t)  # noqa: E731
        self.N, *spatial, self.C = image
        _, *out_spatial, _ = out
        self.H, self.W = spatial if two else (c64(1), spatial[0])
        self.OH, self.OW = out_spatial if two else (c64(1), out_spatial[0])
        self.KH, self.KW = pad(kernel, 1)
        self.SH, self.SW = pad(strides, 1)
        self.DH, self.DW = pad(dilation, 1)
        self.PT, self.PL = (p[0] for p in pad(padding, (0, 0)))

    def source(self, o, k, stride, dilation, before):
        """Input coordinate of output o at kernel offset k."""
        b = self.b
        return b.sub(b.add(b.mul(o, c64(stride)), b.mul(k, c64(dilation))), c64(before))

    def inside(self, ih, iw):
        b = self.b

        def ok(i, n):
            return b.and_(b.icmp_signed(">=", i, c64(0)), b.icmp_signed("<", i, n))

        return b.and_(ok(ih, self.H), ok(iw, self.W))

    def pixel(self, n, h, w, H, W):
        b = self.b
        return b.add(b.mul(b.add(b.mul(n, H), h), W), w)

    def window(self, oh, ow, body):
        """For every kernel offset: body(kh, kw, ih, iw, inside)."""
        kb = self.kb

        def at(kh, kw):
            ih = self.source(oh, kh, self.SH, self.DH, self.PT)
            iw = self.source(ow, kw, self.SW, self.DW, self.PL)
            body(kh, kw, ih, iw, self.inside(ih, iw))

        kb.loop(
            c64(0),
            c64(self.KH),
            lambda kh: kb.loop(c64(0), c64(self.KW), lambda kw: at(kh, kw), name="kw"),
            name="kh",
        )

    def output_rows(self, body):
        """Split the (n, oh) rows between threads: body(n, oh)."""
        b, kb = self.b, self.kb
        lo, hi = kb.split(b.mul(self.N, self.OH))
        kb.loop(lo, hi, lambda r: body(b.sdiv(r, self.OH), b.srem(r, self.OH)), name="row")

    def images(self, body):
        lo, hi = self.kb.split(self.N)
        self.kb.loop(lo, hi, body, name="n")


def geometry_of(kb, node, image, out):
    return Window(
        kb,
        kb.dims(image),
        kb.dims(out),
        kernel_of(node),
        node.attr("strides"),
        node.attr("dilation") or (1,) * len(node.attr("strides")),
        node.attr("padding"),
    )


def kernel_of(node):
    if node.attr("pool_size"):
        return node.attr("pool_size")
    if node.attr("kernel_size"):
        return node.attr("kernel_size")
    return node.inputs[1].shape[:-2]


def zero(kb, ptr, start, count, dtype):
    b = kb.b
    kb.loop(c64(0), count, lambda i: kb.store(const(dtype, 0), ptr, b.add(start, i), dtype))


def add_into(kb, ptr, index, value, dtype):
    kb.store(kb.b.fadd(kb.load(ptr, index, dtype), value), ptr, index, dtype)


from graphc.backends.llvm import emit_pool  # noqa: E402,F401  (pooling kernels)

__all__ = ["Window", "geometry_of", "zero", "add_into"]
