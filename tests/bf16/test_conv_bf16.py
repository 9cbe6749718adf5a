"""Convolutions on bfloat16 operands (conv_bf16.py): the forward op and both gradients on the
llvm backend against the interpreter on odd sizes, the same bits on 1 and 2 threads, and
mixed-precision gradients against float64."""

import hashlib
import os

import ml_dtypes
import numpy as np
import pytest

import graphc as gc
from graphc.backends.llvm import gemm_amx_tiles, gemm_bf16
from tests.backends.thread_runs import result_with_threads
from tests.bf16.mixed_gradients import assert_normwise_within, mixed_and_exact_gradients

BF16 = ml_dtypes.bfloat16
ULP = 2.0**-8  # bfloat16's relative spacing: 8 significant bits
STEP = 2.0**-7  # the largest relative gap between neighbouring bfloat16 values

# (rank, x shape, kernel shape, keyword arguments): odd batches, channels and sizes; the first
# has a 297-long im2col row (two weight-gradient column blocks) and 7 x 4 x 4 = 112 pixels, the
# second 567 pixels (two weight-gradient pixel blocks); a pointwise one skips im2col; the last
# needs its GEMM workspaces on the heap
CASES = [
    (2, (7, 7, 7, 33), (3, 3, 33, 7), dict(padding="same", strides=2)),
    (2, (7, 9, 9, 3), (3, 3, 3, 33), {}),
    (2, (1, 11, 11, 16), (3, 3, 16, 1), dict(dilation_rate=2)),
    (2, (3, 5, 5, 257), (1, 1, 257, 7), {}),
    (1, (7, 33, 16), (5, 16, 33), dict(padding="same")),
    (1, (1, 257, 7), (3, 7, 1), dict(strides=2)),
    (2, (2, 6, 6, 512), (3, 3, 512, 512), dict(padding="same")),  # 4.7 MB of packed weights
]


def conv_outputs(rank, x_shape, w_shape, kwargs, dtype):
    """(inputs, [y, dx, dw]) of a convolution computed in `dtype` from float32/64 inputs,
    with an output gradient `g` fed in: loss = sum(y * g)."""
    io = "float64" if dtype == "float64" else "float32"
    conv = gc.conv2d if rank == 2 else gc.conv1d
    x, w = gc.placeholder((None, *x_shape[1:]), io), gc.placeholder(w_shape, io)
    y = conv(gc.cast(x, dtype), gc.cast(w, dtype), **kwargs)
    g = gc.placeholder((None, *y.shape[1:]), io)
    loss = gc.sum(gc.cast(y, io) * g)
    dx, dw = gc.grad(loss, [x, w])
    return [x, w, g], [gc.cast(y, io), dx, dw]


def case_values(rank, x_shape, w_shape, kwargs, seed=0):
    rng = np.random.default_rng(seed)
    _, outputs = conv_outputs(rank, x_shape, w_shape, kwargs, "float32")
    y_shape = (x_shape[0], *outputs[0].shape[1:])
    return [rng.standard_normal(s).astype(np.float32) for s in (x_shape, w_shape, y_shape)]


def run_case(case, backend, dtype="bfloat16", absolute=False):
    rank, x_shape, w_shape, kwargs = case
    inputs, outputs = conv_outputs(rank, x_shape, w_shape, kwargs, dtype)
    values = case_values(*case)
    if dtype == "float64":
        values = [np.abs(v).astype(np.float64) if absolute else v.astype(np.float64)
                  for v in values]
    else:  # the inputs as bfloat16 rounds them, so float64 sees the same numbers
        values = [v.astype(BF16).astype(np.float32) for v in values]
    return [np.asarray(r) for r in gc.function(inputs, outputs, backend=backend)(*values)]


