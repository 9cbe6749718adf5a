"""The profile's roofline: each kernel's lower-bound time max(flops / peak, bytes / the
bandwidth of the first level its bytes fit in), its busy time against it, the step's bound
and best possible % of peak; `graphc info --peak` prints the bandwidths."""

import json

import numpy as np
import pytest

import graphc as gc
from graphc.backends.llvm import bandwidth, peak
from graphc.cli import main
from graphc.profile_report import KernelTime, Profile

PEAK = 100e9
LEVELS = [("L1", 1_000, 100e9), ("L2", 100_000, 50e9), ("DRAM", float("inf"), 10e9)]


def kernel(name, flops, nbytes, busy_us):
    seconds = busy_us * 1e-6
    return KernelTime(name, "loop", ("add",), 1, seconds, flops, nbytes, [seconds])


def synthetic_profile():
    rows = [kernel("gemm", 1_000_000, 800, busy_us=20.0),     # 10 us of FLOPs, 8 ns of L1
            kernel("update", 10_000, 50_000, busy_us=4.0),      # 1 us of L2 traffic
            kernel("big_sum", 100_000, 1_000_000, busy_us=200.0)]  # 100 us of DRAM traffic
    return Profile("llvm", rows, 1, 250e-6, threads=2, peak_flops=PEAK, bandwidth=LEVELS)


def test_each_kernel_is_bounded_by_its_flops_or_its_level():
    report = synthetic_profile()
    gemm, update, big = report.kernels
    assert report.roofline(gemm) == (pytest.approx(10e-6), "fp")
    assert report.roofline(update) == (pytest.approx(1e-6), "L2")
    assert report.roofline(big) == (pytest.approx(100e-6), "DRAM")
    assert report.roof_percent(gemm) == pytest.approx(50.0)
    assert report.roof_percent(update) == pytest.approx(25.0)
    assert report.roof_percent(big) == pytest.approx(50.0)


def test_step_bound_and_best_possible_percent_of_peak():
    report = synthetic_profile()
    assert report.step_bound() == pytest.approx(111e-6)
    flops_at_peak = 1_110_000 / PEAK  # 11.1 us
    assert report.best_peak_percent() == pytest.approx(100 * flops_at_peak / 111e-6)
    text = str(report)
    assert "best possible % of peak for this step 10.0%" in text and "measured 4.4%" in text
    assert "bound us" in text.splitlines()[0] and "L2 50" in text


def test_written_bytes_count_twice_in_the_traffic():
    report = synthetic_profile()
    update = report.kernels[1]
    update.written = 30_000  # an in-place update: its old values are read, its new written
    assert update.traffic == 80_000
    assert report.roofline(update) == (pytest.approx(1.6e-6), "L2")


def test_json_carries_the_bounds_and_is_strict():
    data = json.loads(synthetic_profile().to_json(), parse_constant=pytest.fail)
    assert data["step_bound_seconds"] == pytest.approx(111e-6)
    assert data["bandwidth"][-1] == {"level": "DRAM", "capacity_bytes": None,
                                     "bytes_per_second": 10e9}
    assert data["kernels"][1]["bound_seconds"] == pytest.approx(1e-6)
    assert data["kernels"][1]["bound_by"] == "L2"


def test_without_peak_or_bandwidth_there_is_no_roofline():
    report = synthetic_profile()
    report.bandwidth = None
    assert report.roofline(report.kernels[0]) is None and report.step_bound() is None
    assert "best possible" not in str(report) and report.best_peak_percent() is None


def test_info_peak_prints_the_bandwidth_per_level(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GRAPHC_HOME", str(tmp_path))
    monkeypatch.setattr(peak, "measure_thread_peak", lambda: 100e9)
    monkeypatch.setattr(bandwidth, "measure", lambda kind, size, n: 12.5e9)
    assert main(["info", "--peak"]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if "GB/s read / write / triad" in line]
    assert len(lines) == len(bandwidth.LEVELS) * len(bandwidth.thread_counts())
    assert all("12.5 / 12.5 / 12.5" in line for line in lines)
    assert (tmp_path / bandwidth.BANDWIDTH_FILE).exists()


def test_profile_of_a_compiled_step_has_bounds(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHC_HOME", str(tmp_path))
    monkeypatch.setattr(peak, "measure_thread_peak", lambda: 100e9)
    monkeypatch.setattr(bandwidth, "measure", lambda kind, size, n: 20e9)
    x = gc.placeholder((None, 33), name="x")
    w = gc.shared(np.ones((33, 7), np.float32), name="w")
    f = gc.function([x], gc.relu(x @ w), backend="llvm")
    report = gc.profile(f, np.ones((5, 33), np.float32), repeat=2)
    assert report.bandwidth[0][0] == "L1" and report.step_bound() > 0
    assert all(report.roofline(k)[0] >= k.flops / report.peak_flops for k in report.kernels)
    assert "best possible % of peak" in str(report)
    assert all(0 <= k.written <= k.bytes for k in report.kernels)
    assert any(k.written > 0 for k in report.kernels)
