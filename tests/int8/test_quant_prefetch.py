"""Dynamic-scale quantized convolutions prefetch the next image while windowing this one
(quant_windows.Windows.prefetch_next_image): the results keep their bits, and the prefetches
past the last image touch nothing (every buffer in a guarded block; channel counts 7, 16,
33 and 257, batches 1 to 7, pooled and not)."""

import numpy as np
from llvmlite import ir

import graphc as gc
from graphc.backends.llvm.conv_kernels import Geometry
from graphc.backends.llvm.quant_windows import define_quantized_windows
from tests.int8.test_quantized_conv import conv

# ((batch, spatial, cin, cout, kernel), pool, dtype): a row prefetches 1 to 8 lines
CASES = [
    ((1, (7, 7), 16, 7, (3, 3)), (2, 2), "float32"),
    ((3, (9, 8), 33, 33, (3, 2)), None, "float64"),
    ((2, (6, 7), 257, 16, (2, 3)), (2, 2), "float32"),
    ((7, (5, 5), 7, 1, (3, 3)), None, "float32"),
]


def test_prefetches_past_the_last_image_touch_nothing(monkeypatch):
    """Under GRAPHC_CHECK_BOUNDS (every buffer in a guarded block) each case equals the
    interpreter; one thread's windows are test_quantized_conv.test_same_bits_on_one_thread's."""
    monkeypatch.setenv("GRAPHC_CHECK_BOUNDS", "1")
    rng = np.random.default_rng(3)
    for (batch, size, cin, cout, kernel), pool, dtype in CASES:
        x, y, xs = conv(rng, batch, size, cin, cout, kernel, (1, 1), "valid", (1, 1), dtype,
                        None, True, pool=pool)
        f = gc.function([x], y)
        assert f.executable.guarded
        np.testing.assert_array_equal(f(xs), gc.function([x], y, backend="numpy")(xs),
                                      err_msg=dtype)


def test_only_the_per_image_windows_prefetch():
    """Mode 'pixels' (x is one image) prefetches the next one; the other modes, whose x is
    the whole batch, do not."""
    g = Geometry(7, 7, 16, 5, 5, 3, 3)
    for mode, expected in (("pixels", True), ("dynamic", False), ("static", False)):
        module = ir.Module(name=mode)
        define_quantized_windows(module, "float32", g, mode, (2, 2))
        assert ("llvm.prefetch" in str(module)) is expected, mode
