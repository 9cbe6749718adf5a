"""Kernels of the convolution ops (graphc/ops/conv.py), lowered onto the GEMM (gemm.py).

Every thread works alone on its own share, in blocks small enough (<= DIRECT_MAX_ROWS rows of
the GEMM's result) that the GEMM reads its B operand in place: no packing workspace, and no
barrier inside any loop. Blocks of the column matrix (conv_kernels.py) live on the thread's
stack.

    forward       each thread: a range of output pixels, 128 at a time:
                  im2col(block) -> y[block] = cols @ W
    input grad    W^T once into a module global (threads share rows; the kernels' only
                  barrier), then each thread whole images, 128 pixels at a time:
                  cols = dy[block] @ W^T -> col2im into its own image (no races)
    weight grad   each thread a range of dW's rows (im2col columns), <= 128 at a time, over
                  all pixels 256 at a time: im2col(block, its columns) -> dW[rows] (+)= cols^T @ dy

A 1 x 1 convolution with unit strides and no padding skips im2col (x is already the column
matrix). A forward convolution whose im2col row is shorter than DIRECT_BELOW (a first layer
on one channel: 3 x 3 x 1) runs as a direct loop nest instead, which measured faster there
(1.0 vs 1.5 ms for 3x3x1->32 on 128 28x28 images, one thread); from 3x3x32->64 on, the GEMM
path is 1.7-2x faster than direct loops in all three directions. Against an earlier version
that shared each GEMM between the threads (a barrier before and after every chunk of
images), the MNIST convnet step on a busy machine went from 49 / 99 ms (best / median) to
38 / 61 ms, at 7% more time on one thread. Pooling kernels (emit_pool.py) share this module's
window helpers.
"""

from __future__ import annotations

from llvmlite import ir

from graphc.backends.llvm import vecmath
from graphc.backends.llvm.conv_kernels import (
    Geometry,
    declare_barrier,
    define_col2im_block,
    define_im2col_block,
)
from graphc.backends.llvm.emitters import register
from graphc.backends.llvm.gemm import DIRECT_MAX_ROWS
from graphc.backends.llvm.gemm_library import gemm_function
from graphc.backends.llvm.irutil import ITEMSIZE, MEM_TYPE, PTR, c64, const, for_range

DIRECT_BELOW = 16  # forward convolutions with a smaller im2col row run as a direct loop nest
BLOCK_ROWS = DIRECT_MAX_ROWS  # output pixels per GEMM call: the GEMM then reads B in place
WGRAD_ROWS = 256  # output pixels per weight-gradient GEMM (its inner dimension)
BLOCK_BYTES = 1 << 19  # a thread's column block stays this small (it lives on the stack)


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


def global_buffer(b: ir.IRBuilder, name: str, dtype: str, elems: int):
    """A pointer to a 64-byte aligned, zero-initialized internal array of the builder's module
    (in .bss: costs no file size), shared by every thread that runs the kernel."""
    ty = ir.ArrayType(MEM_TYPE[dtype], max(1, elems))
    var = ir.GlobalVariable(b.module, ty, name=name)
    var.linkage = "internal"
    var.initializer = ir.Constant(ty, None)
    var.align = 64
    return b.gep(var, [c64(0), c64(0)], inbounds=True)  # the first element, as T*


