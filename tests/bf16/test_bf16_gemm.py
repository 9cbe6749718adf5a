"""The bfloat16 GEMM (gemm_bf16.py): vdpbf16ps and its emulation give the same bits, both
agree with a float64 product of the same bfloat16 operands, on odd sizes and 1 or 2 threads."""

import ctypes
import functools

import ml_dtypes
import numpy as np
import pytest
from llvmlite import ir

from graphc.backends.llvm import gemm, gemm_bf16, jit, threads

BF16 = ml_dtypes.bfloat16
SIZES = [(1, 1, 1), (7, 7, 7), (33, 33, 33), (257, 7, 33), (7, 257, 1), (33, 1, 257),
         (13, 70, 0), (100, 130, 257)]
PATHS = [True, False] if gemm_bf16.hardware_dot_product() else [True]
needs_hardware = pytest.mark.skipif(not gemm_bf16.hardware_dot_product(),
                                    reason="this CPU has no AVX512-BF16: only the emulated path")


def aligned(elems, dtype):
    raw = np.empty(elems * np.dtype(dtype).itemsize + 64, np.uint8)
    start = (-raw.ctypes.data) % 64
    return raw[start:start + elems * np.dtype(dtype).itemsize].view(dtype)


@functools.cache
def compiled(emulated, bias=False, ta=False, tb=False, act="linear", out="float32"):
    module = ir.Module(name="bf16_gemm_test")
    variant = (ta, tb, bias, act, out, emulated)
    fn = gemm_bf16.define_bf16_gemm(module, *variant)
    assert gemm_bf16.define_bf16_gemm(module, *variant) is fn
    gemm.define_gemm_step(module, fn, "step")
    return jit.compile_ir(str(module), fn.name)


def run(A, B, emulated, nthreads, bias=None, ta=False, tb=False, act="linear", out="float32"):
    """C = act(op(A) @ op(B) + bias) through the step wrapper; A, B as stored."""
    module = compiled(emulated, bias is not None, ta, tb, act, out)
    words = lambda M, N, K: gemm_bf16.bf16_workspace_words(N, K)  # noqa: E731
    return call_step(module, words, A, B, nthreads, bias, ta, tb, out)


def call_step(module, workspace_words, A, B, nthreads, bias, ta, tb, out):
    """Run a compiled GEMM step (gemm.define_gemm_step) on 1 thread or the pool."""
    M, K = A.shape[::-1] if ta else A.shape
    N = B.shape[0] if tb else B.shape[1]
    C = np.full((M, N), np.nan, np.float32).astype(out)
    ws = aligned(workspace_words(M, N, K), np.int32)
    args = (ctypes.c_int64 * 11)(M, N, K, A.ctypes.data, max(A.shape[1], 1), B.ctypes.data,
                                 max(B.shape[1], 1), C.ctypes.data, N,
                                 0 if bias is None else bias.ctypes.data, ws.ctypes.data)
    if nthreads == 1:
        step = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int32, ctypes.c_int32)
        step(module.address("step"))(ctypes.addressof(args), 0, 1)
    else:
        threads.parallel_run(module.address("step"), ctypes.addressof(args))
    return C


def operands(rng, M, N, K):
    return (rng.standard_normal((M, K)).astype(BF16), rng.standard_normal((K, N)).astype(BF16))


@pytest.mark.parametrize("emulated", PATHS)
@pytest.mark.parametrize("nthreads", [1, 2])
def test_matches_a_float64_product_of_the_bfloat16_operands(emulated, nthreads):
    rng = np.random.default_rng(0)
    for M, N, K in SIZES:
        A, B = operands(rng, M, N, K)
        exact = A.astype(np.float64) @ B.astype(np.float64)
        got = run(A, B, emulated, nthreads)
        # float32 accumulation of K exact products: error at most ~K ulps of the magnitudes
        bound = 4 * np.finfo(np.float32).eps * max(1, K) * (np.abs(A.astype(np.float64))
                                                           @ np.abs(B.astype(np.float64)))
        assert np.all(np.abs(got - exact) <= bound + 1e-30), (M, N, K)


