"""The GEMM with A transposed reads A from packed blocks (gemm_pack.define_pack_a): blocks of
rows and of k that split the sum into passes, against NumPy on both thread counts."""

import numpy as np
import pytest

from graphc.backends.llvm import gemm, gemm_pack, gemm_plan
from tests.backends.test_gemm import (
    assert_close,
    compiled,
    compiled_with,
    operands,
    reference_epilogue,
    run_gemm,
)

BLOCK_ROWS_AT_FULL_K = gemm_pack.A_BLOCK_ELEMS // gemm_pack.A_BLOCK_K
WIDE = 2 * gemm_pack.PACK_A_MIN_COLUMNS + 1  # packed on 1 and 2 threads
# (M, N, K): three row blocks and two k blocks (the last of one k row); one k row and many
# rows in one block; rows ending one past a block; K = 0 (the epilogue alone); odd sizes;
# columns too few to pack for (A read in place, in k passes of A_BLOCK_K without K-blocking)
SIZES = [(2 * BLOCK_ROWS_AT_FULL_K + 1, WIDE, gemm_pack.A_BLOCK_K + 1), (257, WIDE, 1),
         (BLOCK_ROWS_AT_FULL_K + 1, WIDE, 257), (13, WIDE, 0), (1, WIDE, 33), (7, 1, 7),
         (257, 33, 257)]


@pytest.mark.parametrize("tb", [False, True])
@pytest.mark.parametrize("nthreads", [1, 2])
def test_blocks_of_rows_and_k(tb, nthreads):
    rng = np.random.default_rng(11)
    module = compiled("float32", True, tb)
    for M, N, K in SIZES:
        A, B, exact = operands(rng, "float32", M, N, K, True, tb)
        C = run_gemm(module, A, B, np.full((M, N), np.nan, np.float32), M, N, K,
                     nthreads=nthreads)
        assert_close(C, exact, K, np.float32)


@pytest.mark.parametrize("activation,with_bias,accumulate",
                         [("relu", True, False), ("linear", True, True), ("tanh", False, True)])
@pytest.mark.parametrize("nthreads", [1, 2])
def test_epilogue_after_the_last_k_block(activation, with_bias, accumulate, nthreads):
    """Bias and activation once, after the last k block; the old C is added once (a nonlinear
    activation with accumulate reads A in place, all of K in one pass)."""
    rng = np.random.default_rng(12)
    module = compiled("float32", True, False, with_bias, activation, accumulate)
    for M, N, K in SIZES[:3]:
        A, B, exact = operands(rng, "float32", M, N, K, True, False)
        bias = rng.standard_normal(N).astype(np.float32) if with_bias else None
        old = rng.standard_normal((M, N)).astype(np.float32)
        C = run_gemm(module, A, B, old.copy(), M, N, K, bias=bias, nthreads=nthreads)
        expected = reference_epilogue(exact, bias, activation, old if accumulate else None)
        assert_close(C, expected, K, np.float32)


def test_zen_plan_without_k_blocking_still_cuts_k():
    rng = np.random.default_rng(13)
    module = compiled_with(gemm_plan.ZEN, True, False)
    for M, N, K in SIZES:
        A, B, exact = operands(rng, "float32", M, N, K, True, False)
        C = run_gemm(module, A, B, np.full((M, N), np.nan, np.float32), M, N, K, nthreads=1)
        assert_close(C, exact, K, np.float32)


def test_float64_blocks():
    rng = np.random.default_rng(14)
    module = compiled("float64", True, False)
    for M, N, K in SIZES[:2]:
        A, B, exact = operands(rng, "float64", M, N, K, True, False)
        C = run_gemm(module, A, B, np.full((M, N), np.nan), M, N, K)
        assert_close(C, exact, K, np.float64)


def test_workspace_does_not_grow_with_packed_a():
    """The packed blocks live on each thread's stack: the workspace is op(B) alone, whatever
    the thread count (the exported library sizes it from shapes)."""
    assert gemm.gemm_workspace_elems(784, 500, 100, 1) == gemm.gemm_workspace_elems(784, 500,
                                                                                     100, 8)
