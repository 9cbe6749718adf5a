"""peak_int8.py's loops do the multiply-adds they are counted for (no timing here)."""

import numpy as np
import pytest

from graphc.backends.llvm import gemm_amx_tiles, gemm_int8, peak_int8


def run_loop(path, n):
    """The path's peak loop run n times on a buffer of ones; the buffer after."""
    module = peak_int8.compiled_loops((path,))
    buf = np.ones(1024, np.uint8)
    peak_int8.LOOP(module.address(f"{path}_loop"))(n, buf.ctypes.data)
    return buf


@pytest.mark.skipif(not gemm_int8.host_has_vnni(), reason="no AVX512-VNNI on this CPU")
def test_vnni_loop_sums_every_chain():
    n = 1000
    buf = run_loop("vnni", n)
    start = int(np.ones(4, np.uint8).view(np.int32)[0])  # each chain starts from its operand
    # each vpdpbusd adds 4 products of 1 x 1 per lane
    expected = np.int32(peak_int8.VNNI_CHAINS * (start + 4 * n))
    assert (buf[:64].view(np.int32) == expected).all()


@pytest.mark.skipif(not gemm_amx_tiles.int8_granted(), reason="no AMX int8 tiles granted")
def test_amx_loop_accumulates_tile_products():
    n = 100
    buf = run_loop("amx", n)
    # tile 0 after n tdpbusd of all-ones tiles: 64 products of 1 per element each time
    assert (buf.view(np.int32) == 64 * n).all()


def test_peaks_cover_this_cpus_paths():
    peaks = peak_int8.measure_int8_peaks()
    expected = {p for p, has in (("vnni", gemm_int8.host_has_vnni()),
                                 ("amx", gemm_amx_tiles.int8_granted())) if has}
    assert set(peaks) == expected and all(rate > 0 for rate in peaks.values())
