"""What the convolution kernels (emit_conv.py, emit_conv_grad.py) share: the static window
geometry of a node, and `ConvBlocks`, the per-thread machinery that runs a convolution as
one-thread GEMMs (gemm.py) over blocks of output pixels.

Every thread works alone on its own share, in blocks small enough (<= DIRECT_MAX_ROWS rows of
the GEMM's result) that the GEMM reads its B operand in place: no packing workspace, and no
barrier inside any loop. Blocks of the column matrix (conv_kernels.py) live on the thread's
stack.
"""

from __future__ import annotations

from llvmlite import ir

from graphc.backends.llvm.conv_kernels import Geometry
from graphc.backends.llvm.gemm import DIRECT_MAX_ROWS
from graphc.backends.llvm.gemm_library import gemm_function
from graphc.backends.llvm.irutil import ITEMSIZE, MEM_TYPE, PTR, c64, for_range

BLOCK_ROWS = DIRECT_MAX_ROWS  # output pixels per GEMM call: the GEMM then reads B in place
BLOCK_BYTES = 1 << 19  # a thread's column block stays this small (it lives on the stack)
DIRECT_BELOW = 16  # forward convolutions with a smaller im2col row run as a direct loop nest


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


def implicit_applies(g: Geometry) -> bool:
    """'valid' padding, unit strides, no dilation along rows (DH may be anything): the
    implicit-GEMM kernels (conv_implicit.py) run it."""
    valid = g.OH == g.H - g.DH * (g.KH - 1) and g.OW == g.W - g.KW + 1
    return valid and (g.SH, g.SW, g.DW, g.PT, g.PL) == (1, 1, 1, 0, 0) and not is_pointwise(g)


def kernel_shape(node) -> tuple:
    """The kernel's shape (*kernel_size, cin, cout) of a weight-gradient node; the fused
    weight_bias_grad node's own shape is (K + 1, cout)."""
    x = node.inputs[0]
    return tuple(node.attr("kernel_size")) + (x.shape[-1], node.shape[-1])


def is_pointwise(g: Geometry) -> bool:
    """A 1 x 1 window that visits every pixel once: x itself is the column matrix."""
    return (g.KH, g.KW, g.SH, g.SW, g.PT, g.PL, g.OH, g.OW) == (1, 1, 1, 1, 0, 0, g.H, g.W)


class ConvBlocks:
    """The geometry, per-thread block buffers on the stack, and one-thread GEMM calls that
    read B in place (so no workspace, no barrier) of one convolution kernel."""

    def __init__(self, kb, node, x_shape, w_shape, cout):
        self.kb, self.b, self.dtype = kb, kb.b, node.dtype
        self.g = conv_geometry(node, x_shape, w_shape)
        self.cout = cout
        self.pointwise = is_pointwise(self.g)
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

    def column_buffer(self, rows: int, width: int):
        """A block of `rows` im2col rows of `width` values, or None when x is the column
        matrix itself (a pointwise convolution)."""
        return None if self.pointwise else self.block_buffer(rows * width)

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
