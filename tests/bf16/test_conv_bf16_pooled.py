"""A bfloat16 convolution with its max pooling fused (conv_bf16.emit_conv_bf16_pooled): the
same bits as the unfused convolution then pooling on llvm, on 1 and 2 threads, and the
interpreter's within one bfloat16 step (the GEMM sums in another order)."""

import hashlib

import numpy as np
import pytest

import graphc as gc
from tests.backends.thread_runs import result_with_threads

STEP = 2.0**-7  # the largest relative gap between neighbouring bfloat16 values

# (x shape, kernel shape, pool_size, activation): odd batches, sizes and channels; a pointwise
# one skips im2col; pooled sizes that drop the last conv row / column
CASES = [
    ((3, 10, 10, 2), (3, 3, 2, 8), (2, 2), "relu"),
    ((2, 11, 11, 33), (3, 3, 33, 7), (2, 2), None),
    ((1, 9, 9, 16), (1, 1, 16, 257), (3, 3), "relu"),
    ((7, 33, 16), (3, 16, 5), (2,), "relu"),
    ((1, 1, 257, 16), (1, 3, 16, 3), (1, 3), None),
]


def pooled_conv(case, fused: bool):
    """(inputs, [pooled]) of act(conv(x, w) + b) in bfloat16, then max pooling; unfused when
    the pre-pooling image is an output too (fusion needs pooling as its only reader)."""
    xs, ws, pool_size, activation = case
    x, w, bias = gc.placeholder(xs), gc.placeholder(ws), gc.placeholder((ws[-1],))
    conv, pool = (gc.conv2d, gc.max_pool2d) if len(xs) == 4 else (gc.conv1d, gc.max_pool1d)
    h = conv(gc.cast(x, "bfloat16"), gc.cast(w, "bfloat16")) + gc.cast(bias, "bfloat16")
    h = gc.relu(h) if activation else h
    outputs = [gc.cast(pool(h, pool_size=pool_size), "float32")]
    return [x, w, bias], outputs if fused else [*outputs, gc.cast(h, "float32")]


def run_case(case, backend, fused=True):
    inputs, outputs = pooled_conv(case, fused)
    f = gc.function(inputs, outputs, backend=backend)
    if backend == "llvm":
        fused_kernels = [k.name for k in f.kernels if "pool" in k.name and "conv" in k.name]
        assert bool(fused_kernels) == fused, [k.name for k in f.kernels]
    rng = np.random.default_rng(0)
    values = [rng.standard_normal(s).astype(np.float32)
              for s in (case[0], case[1], (case[1][-1],))]
    return f(*values)[0]


@pytest.mark.parametrize("case", CASES)
def test_fused_pooling_equals_the_unfused_kernels_and_the_interpreter(case):
    fused = run_case(case, "llvm")
    np.testing.assert_array_equal(fused.view(np.uint32), run_case(case, "llvm", False).view(
        np.uint32))
    want = run_case(case, "numpy")
    np.testing.assert_allclose(fused, want, rtol=STEP, atol=1e-6)


def digests_of_all_cases():
    return [hashlib.sha256(run_case(case, "llvm").tobytes()).hexdigest() for case in CASES]


def test_the_same_bits_on_one_and_two_threads():
    module = "tests.bf16.test_conv_bf16_pooled"
    one, two = (result_with_threads(module, "digests_of_all_cases", t) for t in (1, 2))
    assert one == two
