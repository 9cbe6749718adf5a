"""The window quantization of quantized_conv1d / quantized_conv2d (quant_windows.py: clip, then
one rounding conversion) on values whose scaled value is a tie (k + 0.5: to even), beyond
+-127 (clipped, even past the int32 range and at +-inf) and at zero: the same bytes as the
interpreter, for static and dynamic scales, padded and unpadded windows, both dtypes, on 1 and
2 threads."""

import hashlib
import os
import subprocess
import sys

import numpy as np

import graphc as gc
from tests.int8.test_quantized_conv import ROOT, conv

# (batch, spatial, cin, cout, kernel, strides, padding, dilation, dtype, static scale, relu)
CASES = [
    (1, (7, 5), 33, 7, (3, 3), (1, 1), "valid", (1, 1), "float32", 2.0, False),
    (3, (5, 6), 17, 1, (3, 2), (1, 1), "same", (1, 1), "float64", 2.0, False),
    (2, (9, 7), 7, 5, (3, 3), (2, 1), "valid", (1, 1), "float32", None, False),
    (1, (33,), 16, 3, (3,), (1,), "valid", (1,), "float64", None, True),
    # an image above quant_image.IMAGE_BYTES: each window quantized from the input
    (1, (129, 129), 17, 3, (3, 3), (2, 2), "valid", (1, 1), "float32", 2.0, False),
]
# x * 2: the ties -253 .. 253 (odd halves), past the clip, and zero
TIES = np.arange(-126.5, 127, 1.0) / 2
EXTREMES = np.array([63.75, -63.75, 64.0, -64.0, 1e10, -1e10, np.inf, -np.inf, 0.0, -0.0])


def tie_inputs(rng, spec, xs):
    """xs filled with TIES (and EXTREMES for a static scale: a dynamic scale makes +-inf NaN)."""
    values = np.concatenate([TIES, EXTREMES if spec[9] is not None else EXTREMES[:6]])
    return rng.choice(values, size=xs.shape).astype(xs.dtype)


def each_case():
    rng = np.random.default_rng(11)
    for spec in CASES:
        x, y, xs = conv(rng, *spec)
        yield spec, x, y, tie_inputs(rng, spec, xs)


def test_ties_and_clipping_equal_the_interpreter():
    for spec, x, y, xs in each_case():
        got = gc.function([x], y)(xs)
        want = gc.function([x], y, backend="numpy")(xs)
        np.testing.assert_array_equal(got, want, err_msg=str(spec))


def outputs_digest() -> str:
    h = hashlib.sha256()
    for _, x, y, xs in each_case():
        h.update(gc.function([x], y)(xs).tobytes())
    return h.hexdigest()


def test_same_bits_on_one_thread():
    script = "import tests.int8.test_quantize_rounding as t; print(t.outputs_digest())"
    child = subprocess.run([sys.executable, "-c", script], cwd=ROOT, text=True, timeout=300,
                           env={**os.environ, "GRAPHC_NUM_THREADS": "1", "PYTHONPATH": ROOT},
                           capture_output=True)
    assert (child.returncode, child.stdout.strip()) == (0, outputs_digest()), child.stderr[-3000:]
