"""gemm_int8.py against NumPy integer math: odd sizes, 1 and 2 threads, vpdpbusd and the
portable path, and the dequantize epilogue bit-for-bit against the same f32 steps in NumPy."""

import ctypes
import functools
import threading

import numpy as np
import pytest
from llvmlite import ir

from graphc.backends.llvm import gemm_int8, jit
from graphc.ops import quant

ODD = [1, 7, 33, 257]
SIZES = [(m, n, k) for m in ODD for n in ODD for k in ODD if m * n * k <= 257 * 257 * 33]
STEP = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int32, ctypes.c_int32)
VNNI = [True, False] if gemm_int8.host_has_vnni() else [False]


def compile_variant(define, *variant):
    """define(module, *variant) compiled with the step wrapper (and defined once per module)."""
    module = ir.Module(name="gemm_int8_test")
    fn = define(module, *variant)
    assert define(module, *variant) is fn
    gemm_int8.define_gemm_int8_step(module, fn, "step")
    return jit.compile_ir(str(module), fn.name)


@functools.cache
def compiled(epilogue, activation="linear", bias=False, vnni=True, own_comp=False):
    return compile_variant(gemm_int8.define_gemm_int8, epilogue, activation, bias, vnni,
                           own_comp)


def run(module, A, w, C, comp=None, row_scale=None, col_scale=None, bias=None, nthreads=1,
        a_bytes=None, b_pad=0):
    """C = gemm(A, w) through the step wrapper, on `nthreads` threads; a_bytes: A's rows sit at
    the start of a buffer of that many random bytes (else of exactly M rows); b_pad: the value
    of B's pad rows (A's pad is then zero, as the quantizing kernels write it)."""
    M, K = A.shape
    N = w.shape[1]
    lda = quant.padded_k(K)
    A_padded = np.full((M, lda), 0 if b_pad else 77, np.uint8)  # a non-zero pad must not count
    A_padded[:, :K] = A
    if a_bytes is not None:
        buffer = np.random.default_rng(9).integers(0, 256, a_bytes, dtype=np.uint8)
        buffer[:A_padded.size] = A_padded.ravel()
        A_padded = buffer
    B = quant.pack_weights(w)
    B[-1, :, K - 4 * (B.shape[0] - 1):] = b_pad
    keep = [A_padded, B, comp, row_scale, col_scale, bias, C]
    ptrs = [0 if x is None else x.ctypes.data for x in keep]
    args = (ctypes.c_int64 * 12)(M, N, K, ptrs[0], lda, *ptrs[1:], C.shape[1])
    step = STEP(module.address("step"))
    # the SPMD contract by hand: each thread calls with its tid (ctypes releases the GIL)
    workers = [threading.Thread(target=step, args=(ctypes.addressof(args), tid, nthreads))
               for tid in range(nthreads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    del keep
    return C


def operands(rng, M, N, K):
    A = rng.integers(0, 256, (M, K), dtype=np.uint8)
    w = rng.integers(-128, 128, (K, N), dtype=np.int8)
    return A, w, A.astype(np.int64) @ w.astype(np.int64)


@pytest.mark.parametrize("vnni", VNNI)
@pytest.mark.parametrize("nthreads", [1, 2, 3])
def test_int32_exact_on_odd_sizes(vnni, nthreads):
    rng = np.random.default_rng(0)
    module = compiled("int32", vnni=vnni)
    for M, N, K in SIZES:
        A, w, exact = operands(rng, M, N, K)
        C = run(module, A, w, np.full((M, N), -1, np.int32), nthreads=nthreads)
        np.testing.assert_array_equal(C, exact, err_msg=f"M={M} N={N} K={K}")


def test_extreme_values_are_exact():
    """255 x -128 in every product, K = 257: the largest sums vpdpbusd meets here."""
    module = compiled("int32", vnni=VNNI[0])
    A = np.full((7, 257), 255, np.uint8)
    w = np.full((257, 33), -128, np.int8)
    C = run(module, A, w, np.zeros((7, 33), np.int32))
    np.testing.assert_array_equal(C, np.full((7, 33), 255 * -128 * 257))


def dequantize_reference(acc, comp, row_scale, col_scale, bias, activation):
    x = (acc - comp).astype(np.float32) * (row_scale[:, None] * col_scale[None, :])
    if bias is not None:
        x = x + bias
    return np.maximum(x, np.float32(0)) if activation == "relu" else x


def check_dequantize(module, sizes, seed, activation, bias, nthreads, own_comp=False):
    """The dequantize epilogue against NumPy's f32 steps on each (M, N, K); own_comp: the
    kernel sums comp itself (B's pad rows then hold 5s it must not count)."""
    rng = np.random.default_rng(seed)
    for M, N, K in sizes:
        A, w, exact = operands(rng, M, N, K)
        comp = ((128 * w.astype(np.int64).sum(0)).astype(np.int32) if own_comp
                else rng.integers(-1000, 1000, N).astype(np.int32))
        row_scale = rng.uniform(1e-3, 1e-2, M).astype(np.float32)
        col_scale = rng.uniform(1e-3, 1e-2, N).astype(np.float32)
        b = rng.standard_normal(N).astype(np.float32) if bias else None
        C = run(module, A, w, np.full((M, N), np.nan, np.float32), None if own_comp else comp,
                row_scale, col_scale, b, nthreads, b_pad=5 if own_comp else 0)
        want = dequantize_reference(exact.astype(np.int32), comp, row_scale, col_scale, b,
                                    activation)
        np.testing.assert_array_equal(C, want, err_msg=f"M={M} N={N} K={K}")


@pytest.mark.parametrize("activation,bias", [("linear", False), ("relu", True)])
@pytest.mark.parametrize("nthreads", [1, 2])
def test_dequantize_epilogue_bit_exact(activation, bias, nthreads):
    module = compiled("dequantize", activation, bias, VNNI[0])
    check_dequantize(module, [(1, 1, 1), (7, 33, 257), (257, 7, 33), (33, 257, 7)], 1,
                     activation, bias, nthreads)


@pytest.mark.parametrize("vnni", VNNI)
@pytest.mark.parametrize("nthreads", [1, 2])
def test_own_comp_equals_comp_from_memory(vnni, nthreads):
    """own_comp: comp = 128 * sum_k w[k, n] summed in the kernel (the comp argument is null);
    B's pad rows (k past K in the last group) are not counted, whatever they hold."""
    module = compiled("dequantize", "relu", True, vnni, own_comp=True)
    sizes = [(1, 1, 1), (1, 257, 33), (7, 33, 257), (15, 7, 7), (33, 65, 130)]
    check_dequantize(module, sizes, 5, "relu", True, nthreads, own_comp=True)


def test_pack_weights_layout_and_errors():
    w = np.arange(-10, 11, dtype=np.int8).reshape(7, 3)
    packed = quant.pack_weights(w)
    assert packed.shape == (2, 16, 4) and packed[0, 2, 1] == w[1, 2] and packed[1, 0, 3] == 0
    with pytest.raises(TypeError, match="int8 matrix, received \\(7, 3\\) float32"):
        quant.pack_weights(w.astype(np.float32))


def test_bad_variant_is_named():
    with pytest.raises(ValueError, match="epilogue must be one of"):
        gemm_int8.define_gemm_int8(ir.Module(), "float8")
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        gemm_int8.define_gemm_int8(ir.Module(), "dequantize", "gelu")
    with pytest.raises(ValueError, match="own_comp needs the 'dequantize' epilogue"):
        gemm_int8.define_gemm_int8(ir.Module(), "int32", own_comp=True)
