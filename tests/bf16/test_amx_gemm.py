"""The bfloat16 GEMM on AMX (gemm_amx.py): agrees with a float64 product of the same bfloat16
operands and with the vdpbf16ps path, every transpose, odd sizes, 1 or 2 threads, the bias and
activation epilogue, a bfloat16 C; and compiled bfloat16 matmuls take it where AMX is granted."""

import functools

import ml_dtypes
import numpy as np
import pytest
from llvmlite import ir

from graphc.backends.llvm import gemm, gemm_amx, gemm_amx_tiles, gemm_bf16, jit
from tests.bf16.test_bf16_gemm import SIZES, call_step, operands
from tests.bf16.test_bf16_gemm import run as run_vdpbf16ps

BF16 = ml_dtypes.bfloat16
pytestmark = pytest.mark.skipif(not gemm_amx_tiles.permission_granted(),
                                reason="this CPU or kernel grants no AMX tile data")
TRANSPOSES = [(False, False), (False, True), (True, False), (True, True)]


@functools.cache
def compiled(bias=False, ta=False, tb=False, act="linear", out="float32"):
    module = ir.Module(name="amx_gemm_test")
    variant = (ta, tb, bias, act, out)
    fn = gemm_amx.define_amx_gemm(module, *variant)
    assert gemm_amx.define_amx_gemm(module, *variant) is fn
    gemm.define_gemm_step(module, fn, "step")
    return jit.compile_ir(str(module), fn.name)


def run(A, B, nthreads, bias=None, ta=False, tb=False, act="linear", out="float32"):
    """C = act(op(A) @ op(B) + bias) on AMX through the step wrapper; A, B as stored."""
    module = compiled(bias is not None, ta, tb, act, out)
    return call_step(module, gemm_amx.amx_workspace_words, A, B, nthreads, bias, ta, tb, out)


def stored(A, B, ta, tb):
    return (np.ascontiguousarray(A.T) if ta else A), (np.ascontiguousarray(B.T) if tb else B)


def accumulation_bound(A, B):
    """float32 accumulation of K exact products: at most ~K ulps of the magnitudes."""
    wide = np.abs(A.astype(np.float64)) @ np.abs(B.astype(np.float64))
    return 4 * np.finfo(np.float32).eps * max(1, A.shape[1]) * wide + 1e-30


@pytest.mark.parametrize("ta,tb", TRANSPOSES)
@pytest.mark.parametrize("nthreads", [1, 2])
def test_matches_a_float64_product_of_the_bfloat16_operands(ta, tb, nthreads):
    rng = np.random.default_rng(0)
    for M, N, K in SIZES + [(64, 96, 64), (257, 257, 33)]:
        A, B = operands(rng, M, N, K)
        got = run(*stored(A, B, ta, tb), nthreads, ta=ta, tb=tb)
        exact = A.astype(np.float64) @ B.astype(np.float64)
        assert np.all(np.abs(got - exact) <= accumulation_bound(A, B)), (ta, tb, M, N, K)


@pytest.mark.parametrize("nthreads", [1, 2])
def test_agrees_with_the_vdpbf16ps_path_and_equals_it_on_one_pair(nthreads):
    rng = np.random.default_rng(1)
    for M, N, K in SIZES + [(33, 7, 2)]:
        A, B = operands(rng, M, N, K)
        A = (A.astype(np.float32) * np.exp2(rng.integers(-20, 20, A.shape))).astype(BF16)
        amx, avx = run(A, B, nthreads), run_vdpbf16ps(A, B, False, nthreads)
        # both within the float32 accumulation bound of the exact product: 2x apart at most
        assert np.all(np.abs(amx - avx) <= 2 * accumulation_bound(A, B)), (M, N, K)
        if K <= 2:  # one pair, the same order: the same bits (longer sums are ordered apart)
            assert np.array_equal(amx.view(np.uint32), avx.view(np.uint32)), (M, N, K)


@pytest.mark.parametrize("act", ["linear", "relu", "sigmoid"])
def test_bias_activation_and_bfloat16_output_round_as_the_separate_ops(act):
    rng = np.random.default_rng(5)
    A, B = operands(rng, 33, 257, 70)
    bias = rng.standard_normal(257).astype(BF16)
    got = run(A, B, 2, bias, act=act, out="bfloat16")
    product = run(A, B, 2).astype(BF16).astype(np.float32)
    biased = (product + bias.astype(np.float32)).astype(BF16).astype(np.float32)
    if act == "sigmoid":  # vecmath's float32 sigmoid is within 2 ulps of NumPy's: one step
        expected = (1 / (1 + np.exp(-biased))).astype(BF16)
        steps = np.abs(got.view(np.uint16).astype(int) - expected.view(np.uint16).astype(int))
        assert steps.max() <= 1
    else:
        expected = (np.maximum(biased, 0) if act == "relu" else biased).astype(BF16)
        assert np.array_equal(got.view(np.uint16), expected.view(np.uint16))


def test_float32_bias_is_added_to_every_row():
    rng = np.random.default_rng(2)
    A, B = operands(rng, 7, 33, 7)
    bias = rng.standard_normal(33).astype(np.float32)
    assert np.array_equal(run(A, B, 2, bias), run(A, B, 2) + bias)


def test_nan_and_inf_propagate_and_padding_reads_nothing_past_the_operands():
    A = np.array([[np.nan, 1.0], [np.inf, 0.0]], np.float32).astype(BF16)
    B = np.array([[1.0], [1.0]], np.float32).astype(BF16)
    got = run(A, B, 1)
    assert np.isnan(got[0, 0]) and got[1, 0] == np.inf
    # NaN right after op(A)'s rows and columns must not reach the padded tiles
    big = np.full((40, 40), np.nan, np.float32).astype(BF16)
    big[:33, :7] = 1
    a_view = np.ascontiguousarray(big[:33, :7])
    assert np.all(run(a_view, np.ones((7, 5), BF16), 2) == 7)


def test_workspace_holds_packed_b_and_a_blocks():
    # op(B): 16 pair rows (K=33 -> 17 pairs, padded to 32) x 64 columns; op(A): 64 rows x 32
    assert gemm_amx.amx_workspace_words(33, 7, 33) == 32 * 64 + 64 * 32
    assert gemm_amx.amx_workspace_words(1, 1, 1) == 16 * 64 + 32 * 16


def test_compiled_programs_take_the_amx_path_and_info_says_so():
    module = ir.Module(name="dispatch")
    fn = gemm_bf16.program_gemm(module, False, True, True, "relu")
    assert fn.name.startswith("graphc_gemm_amx_bf16_nt_bias_relu") and fn.linkage == "internal"
    assert gemm_bf16.program_workspace_words(100, 10, 784) == \
        gemm_amx.amx_workspace_words(100, 10, 784)
    assert gemm_bf16.describe_path().startswith("AMX tdpbf16ps")


def test_bad_epilogue_names_the_argument():
    with pytest.raises(ValueError, match="activation one of"):
        gemm_amx.define_amx_gemm(ir.Module(), False, False, False, "swishy", "float32")
