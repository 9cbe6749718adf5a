"""Per-image work of a quantized convolution, once per image on the thread's stack instead of
once per window (each value is in 9 windows of a 3 x 3 kernel). With a static input scale
(from calibrate) each image is quantized to bytes q + 128 and the windows are copied as bytes
into the int8 GEMM's A block; with dynamic scales each pixel's max |x| over its channels is
found once, and a window's abs-max is the max of its pixels' (quant_windows.py, mode
'pixels'). The bytes are those quant_windows.py makes from the input (same steps).

    void graphc_quant_image_<f32|f64>_<elems>(T scale, ptr x, ptr image)
        image[k] = clip(roundeven(x[k] * scale), -127, 127) + 128 for k < elems
    void graphc_pixel_maxima_<f32|f64>_<pixels>_<channels>(ptr x, ptr maxima)
        maxima[p] = the bits of max_c |x[p, c]| (as quant_windows.py orders them)
    void graphc_byte_windows_<pool>_<geometry>(i64 r0, i64 rows, ptr image, ptr a)
        rows r0 .. r0 + rows of one image (row order as quant_windows.py), each window's bytes
        at a + i * Kp: 128 (zero) in the padding, pad bytes K..Kp zero.
"""

from __future__ import annotations

from llvmlite import ir

from graphc.backends.llvm.conv_kernels import Geometry, tag
from graphc.backends.llvm.irutil import I8, I64, PTR, REG_TYPE, VOID, c64, for_range
from graphc.backends.llvm.quant_windows import OFFSET, Windows

IMAGE_BYTES = 1 << 18  # larger images take quant_windows.py's path (their bytes stay on stack)
BYTE_LANES = 64  # bytes per vector copy


def image_fits(g: Geometry) -> bool:
    return g.H * g.W * g.C <= IMAGE_BYTES


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


def define_quantized_image(module: ir.Module, dtype: str, elems: int) -> ir.Function:
    fn, b, a = new_function(module, f"graphc_quant_image_{tag(dtype)}_{elems}",
                            [REG_TYPE[dtype], PTR, PTR], ["scale", "x", "image"])
    if b is None:
        return fn
    w = Windows(b, dtype, Geometry(1, 1, elems, 1, 1, 1, 1), a, (1, 1))
    inside = ir.Constant(ir.IntType(1), 1)
    for count, lanes in w.chunks():
        first = w.first_channel(lanes)
        for_range(b, c64(0), c64(count), lambda j, lanes=lanes, first=first: w.store(
            w.quantize(w.load(c64(0), w.channel(first, j, lanes), lanes, inside), a["scale"]),
            a["image"], w.channel(first, j, lanes)), name="v")
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
    whole, rest = divmod(g.C, BYTE_LANES)
    chunks = [(c, BYTE_LANES) for c in range(0, whole * BYTE_LANES, BYTE_LANES)]
    chunks += [(whole * BYTE_LANES, rest)] if rest else []

    def window(i):
        n, oh, ow = w.position(b.add(a["r0"], i))
        dst = b.gep(a["a"], [b.mul(i, c64(w.Kp))], source_etype=I8)

        def tap(t):
            src, inside = w.source(n, oh, ow, t)
            for first, lanes in chunks:
                vty = ir.VectorType(I8, lanes)
                at = b.gep(a["image"], [b.add(src, c64(first))], source_etype=I8)
                value = b.select(inside, b.load(at, typ=vty, align=1),
                                 ir.Constant(vty, [OFFSET] * lanes))
                w.store(value, dst, b.add(b.mul(t, c64(g.C)), c64(first)))
        w.each_tap(tap)
        w.zero_pad(dst)
    for_range(b, c64(0), a["rows"], window, name="i")
    b.ret_void()
    return fn