class ConvKernel:
    """What the three convolution kernels share: the geometry, per-thread block buffers on
    the stack, and one-thread GEMM calls that read B in place (so no workspace, no barrier)."""

    def __init__(self, kb, node, x_shape, w_shape, cout):
        self.kb, self.b, self.dtype = kb, kb.b, node.dtype
        self.g = conv_geometry(node, x_shape, w_shape)
        self.cout = cout
        self.scratch = self.block_buffer(16)  # the GEMM's (unused) workspace argument

    @property
    def block_rows(self) -> int:
        """Pixels per block: BLOCK_ROWS, fewer when im2col rows are long (>= 8 always)."""
        return max(8, min(BLOCK_ROWS, BLOCK_BYTES // (self.g.K * ITEMSIZE[self.dtype])))

    def block_buffer(self, elems: int):
        """A thread's own buffer of `elems` values, on its stack (allocated at kernel entry)."""
        buffer = self.kb.pre.alloca(MEM_TYPE[self.dtype], size=c64(elems))
        buffer.align = 64
        return buffer

    def at(self, ptr, offset):
        return self.b.gep(ptr, [offset], source_etype=MEM_TYPE[self.dtype])

    def gemm(self, ta, acc, M, N, K, A, lda, B, ldb, C, ldc, bias=None, activation="linear"):
        """C (+)= act(op(A) @ B + bias) on this thread alone. Callers keep C at <=
        DIRECT_MAX_ROWS rows, so the GEMM reads B in place: it never packs or waits."""
        fn = gemm_function(self.kb.module, self.dtype, ta, False, bias is not None, activation, acc)
        alone = (ir.Constant(ir.IntType(32), 0), ir.Constant(ir.IntType(32), 1))
        bias = ir.Constant(PTR, None) if bias is None else bias
        self.b.call(fn, [*alone, M, N, K, A, lda, B, ldb, C, ldc, bias, self.scratch])

    def blocks(self, lo, hi, size: int, body):
        """body(first, count) over [lo, hi) in blocks of at most `size`."""
        b = self.b
        count = b.sdiv(b.add(b.sub(hi, lo), c64(size - 1)), c64(size))

        def block(k):
            first = b.add(lo, b.mul(k, c64(size)))
            left = b.sub(hi, first)
            body(first, b.select(b.icmp_signed("<", left, c64(size)), left, c64(size)))

        for_range(b, c64(0), count, block, name="block")


def emit_conv_dense(kb, body):
    """A forward convolution's 'dense' kernel (passes.fuse): the convolution, and when fused
    its bias add (one value per channel) and activation, applied as each pixel is finished."""
    bias = kb.ins[2] if body.bias is not None else None
    return emit_conv(kb, body.gemm, bias, body.activation_name)


def emit_conv(kb, node, bias, activation):
    """Each thread: its share of the output pixels, BLOCK_ROWS at a time: im2col, GEMM (whose
    epilogue adds the bias and applies the activation)."""
    x, w = node.inputs
    if conv_geometry(node, x.shape, w.shape).K < DIRECT_BELOW:
        return emit_conv_direct(kb, node, bias, activation)
    ck = ConvKernel(kb, node, x.shape, w.shape, w.shape[-1])
    g, b, K, cout = ck.g, kb.b, c64(ck.g.K), c64(ck.cout)
    lo, hi = kb.split(b.mul(kb.dims(node)[0], c64(g.OH * g.OW)))
    pointwise = is_pointwise(g)
    cols = None if pointwise else ck.block_buffer(ck.block_rows * g.K)
    im2col = define_im2col_block(kb.module, ck.dtype, g)

    def block(first, rows):
        if pointwise:
            A = ck.at(kb.ins[0], b.mul(first, K))
        else:
            b.call(im2col, [first, rows, c64(0), K, kb.ins[0], cols])
            A = cols
        ck.gemm(
            False,
            False,
            rows,
            cout,
            K,
            A,
            K,
            kb.ins[1],
            cout,
            ck.at(kb.out, b.mul(first, cout)),
            cout,
            bias,
            activation,
        )

    ck.blocks(lo, hi, ck.block_rows, block)
    return kb.finish()


def emit_conv_input_grad(kb, node):
    """W^T once (threads share it, one barrier); then each thread its own images, BLOCK_ROWS
    output pixels at a time: cols = dy @ W^T, col2im into the image (zeroed first)."""
    dy, w = node.inputs
    ck = ConvKernel(kb, node, node.shape, w.shape, w.shape[-1])
    g, b, K, cout = ck.g, kb.b, c64(ck.g.K), c64(ck.cout)
    wt = transposed_weights(kb, ck, kb.ins[1])
    pointwise = is_pointwise(g)
    cols = None if pointwise else ck.block_buffer(ck.block_rows * g.K)
    col2im = define_col2im_block(kb.module, ck.dtype, g)
    lo, hi = kb.split(kb.dims(node)[0])
    pixels, image = g.OH * g.OW, g.H * g.W * g.C

    def block(first, rows):
        target = ck.at(kb.out, b.mul(first, K)) if pointwise else cols
        ck.gemm(
            False,
            False,
            rows,
            K,
            cout,
            ck.at(kb.ins[0], b.mul(first, cout)),
            cout,
            wt,
            K,
            target,
            K,
        )
        if not pointwise:
            b.call(col2im, [first, rows, c64(0), c64(0), cols, kb.out])

    def one_image(n):
        if not pointwise:
            zero(kb, kb.out, b.mul(n, c64(image)), c64(image), ck.dtype)
        start = b.mul(n, c64(pixels))
        ck.blocks(start, b.add(start, c64(pixels)), ck.block_rows, block)

    kb.loop(lo, hi, one_image, name="n")
    return kb.finish()


def transposed_weights(kb, ck, w):
    """W (K x cout) transposed into a module global, the threads sharing the rows; a barrier
    then makes it visible to all (the only barrier of the convolution kernels)."""
    b, K, cout = kb.b, ck.g.K, ck.cout
    wt = global_buffer(b, f"{kb.fn.name}_wt", ck.dtype, K * cout)
    lo, hi = kb.split(c64(cout))

    def row(j):
        kb.loop(
            c64(0),
            c64(K),
            lambda k: kb.store(
                kb.load(w, b.add(b.mul(k, c64(cout)), j), ck.dtype),
                wt,
                b.add(b.mul(j, c64(K)), k),
                ck.dtype,
            ),
            name="k",
        )

    kb.loop(lo, hi, row, name="j")
    b.call(declare_barrier(kb.module), [kb.tid, kb.nthreads])
    return wt


def emit_conv_weight_grad(kb, node):
    """Each thread owns a range of dW's rows (im2col columns) and walks all output pixels,
    WGRAD_ROWS at a time: im2col of just its columns, then dW[cols] (+)= cols^T @ dy."""
    x, dy = node.inputs
    ck = ConvKernel(kb, node, x.shape, node.shape, node.shape[-1])
    g, b, cout = ck.g, kb.b, c64(ck.cout)
    pointwise = is_pointwise(g)
    width = min(BLOCK_ROWS, g.K)
    cols = None if pointwise else ck.block_buffer(WGRAD_ROWS * width)
    im2col = define_im2col_block(kb.module, ck.dtype, g)
    total = b.mul(kb.dims(x)[0], c64(g.OH * g.OW))
    k_lo, k_hi = kb.split(c64(g.K))

    def column_block(k0, kcount):
        dw = ck.at(kb.out, b.mul(k0, cout))
        with b.if_then(b.icmp_signed("==", total, c64(0))):  # no pixels: a zero gradient
            zero(kb, dw, c64(0), b.mul(kcount, cout), ck.dtype)

        def row_block(first, rows):
            if pointwise:
                A, lda = ck.at(kb.ins[0], b.add(b.mul(first, c64(g.K)), k0)), c64(g.K)
            else:
                b.call(im2col, [first, rows, k0, b.add(k0, kcount), kb.ins[0], cols])
                A, lda = cols, kcount
            args = (
                kcount,
                cout,
                rows,
                A,
                lda,
                ck.at(kb.ins[1], b.mul(first, cout)),
                cout,
                dw,
                cout,
            )
            with b.if_else(b.icmp_signed("==", first, c64(0))) as (first_block, later):
                with first_block:
                    ck.gemm(True, False, *args)
                with later:
                    ck.gemm(True, True, *args)

        ck.blocks(c64(0), total, WGRAD_ROWS, row_block)

    ck.blocks(k_lo, k_hi, width, column_block)
    return kb.finish()


def emit_conv_direct(kb, node, bias, activation):
    """A loop nest for receptive fields too small for the GEMM to pay off (e.g. 3 x 3 x 1):
    each output pixel accumulates tap by tap, the innermost loop over contiguous filters, then
    gets its bias and activation (added last, as the GEMM's epilogue does)."""
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
            if bias is not None or activation != "linear":
                kb.loop(c64(0), co, lambda j: epilogue(b.add(out, j), j), name="co")

        kb.loop(c64(0), g.OW, pixel, name="ow")

    def epilogue(index, channel):
        value = kb.load(kb.out, index, t)
        if bias is not None:
            value = b.fadd(value, kb.load(bias, channel, t))
        kb.store(vecmath.emit_activation(b, activation, value), kb.out, index, t)

    g.output_rows(row)
    return kb.finish()


for _r in (1, 2):
    register(f"conv{_r}d", "dense", emit_conv_dense)
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
