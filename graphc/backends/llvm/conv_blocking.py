"""How the implicit-GEMM convolution kernels (conv_implicit.py, conv_padded_rows.py) cut their
work into blocks, from the static geometry alone (no IR here: the graph rewrites in
bias_grad_fusion.py ask the same questions as the emitters)."""

from __future__ import annotations

from dataclasses import replace

from graphc.backends.llvm.conv_gemm import BLOCK_BYTES, implicit_applies
from graphc.backends.llvm.conv_kernels import Geometry
from graphc.backends.llvm.irutil import ITEMSIZE


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def balanced(total: int, most: int) -> int:
    """Items per block when `total` items go in blocks of at most `most`, evened out."""
    return max(1, ceil_div(total, max(1, ceil_div(total, most))))


def padded(g: Geometry) -> Geometry:
    """The 'valid' geometry of g's padded image (PT + H + bottom rows, PL + W + right pixels)."""
    height = g.OH + g.DH * (g.KH - 1)
    width = g.OW + g.DW * (g.KW - 1)
    return replace(g, H=height, W=width, PT=0, PL=0)


def is_padded(g: Geometry) -> bool:
    return (g.PT, g.PL) != (0, 0) or padded(g) != g


def padded_applies(g: Geometry, block_rows: int, dtype: str) -> bool:
    """Unit strides, no column dilation, padding on every side >= 0, and a block of
    `block_rows` output rows' padded x rows fits the stack budget."""
    p = padded(g)
    fits = (block_rows + g.DH * (g.KH - 1)) * p.W * g.C * ITEMSIZE[dtype] <= BLOCK_BYTES
    inside = p.H >= g.PT + g.H and p.W >= g.PL + g.W
    return is_padded(g) and inside and implicit_applies(p) and fits


def weight_grad_rows(g: Geometry, cout: int, dtype: str) -> int:
    """Output rows per weight-gradient block: dy's rows, extended, stay under BLOCK_BYTES (for
    a padded g, also the block's padded x rows)."""
    p = padded(g)
    most = BLOCK_BYTES // (p.W * cout * ITEMSIZE[dtype])  # 0 when one row is over the budget
    if is_padded(g):
        most = min(most, BLOCK_BYTES // (p.W * g.C * ITEMSIZE[dtype]) - g.DH * (g.KH - 1))
    return balanced(g.OH, most) if most > 0 else 0


def weight_grad_applies(g: Geometry, cout: int, dtype: str) -> bool:
    """'valid' implicit geometries, and padded ones whose blocks fit (conv_padded_rows.py)."""
    rows = weight_grad_rows(g, cout, dtype)  # a block of stack rows must fit (long rows: columns)
    return rows > 0 and (implicit_applies(g) or padded_applies(g, rows, dtype))