def assert_matches_the_interpreter(case):
    ref = run_case(case, "numpy")
    got = run_case(case, "llvm")
    scales = run_case(case, "numpy", "float64", absolute=True)  # sums of |terms|
    for name, a, b, scale in zip(("y", "dx", "dw"), got, ref, scales):
        assert a.shape == b.shape, name
        # both round a float32 sum (in different orders) to bfloat16 once, so they may land
        # on neighbouring bfloat16 values: one step (at most 2^-7 of the value) plus float32
        # order effects on the scale of the sum of |terms| (measured: 99.97% equal bits)
        error = np.abs(a.astype(np.float64) - b)
        assert np.all(error <= STEP * np.abs(b) + 1e-5 * scale), (name, error.max())


@pytest.mark.parametrize("case", CASES, ids=[f"conv{c[0]}d-{c[1]}-{c[2]}" for c in CASES])
def test_forward_and_gradients_match_the_interpreter(case):
    assert_matches_the_interpreter(case)


def other_paths_match() -> list:
    """The vdpbf16ps GEMM (where the CPU has it) and its emulation, as a CPU without AMX (and
    without AVX512-BF16) takes them, compiled afresh: the paths that ran, each checked."""
    os.environ["GRAPHC_CACHE"] = "0"  # the cache keys on the graph, not on the GEMM path
    gemm_amx_tiles.permission_granted = lambda: False
    paths = ["emulated"] + (["vdpbf16ps"] if gemm_bf16.hardware_dot_product() else [])
    for path in paths:
        gemm_bf16.hardware_dot_product = lambda path=path: path == "vdpbf16ps"
        for case in CASES[:2] + CASES[4:5]:
            assert_matches_the_interpreter(case)
    return paths


def test_the_vdpbf16ps_and_emulated_paths_match_the_interpreter():
    assert "emulated" in result_with_threads("tests.bf16.test_conv_bf16", "other_paths_match", 2)


def bits_digest() -> list:
    """Digests of the llvm results of every case (run under a given thread count)."""
    return [hashlib.sha256(b"".join(r.tobytes() for r in run_case(c, "llvm"))).hexdigest()
            for c in CASES]


def test_the_same_bits_on_one_and_two_threads():
    one = result_with_threads("tests.bf16.test_conv_bf16", "bits_digest", 1)
    assert one == result_with_threads("tests.bf16.test_conv_bf16", "bits_digest", 2)


def mixed_convnet_loss(x, t, w1, w2, dtype):
    """Two convolutions (relu between) on `dtype` casts of float32 master weights, a float32
    loss (float64 throughout for the reference)."""
    io = "float64" if dtype == "float64" else "float32"
    h = gc.relu(gc.conv2d(gc.cast(x, dtype), gc.cast(w1, dtype), padding="same"))
    y = gc.cast(gc.conv2d(h, gc.cast(w2, dtype)), io)
    return gc.mean((y - t) ** 2)


@pytest.mark.parametrize("backend", ["numpy", "llvm"])
def test_mixed_precision_conv_gradients_against_float64(backend):
    rng = np.random.default_rng(3)
    xs, ts = rng.standard_normal((7, 9, 9, 3)), rng.standard_normal((7, 7, 7, 5))
    w1s, w2s = rng.standard_normal((3, 3, 3, 8)) * 0.3, rng.standard_normal((3, 3, 8, 5)) * 0.2
    grads = mixed_and_exact_gradients(mixed_convnet_loss, (xs, ts), (w1s, w2s), backend)
    # x, weights, the hidden activation, dy, dh and dW are each rounded to bfloat16
    # (relative 2^-9 each) on the way to a gradient: a normwise error of a few 2^-8
    assert_normwise_within(grads, 4 * ULP)


def test_bfloat16_conv_ops_keep_their_dtype():
    x, w = gc.placeholder((None, 5, 5, 4), "bfloat16"), gc.placeholder((3, 3, 4, 2), "bfloat16")
    y = gc.conv2d(x, w)
    assert y.dtype == "bfloat16"
    xs = np.ones((2, 5, 5, 4), BF16)
    ws = np.full((3, 3, 4, 2), 0.5, BF16)
    for backend in ("numpy", "llvm"):
        got = np.asarray(gc.function([x, w], y, backend=backend)(xs, ws))
        assert got.dtype == BF16 and np.all(got.astype(np.float32) == 18.0)
