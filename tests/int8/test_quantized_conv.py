"""quantized_conv1d / quantized_conv2d: the LLVM kernel (windows quantized straight from the
input, quant_windows.py) equals the NumPy interpreter bit for bit on odd sizes, channel counts
around the vector width, padding, strides and dilation, static and dynamic scales, both
dtypes, and on 1 and 2 threads; a max pooling of its result fuses into the kernel
(passes/quant_pool.py) with the same bits."""

import hashlib
import os
import subprocess
import sys

import numpy as np

import graphc as gc
from graphc.backends.llvm.conv_kernels import Geometry
from graphc.backends.llvm.quant_image import image_fits
from graphc.ops import quant

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# (batch, spatial, cin, cout, kernel, strides, padding, dilation, dtype, static scale, relu)
CASES2D = [
    (1, (7, 7), 1, 7, (3, 3), (1, 1), "valid", (1, 1), "float32", None, True),
    (7, (9, 8), 17, 33, (3, 2), (2, 1), "same", (1, 1), "float32", None, False),
    (2, (6, 7), 33, 16, (2, 3), (1, 2), "same", (2, 1), "float64", None, True),
    (3, (5, 5), 7, 1, (3, 3), (1, 1), "same", (1, 1), "float32", 40.0, True),
    (1, (4, 9), 8, 5, (1, 1), (1, 1), "valid", (1, 1), "float64", 3.0, False),
    (2, (12, 12), 32, 64, (3, 3), (1, 1), "valid", (1, 1), "float32", None, True),
    # images above quant_image.IMAGE_BYTES: windows quantized one by one
    (1, (129, 129), 17, 5, (3, 3), (2, 2), "same", (1, 1), "float32", 30.0, True),
    (1, (129, 129), 17, 3, (2, 3), (3, 2), "valid", (1, 1), "float32", None, False),
]
CASES1D = [
    (2, (33,), 3, 7, (3,), (2,), "same", (1,), "float32", None, True),
    (1, (7,), 16, 17, (2,), (1,), "valid", (3,), "float64", 25.0, False),
]


def conv(rng, batch, size, cin, cout, kernel, strides, padding, dilation, dtype, scale, relu,
         pool=None):
    x = gc.placeholder((None, *size, cin), dtype)
    w = rng.standard_normal((*kernel, cin, cout)).astype(np.float32)
    w_q, w_scale = quant.quantize_kernel(w.reshape(-1, cout))
    bias = gc.shared(rng.standard_normal(cout).astype(dtype))
    y = gc.quantized_conv(x, gc.shared(quant.pack_weights(w_q)), gc.shared(w_scale.astype(dtype)),
                          bias, kernel_size=kernel, strides=strides, padding=padding,
                          dilation_rate=dilation, activation="relu" if relu else "linear",
                          input_scale=scale, pool_size=pool)
    xs = (rng.standard_normal((batch, *size, cin)) * rng.uniform(0.1, 10)).astype(dtype)
    return x, y, xs


# (case, pool): the pooling's windows tile the result (odd sizes leave a last row unpooled)
POOLED = [(CASES2D[0], (2, 2)), (CASES2D[1], (3, 2)), (CASES2D[2], (1, 3)), (CASES2D[3], (2, 2)),
          (CASES2D[5], (2, 2)),
          (CASES1D[0], (2,)), (CASES1D[1], (3,))]


def pooled(seed, spec, pool):
    """(x, gc.max_pool of the op, input), then the same op with pool_size given: (x, op)."""
    x, y, xs = conv(np.random.default_rng(seed), *spec)
    by_rule = getattr(gc, f"max_pool{len(pool)}d")(y, pool)
    return (x, by_rule, xs), conv(np.random.default_rng(seed), *spec, pool=pool)[:2]


def outputs_digest() -> str:
    """Every case through the llvm backend, hashed (run here and with 1 thread)."""
    rng, h = np.random.default_rng(5), hashlib.sha256()
    for spec in CASES2D + CASES1D:
        x, y, xs = conv(rng, *spec)
        h.update(gc.function([x], y)(xs).tobytes())
    for seed, (spec, pool) in enumerate(POOLED):
        (x, y, xs), _ = pooled(seed, spec, pool)
        h.update(gc.function([x], y)(xs).tobytes())
    return h.hexdigest()


def test_llvm_equals_the_interpreter():
    rng = np.random.default_rng(4)
    for spec in CASES2D + CASES1D:
        x, y, xs = conv(rng, *spec)
        got = gc.function([x], y)(xs)
        want = gc.function([x], y, backend="numpy")(xs)
        np.testing.assert_array_equal(got, want, err_msg=str(spec))


def test_both_paths_are_covered():
    """Small images get per-image work (quant_image.py), the large cases none."""
    fits = [image_fits(Geometry(*size, cin, 1, 1, 1, 1)) for _, size, cin, *_ in CASES2D]
    assert fits == [True] * (len(CASES2D) - 2) + [False] * 2


def test_saturating_static_scale_and_zero_windows():
    """A static scale too large clips windows to +-127; an all-zero window (scale 127 / 1e-7)
    and windows wholly in the padding quantize to zero, alike in both backends."""
    rng = np.random.default_rng(6)
    for scale in (None, 500.0):
        x, y, xs = conv(rng, 2, (5, 6), 5, 9, (3, 3), (1, 1), "same", (1, 1), "float32", scale,
                        False)
        xs[0] = 0
        got = gc.function([x], y)(xs)
        np.testing.assert_array_equal(got, gc.function([x], y, backend="numpy")(xs))


def test_same_bits_on_one_thread():
    """Every case's output, hashed, is the same with one thread as with the pool."""
    script = "import tests.int8.test_quantized_conv as t; print(t.outputs_digest())"
    child = subprocess.run([sys.executable, "-c", script], cwd=ROOT, text=True, timeout=300,
                           env={**os.environ, "GRAPHC_NUM_THREADS": "1", "PYTHONPATH": ROOT},
                           capture_output=True)
    assert (child.returncode, child.stdout.strip()) == (0, outputs_digest()), child.stderr[-3000:]


def test_fused_max_pooling_equals_the_interpreter():
    """gc.max_pool of the op's result runs inside its kernel (no max_pool kernel left) and
    equals the interpreter's pooling of the unfused op; pool_size gives the same op."""
    for seed, (spec, pool) in enumerate(POOLED):
        (x, y, xs), direct = pooled(seed, spec, pool)
        f = gc.function([x], y)
        assert [k.ops for k in f.kernels] == [(f"quantized_conv{len(pool)}d",)], f.kernels
        got = f(xs)
        np.testing.assert_array_equal(got, gc.function([x], y, backend="numpy")(xs),
                                      err_msg=str(spec))
        np.testing.assert_array_equal(gc.function([direct[0]], direct[1])(xs), got)


def test_pooling_that_does_not_tile_stays_apart():
    rng = np.random.default_rng(8)
    x, y, xs = conv(rng, *CASES2D[1])
    z = gc.max_pool2d(y, 3, strides=2)
    f = gc.function([x], z)
    assert [k.ops for k in f.kernels] == [("quantized_conv2d",), ("max_pool2d",)], f.kernels
    np.testing.assert_array_equal(f(xs), gc.function([x], z, backend="numpy")(xs))