@needs_hardware
@pytest.mark.parametrize("nthreads", [1, 2])
def test_emulated_path_gives_the_same_bits_as_vdpbf16ps(nthreads):
    rng = np.random.default_rng(1)
    for M, N, K in SIZES:
        A, B = operands(rng, M, N, K)
        # cancellation and wide magnitudes make each rounding show
        A = (A.astype(np.float32) * np.exp2(rng.integers(-60, 60, A.shape))).astype(BF16)
        hw, emu = run(A, B, False, nthreads), run(A, B, True, nthreads)
        assert np.array_equal(hw.view(np.uint32), emu.view(np.uint32)), (M, N, K)


@pytest.mark.parametrize("emulated", PATHS)
def test_denormals_read_and_sum_as_zero_on_both_paths(emulated):
    A = np.array([[1e-39, 1.0, 2.0**-70]], np.float32).astype(BF16)
    B = np.array([[1.0], [1e-39], [2.0**-70]], np.float32).astype(BF16)
    assert run(A, B, emulated, 1)[0, 0] == 0.0


@pytest.mark.parametrize("emulated", PATHS)
def test_bias_is_added_to_every_row(emulated):
    rng = np.random.default_rng(2)
    A, B = operands(rng, 7, 33, 7)
    bias = rng.standard_normal(33).astype(np.float32)
    with_bias, without = run(A, B, emulated, 2, bias), run(A, B, emulated, 2)
    assert np.array_equal(with_bias, without + bias)


@pytest.mark.parametrize("ta,tb", [(False, True), (True, False), (True, True)])
@pytest.mark.parametrize("nthreads", [1, 2])
def test_transposed_operands_give_the_bits_of_the_plain_product(ta, tb, nthreads):
    rng = np.random.default_rng(4)
    for M, N, K in SIZES:
        A, B = operands(rng, M, N, K)
        plain = run(A, B, PATHS[-1], nthreads)
        stored_a = np.ascontiguousarray(A.T) if ta else A
        stored_b = np.ascontiguousarray(B.T) if tb else B
        got = run(stored_a, stored_b, PATHS[-1], nthreads, ta=ta, tb=tb)
        assert np.array_equal(got.view(np.uint32), plain.view(np.uint32)), (M, N, K)


@pytest.mark.parametrize("emulated", PATHS)
@pytest.mark.parametrize("act", ["relu", "sigmoid"])
def test_bfloat16_output_rounds_after_product_bias_and_activation(emulated, act):
    rng = np.random.default_rng(5)
    A, B = operands(rng, 33, 257, 7)
    bias = rng.standard_normal(257).astype(BF16)
    got = run(A, B, emulated, 2, bias, act=act, out="bfloat16")
    product = run(A, B, emulated, 2).astype(BF16).astype(np.float32)
    biased = (product + bias.astype(np.float32)).astype(BF16).astype(np.float32)
    if act == "relu":
        expected = np.maximum(biased, 0).astype(BF16)
        assert np.array_equal(got.view(np.uint16), expected.view(np.uint16))
    else:  # vecmath's float32 sigmoid is within 2 ulps of NumPy's: one bfloat16 step at most
        expected = (1 / (1 + np.exp(-biased))).astype(BF16)
        steps = np.abs(got.view(np.uint16).astype(int) - expected.view(np.uint16).astype(int))
        assert steps.max() <= 1


def test_nan_and_inf_propagate():
    A = np.array([[np.nan, 1.0], [np.inf, 0.0]], np.float32).astype(BF16)
    B = np.array([[1.0], [1.0]], np.float32).astype(BF16)
    for emulated in PATHS:
        got = run(A, B, emulated, 1)
        assert np.isnan(got[0, 0]) and got[1, 0] == np.inf
