"""Per-image work of a quantized convolution, once per image on the thread's stack instead of
once per window (each value is in 9 windows of a 3 x 3 kernel). With a static input scale
(from calibrate) each image is quantized to bytes q + 128 and the windows are copied as bytes
into the int8 GEMM's A block; with dynamic scales each pixel's max |x| over its channels is
found once, and a window's abs-max is the max of its pixels' (quant_windows.py, mode
'pixels'). The bytes are those quant_windows.py makes from the input (same steps).

    void graphc_quant_image_<f32|f64>_<geometry>(T scale, ptr x, ptr image)
        the image x, clip(roundeven(x * scale), -127, 127) + 128, into the inside of the byte
        image padded for every window (padded_size; the kernel sets its padding to 128 once)
    void graphc_pixel_maxima_<f32|f64>_<pixels>_<channels>(ptr x, ptr maxima)
        maxima[p] = the bits of max_c |x[p, c]| (as quant_windows.py orders them)
    void graphc_byte_windows_<pool>_<geometry>(i64 r0, i64 rows, ptr image, ptr a)
        rows r0 .. r0 + rows of one image (row order as quant_windows.py), each window's bytes
        at a + i * Kp, copied from the padded image a kernel row at a time (a tap at a time
        when dilated); pad bytes K..Kp zero.
"""

from __future__ import annotations

import math

from llvmlite import ir

from graphc.backends.llvm.conv_kernels import Geometry, tag
from graphc.backends.llvm.irutil import I8, I64, PTR, REG_TYPE, VOID, c64, for_range
from graphc.backends.llvm.quant_windows import Windows

IMAGE_BYTES = 1 << 18  # larger images take quant_windows.py's path (their bytes stay on stack)
BYTE_LANES = 64  # bytes per vector copy


def padded_size(g: Geometry) -> tuple:
    """(height, width) of the byte image with its padding: every tap of every window inside."""
    return (max(g.PT + g.H, (g.OH - 1) * g.SH + (g.KH - 1) * g.DH + 1),
            max(g.PL + g.W, (g.OW - 1) * g.SW + (g.KW - 1) * g.DW + 1))


def image_bytes(g: Geometry) -> int:
    return math.prod(padded_size(g)) * g.C


def image_fits(g: Geometry) -> bool:
    return image_bytes(g) <= IMAGE_BYTES


def new_function(module, name, types, names):
    """(function, builder, args) of an internal function with noalias pointers, or (the
    existing function, None, None)."""
    existing = module.globals.get(name)
    if existing is not None:
        return existing, None, None
    fn = ir.Function(module, ir.FunctionType(VOID, types), name=name)
    fn.linkage = "internal"
    for arg, arg_name, ty in zip(fn.args, names, types, strict=True):
        arg.name = arg_name
        if ty == PTR:
            arg.add_attribute("noalias")
    return fn, ir.IRBuilder(fn.append_basic_block("entry")), dict(zip(names, fn.args))


def define_quantized_image(module: ir.Module, dtype: str, g: Geometry) -> ir.Function:
    """Rows of the image quantized into the inside of the padded byte image (whose padding
    the kernel sets to 128, zero, once)."""
    fn, b, a = new_function(module, f"graphc_quant_image_{tag(dtype)}_{g.key}",
                            [REG_TYPE[dtype], PTR, PTR], ["scale", "x", "image"])
    if b is None:
        return fn
    row = g.W * g.C
    w = Windows(b, dtype, Geometry(1, 1, row, 1, 1, 1, 1), a, (1, 1))
    inside, width = ir.Constant(ir.IntType(1), 1), padded_size(g)[1]

    def image_row(h):
        src = b.mul(h, c64(row))
        dst = b.gep(a["image"], [b.mul(b.add(b.mul(b.add(h, c64(g.PT)), c64(width)),
                                             c64(g.PL)), c64(g.C))], source_etype=I8)
        for count, lanes in w.chunks():
            first = w.first_channel(lanes)
            for_range(b, c64(0), c64(count), lambda j, lanes=lanes, first=first: w.store(
                w.quantize(w.load(src, w.channel(first, j, lanes), lanes, inside), a["scale"]),
                dst, w.channel(first, j, lanes)), name="v")
    for_range(b, c64(0), c64(g.H), image_row, name="h")
    b.ret_void()
    return fn


def define_pixel_maxima(module: ir.Module, dtype: str, pixels: int, C: int) -> ir.Function:
    fn, b, a = new_function(module, f"graphc_pixel_maxima_{tag(dtype)}_{pixels}_{C}",
                            [PTR, PTR], ["x", "maxima"])
    if b is None:
        return fn
    w = Windows(b, dtype, Geometry(1, 1, C, 1, 1, 1, 1), a, (1, 1))
    inside = ir.Constant(ir.IntType(1), 1)

    def pixel(p):
        src = b.mul(p, c64(C))
        best = [w.fold(src, inside, count, lanes, ir.Constant(ir.VectorType(w.bits, lanes), None))
                for count, lanes in w.chunks()]
        b.store(w.reduce(best), b.gep(a["maxima"], [p], source_etype=w.bits))
    for_range(b, c64(0), c64(pixels), pixel, name="p")
    b.ret_void()
    return fn


def define_byte_windows(module: ir.Module, g: Geometry, pool: tuple) -> ir.Function:
    fn, b, a = new_function(module, f"graphc_byte_windows_{pool[0]}x{pool[1]}_{g.key}",
                            [I64, I64, PTR, PTR], ["r0", "rows", "image", "a"])
    if b is None:
        return fn
    w = Windows(b, "float32", g, a, pool)
    width = padded_size(g)[1]
    # a kernel row's taps are one run of bytes when they are adjacent (no dilation)
    runs = [(kw * g.DW, kw, g.C) for kw in range(g.KW)] if g.DW > 1 else [(0, 0, g.KW * g.C)]

    def window(i):
        _, oh, ow = w.position(b.add(a["r0"], i))
        top_left = b.add(b.mul(b.mul(oh, c64(g.SH)), c64(width)), b.mul(ow, c64(g.SW)))
        dst = b.gep(a["a"], [b.mul(i, c64(w.Kp))], source_etype=I8)
        for kh in range(g.KH):
            for column, kw, length in runs:
                pixel = b.add(top_left, c64(kh * g.DH * width + column))
                copy_bytes(b, b.gep(a["image"], [b.mul(pixel, c64(g.C))], source_etype=I8),
                           b.gep(dst, [c64((kh * g.KW + kw) * g.C)], source_etype=I8), length)
        w.zero_pad(dst)
    for_range(b, c64(0), a["rows"], window, name="i")
    b.ret_void()
    return fn


def copy_bytes(b, src, dst, length: int) -> None:
    """`length` bytes from src to dst, in vectors of up to BYTE_LANES."""
    for first in range(0, length, BYTE_LANES):
        vty = ir.VectorType(I8, min(BYTE_LANES, length - first))
        value = b.load(b.gep(src, [c64(first)], source_etype=I8), typ=vty, align=1)
        b.store(value, b.gep(dst, [c64(first)], source_etype=I8), align=1)
