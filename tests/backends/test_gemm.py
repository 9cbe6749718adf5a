"""gemm.py against NumPy: transposes, odd sizes, epilogues, 1 and all threads, both dtypes."""

import ctypes
import functools
import os
import subprocess
import sys

import numpy as np
import pytest
from llvmlite import ir

from graphc.backends.llvm import gemm, gemm_plan, jit, threads

# (M, N, K); with B not transposed, M <= 128 reads B in place and larger M packs it;
# (100, 10, 500) and (200, 70, 33) split rows on 2 threads, the others split columns.
SIZES = [(1, 1, 1), (7, 13, 5), (100, 784, 500), (33, 17, 129), (100, 10, 500), (13, 70, 0),
         (130, 640, 3), (200, 70, 33)]
TRANSPOSES = [(False, False), (False, True), (True, False), (True, True)]


def aligned(shape, dtype):
    """A 64-byte aligned array (the GEMM promises aligned loads from its workspace)."""
    n, itemsize = int(np.prod(shape)), np.dtype(dtype).itemsize
    raw = np.empty(n * itemsize + 64, np.uint8)
    start = (-raw.ctypes.data) % 64
    return raw[start:start + n * itemsize].view(dtype).reshape(shape)


@functools.cache
def compiled(dtype, ta, tb, bias=False, activation="linear", accumulate=False):
    module = ir.Module(name="gemm_test")
    fn = gemm.define_gemm(module, dtype, ta, tb, bias, activation, accumulate)
    assert gemm.define_gemm(module, dtype, ta, tb, bias, activation, accumulate) is fn
    gemm.define_gemm_step(module, fn, "step")
    return jit.compile_ir(str(module), fn.name)


def run_gemm(module, A, B, C, M, N, K, bias=None, nthreads=None):
    """C = gemm(A, B) through the step wrapper; nthreads=1 runs on this thread only."""
    ws = aligned(gemm.gemm_workspace_elems(M, N, K, 2, C.dtype.name), C.dtype)
    keep = (A, B, C, bias, ws)
    args = (ctypes.c_int64 * 11)(M, N, K, A.ctypes.data, A.shape[1], B.ctypes.data, B.shape[1],
                                 C.ctypes.data, C.shape[1], 0 if bias is None else bias.ctypes.data,
                                 ws.ctypes.data)
    if nthreads == 1:
        step = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int32, ctypes.c_int32)
        step(module.address("step"))(ctypes.addressof(args), 0, 1)
    else:
        threads.parallel_run(module.address("step"), ctypes.addressof(args))
    del keep
    return C


def operands(rng, dtype, M, N, K, ta, tb):
    A = rng.standard_normal((K, M) if ta else (M, K)).astype(dtype)
    B = rng.standard_normal((N, K) if tb else (K, N)).astype(dtype)
    exact = (A.T if ta else A).astype(np.float64) @ (B.T if tb else B).astype(np.float64)
    return A, B, exact


def assert_close(C, exact, K, dtype):
    # K standard-normal products: rounding error grows at most ~K * eps (typically sqrt(K))
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(C, exact, rtol=0, atol=4 * eps * max(1, K))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("ta,tb", TRANSPOSES)
@pytest.mark.parametrize("nthreads", [1, None])
def test_matches_numpy(dtype, ta, tb, nthreads):
    rng = np.random.default_rng(0)
    module = compiled(dtype, ta, tb)
    for M, N, K in SIZES:
        A, B, exact = operands(rng, dtype, M, N, K, ta, tb)
        C = run_gemm(module, A, B, np.full((M, N), np.nan, dtype), M, N, K, nthreads=nthreads)
        assert_close(C, exact, K, dtype)


def test_leading_dimensions_and_views():
    """Operands that are column slices of wider arrays: ld > logical width."""
    rng = np.random.default_rng(1)
    M, N, K = 37, 45, 29
    A_big = rng.standard_normal((M, K + 7)).astype(np.float32)
    B_big = rng.standard_normal((K, N + 3)).astype(np.float32)
    C_big = np.zeros((M, N + 5), np.float32)
    module = compiled("float32", False, False)
    A, B = A_big[:, :K], B_big[:, :N]
    ws = aligned(gemm.gemm_workspace_elems(M, N, K, 2), np.float32)
    args = (ctypes.c_int64 * 11)(M, N, K, A_big.ctypes.data, K + 7, B_big.ctypes.data, N + 3,
                                 C_big.ctypes.data, N + 5, 0, ws.ctypes.data)
    threads.parallel_run(module.address("step"), ctypes.addressof(args))
    assert_close(C_big[:, :N], A.astype(np.float64) @ B, K, np.float32)
    assert not C_big[:, N:].any()  # nothing written past N


