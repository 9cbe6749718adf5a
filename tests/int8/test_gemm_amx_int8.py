"""gemm_amx_int8.py (tdpbusd) against NumPy integer math: odd sizes (M, N, K off the tiles'
16 / 32 / 64), 1 and 2 threads, the tile path forced down to one row, the dequantize epilogue
bit-for-bit, and the path choice `graphc info` reports."""

import functools

import numpy as np
import pytest
from llvmlite import ir

from graphc import cli_machine
from graphc.backends.llvm import (
    cache,
    gemm_amx_int8,
    gemm_amx_tiles,
    gemm_int8,
    gemm_int8_path,
    jit,
    peak,
    threads,
    versions,
)
from graphc.ops import quant
from tests.int8.test_gemm_int8 import SIZES, check_dequantize, compile_variant, operands, run

needs_amx = pytest.mark.skipif(not gemm_amx_tiles.int8_granted(),
                               reason="this CPU or kernel grants no AMX int8 tiles")


@functools.cache
def compiled(epilogue, activation="linear", bias=False, min_rows=1, a_padded=False):
    return compile_variant(gemm_amx_int8.define_gemm_int8_amx, epilogue, activation, bias,
                           min_rows, a_padded)


@needs_amx
@pytest.mark.parametrize("min_rows", [1, gemm_amx_int8.MIN_ROWS])
@pytest.mark.parametrize("nthreads", [1, 2])
def test_int32_exact_on_odd_sizes(min_rows, nthreads):
    rng = np.random.default_rng(2)
    module = compiled("int32", min_rows=min_rows)
    sizes = SIZES + [(40, 70, 130), (64, 32, 64), (65, 33, 65), (3, 500, 784)]
    for M, N, K in sizes:
        A, w, exact = operands(rng, M, N, K)
        C = run(module, A, w, np.full((M, N), -1, np.int32), nthreads=nthreads)
        np.testing.assert_array_equal(C, exact, err_msg=f"M={M} N={N} K={K}")


@needs_amx
@pytest.mark.parametrize("nthreads", [1, 2])
def test_padded_a_is_read_in_place(nthreads):
    """a_padded: tiles read A's buffer itself; random bytes past its rows must not count."""
    rng = np.random.default_rng(4)
    module = compiled("int32", min_rows=1, a_padded=True)
    for M, N, K in [(1, 7, 1), (7, 33, 257), (33, 257, 33), (257, 33, 130), (40, 70, 784)]:
        A, w, exact = operands(rng, M, N, K)
        a_bytes = gemm_amx_int8.a_rows_bytes(M, quant.padded_k(K))
        C = run(module, A, w, np.full((M, N), -1, np.int32), nthreads=nthreads, a_bytes=a_bytes)
        np.testing.assert_array_equal(C, exact, err_msg=f"M={M} N={N} K={K}")


@needs_amx
def test_extreme_values_are_exact():
    """255 x -128 in every product over K = 257 (several tile steps and a tail)."""
    module = compiled("int32")
    A = np.full((33, 257), 255, np.uint8)
    w = np.full((257, 33), -128, np.int8)
    C = run(module, A, w, np.zeros((33, 33), np.int32))
    np.testing.assert_array_equal(C, np.full((33, 33), 255 * -128 * 257))


@needs_amx
@pytest.mark.parametrize("activation,bias", [("linear", False), ("relu", True)])
@pytest.mark.parametrize("nthreads", [1, 2])
def test_dequantize_epilogue_bit_exact(activation, bias, nthreads):
    module = compiled("dequantize", activation, bias)
    sizes = [(1, 1, 1), (7, 33, 257), (257, 7, 33), (33, 257, 7), (64, 48, 128)]
    check_dequantize(module, sizes, 3, activation, bias, nthreads)


def test_path_follows_the_cpu():
    path = gemm_int8_path.int8_path()
    expected = ("amx" if gemm_amx_tiles.int8_granted() else
                "vnni" if gemm_int8.host_has_vnni() else "portable")
    assert path == expected
    assert gemm_int8_path.describe_path() == gemm_int8_path.DESCRIPTIONS[path]
    module = ir.Module(name="host_int8")
    fn = gemm_int8_path.define_host_gemm_int8(module, "dequantize", "relu", True)
    assert ("_amx_" in fn.name) == (path == "amx")
    assert fn.name.endswith("_portable") == (path == "portable")



def test_graphc_info_names_the_int8_path(capsys, monkeypatch):
    # the row alone: the cache scan and the peak measurement are other tests' business
    monkeypatch.setattr(cache, "cache_size", lambda: (0, 0))
    monkeypatch.setattr(peak, "describe_peak", lambda: "not measured here")
    cli_machine.print_llvm_info(jit, cache, threads, versions)
    out = capsys.readouterr().out
    assert f"\nint8 GEMM      {gemm_int8_path.describe_path()}\n" in out