def reference_epilogue(z, bias, activation, old):
    if bias is not None:
        z = z + bias
    z = {"linear": lambda v: v, "relu": lambda v: np.maximum(v, 0),
         "sigmoid": lambda v: 1 / (1 + np.exp(-v)), "tanh": np.tanh}[activation](z)
    return z + old if old is not None else z


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("activation", ["linear", "relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("with_bias,accumulate", [(True, False), (False, True), (True, True)])
def test_epilogues(dtype, activation, with_bias, accumulate):
    rng = np.random.default_rng(2)
    ta, tb = (activation == "tanh"), (activation == "sigmoid")  # vary transposes cheaply
    module = compiled(dtype, ta, tb, with_bias, activation, accumulate)
    for M, N, K in [(33, 17, 129), (100, 70, 40), (3, 1, 2)]:
        A, B, exact = operands(rng, dtype, M, N, K, ta, tb)
        bias = rng.standard_normal(N).astype(dtype) if with_bias else None
        old = rng.standard_normal((M, N)).astype(dtype)
        C = run_gemm(module, A, B, old.copy(), M, N, K, bias=bias)
        expected = reference_epilogue(exact, bias, activation, old if accumulate else None)
        assert_close(C, expected, K, dtype)


def test_workspace_size_covers_packed_b():
    assert gemm.gemm_workspace_elems(100, 500, 784, 2) == 784 * 512
    assert gemm.gemm_workspace_elems(100, 500, 784, 2, "float64") == 784 * 504
    assert gemm.gemm_workspace_elems(5, 7, 0, 1) >= 1


def test_bad_arguments_are_named():
    module = ir.Module()
    with pytest.raises(ValueError, match="float16"):
        gemm.define_gemm(module, "float16", False, False, False, "linear", False)
    with pytest.raises(ValueError, match="swish"):
        gemm.define_gemm(module, "float32", False, False, False, "swish", False)


def test_three_threads_split_rows_and_columns():
    """An odd thread count exercises uneven column splits and the row split with its barrier."""
    code = (
        "import numpy as np\n"
        "from tests.backends import test_gemm as t\n"
        "rng = np.random.default_rng(3)\n"
        "for (M, N, K) in [(100, 10, 50), (31, 300, 20), (7, 13, 5)]:\n"
        "    A, B, exact = t.operands(rng, 'float32', M, N, K, False, True)\n"
        "    C = t.run_gemm(t.compiled('float32', False, True), A, B,\n"
        "                   np.zeros((M, N), np.float32), M, N, K)\n"
        "    t.assert_close(C, exact, K, np.float32)\n")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, GRAPHC_NUM_THREADS="3")
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=root, timeout=120)


# Plans (gemm_plan.py): the Zen tile; K-blocking with short blocks (many passes, partial sums
# kept in C); unrolled k loops with a remainder; A prefetch; other register tiles.
PLANS = [gemm_plan.ZEN, gemm_plan.TilePlan(6, 4, 16, 0, 4), gemm_plan.TilePlan(8, 3, 32, 64, 2),
         gemm_plan.TilePlan(14, 2, None, 0, 3), gemm_plan.blocked_plan(48 * 1024, share=2)]
# every odd size (1, 7, 33, 257) in each role; 130 rows pack B (in place up to 128)
ODD_SIZES = [(1, 1, 1), (7, 33, 257), (33, 257, 7), (257, 7, 33), (257, 257, 33), (33, 1, 257),
             (1, 257, 33), (7, 7, 7), (130, 257, 257), (13, 70, 0)]


@functools.cache
def compiled_with(plan, ta, tb, bias=False, activation="linear", accumulate=False):
    module = ir.Module(name="gemm_plan_test")
    fn = gemm.define_gemm(module, "float32", ta, tb, bias, activation, accumulate, plan)
    gemm.define_gemm_step(module, fn, "step")
    return jit.compile_ir(str(module), fn.name)


@pytest.mark.parametrize("plan", PLANS, ids=lambda p: p.tag())
@pytest.mark.parametrize("ta,tb", TRANSPOSES)
@pytest.mark.parametrize("nthreads", [1, 2])
def test_plans_on_odd_sizes(plan, ta, tb, nthreads):
    rng = np.random.default_rng(4)
    module = compiled_with(plan, ta, tb)
    for M, N, K in ODD_SIZES:
        A, B, exact = operands(rng, "float32", M, N, K, ta, tb)
        C = run_gemm(module, A, B, np.full((M, N), np.nan, np.float32), M, N, K,
                     nthreads=nthreads)
        assert_close(C, exact, K, np.float32)


@pytest.mark.parametrize("plan", PLANS[1:3], ids=lambda p: p.tag())
@pytest.mark.parametrize("activation,with_bias,accumulate",
                         [("relu", True, False), ("linear", True, True), ("tanh", False, True),
                          ("sigmoid", True, False)])
def test_plans_epilogues_after_passes(plan, activation, with_bias, accumulate):
    """The epilogue runs once, after the last k pass; accumulating folds the old C in first
    (a nonlinear activation with accumulate runs all of K in one pass)."""
    rng = np.random.default_rng(5)
    module = compiled_with(plan, False, False, with_bias, activation, accumulate)
    for M, N, K in [(33, 17, 129), (257, 70, 40), (7, 1, 0), (1, 33, 257)]:
        A, B, exact = operands(rng, "float32", M, N, K, False, False)
        bias = rng.standard_normal(N).astype(np.float32) if with_bias else None
        old = rng.standard_normal((M, N)).astype(np.float32)
        C = run_gemm(module, A, B, old.copy(), M, N, K, bias=bias)
        expected = reference_epilogue(exact, bias, activation, old if accumulate else None)
        assert_close(C, expected, K, np.float32)


def test_host_plan_keeps_zen_and_blocks_elsewhere(monkeypatch):
    gemm_plan.host_plan.cache_clear()
    monkeypatch.setattr(jit, "host_cpu", lambda: ("znver4", "+avx512f"))
    assert gemm_plan.host_plan() == gemm_plan.ZEN
    gemm_plan.host_plan.cache_clear()
    monkeypatch.setattr(jit, "host_cpu", lambda: ("sapphirerapids", "+avx512f"))
    plan = gemm_plan.host_plan()
    gemm_plan.host_plan.cache_clear()
    assert plan.mr * plan.nv + plan.nv + 1 <= 32  # accumulators, B vectors, a broadcast
    assert gemm_plan.parse_size("48K") == 48 * 1024 and gemm_plan.parse_size("2M") == 2 << 20
