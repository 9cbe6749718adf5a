"""backends/llvm/bandwidth.py: the emitted read / write / triad loops measure plausible rates,
levels are measured once per CPU and cached in GRAPHC_HOME, remeasure replaces them, and a
profile asks only for the levels its kernels' working sets need."""

import ctypes
import json

import numpy as np
import pytest

from graphc.backends.llvm import bandwidth, threads


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHC_HOME", str(tmp_path))
    return tmp_path


def fake_rates(monkeypatch, scale: float = 1.0) -> list:
    """measure() replaced by a rate that names its arguments; returns the calls made."""
    calls = []

    def measure(kind, size, nthreads):
        calls.append((kind, size, nthreads))
        return scale * (1e9 + size + 1e6 * nthreads)

    monkeypatch.setattr(bandwidth, "measure", measure)
    return calls


@pytest.mark.parametrize("kind", bandwidth.KINDS)
@pytest.mark.parametrize("nthreads", [1, 2])
def test_loops_measure_a_plausible_rate_in_l1(kind, nthreads):
    if nthreads > threads.num_threads():
        pytest.skip(f"the pool has {threads.num_threads()} thread(s)")
    rate = bandwidth.measure(kind, 16 << 10, nthreads)
    assert 1e8 < rate < 1e14  # 0.1 GB/s .. 100 TB/s


def test_triad_loop_computes_b_plus_s_c():
    addresses, lanes, _ = bandwidth.loops()
    n = bandwidth.UNROLL
    a, b, c = (bandwidth.aligned_floats(n * lanes) for _ in range(3))
    b[:], c[:] = 1.0, range(n * lanes)
    run_loop(addresses["triad"], (a, b, c), n, passes=3)
    assert (a == b + 2.0 * c).all()  # the last pass's scalar is its index, 2


def test_read_loop_sums_and_write_loop_stores_the_pass_index():
    addresses, lanes, _ = bandwidth.loops()
    n = 2 * bandwidth.UNROLL
    a = bandwidth.aligned_floats(n * lanes)
    a[:] = np.arange(n * lanes) % 7
    sink = run_loop(addresses["read"], (a, a, a), n, passes=3)
    assert sink[0] == 3 * a.reshape(-1, lanes)[:, 0].sum()  # lane 0 of the summed vectors
    run_loop(addresses["write"], (a, a, a), n, passes=4)
    assert (a == 3.0).all()


def run_loop(address, arrays, vectors, passes):
    sizes, sink = np.array([vectors, passes], np.int64), np.zeros(1, np.float32)
    args = (ctypes.c_void_p * 5)(sizes.ctypes.data, *(x.ctypes.data for x in arrays),
                                 sink.ctypes.data)
    bandwidth.STEP(address)(ctypes.addressof(args), 0, 1)
    return sink


def test_levels_are_measured_once_then_cached(home, monkeypatch):
    calls = fake_rates(monkeypatch)
    first = bandwidth.machine_bandwidth(("L1", "L2"))
    per_level = len(bandwidth.KINDS) * len(bandwidth.thread_counts())
    assert len(calls) == 2 * per_level
    assert bandwidth.machine_bandwidth(("L1",))["1"]["L1"] == first["1"]["L1"]
    assert len(calls) == 2 * per_level  # read from the cache
    saved = json.loads((home / bandwidth.BANDWIDTH_FILE).read_text())
    assert set(next(iter(saved.values()))["1"]) == {"L1", "L2"}


def test_remeasure_replaces_the_cached_rates(home, monkeypatch):
    fake_rates(monkeypatch)
    before = bandwidth.machine_bandwidth(("L1",))["1"]["L1"]["triad"]
    fake_rates(monkeypatch, scale=2.0)
    after = bandwidth.machine_bandwidth(("L1",), remeasure=True)["1"]["L1"]["triad"]
    assert after == pytest.approx(2 * before)
    assert bandwidth.machine_bandwidth(("L1",))["1"]["L1"]["triad"] == after


def test_profile_levels_stop_at_the_first_that_holds_the_working_set(home, monkeypatch):
    calls = fake_rates(monkeypatch)
    caches = bandwidth.cache_sizes()
    levels = bandwidth.roofline_levels(1, caches["L1"] + 1)
    assert [level for level, _, _ in levels] == ["L1", "L2"]
    assert {size for _, size, _ in calls} == {bandwidth.working_set(lv, n) for lv in ("L1", "L2")
                                              for n in bandwidth.thread_counts()}
    assert all(rate > 0 for _, _, rate in levels) and levels[0][1] == caches["L1"]


def test_working_sets_grow_with_the_level():
    sizes = [bandwidth.working_set(level, 1) for level in bandwidth.LEVELS]
    assert sizes == sorted(sizes) and sizes[0] > 0


def test_profile_rate_is_the_best_with_at_most_its_threads(home, monkeypatch):
    # a busy machine: the pool streams slower than one thread alone
    monkeypatch.setattr(bandwidth, "measure", lambda kind, size, nthreads: 1e9 / nthreads)
    for nthreads in bandwidth.thread_counts():
        (_, _, rate), = bandwidth.roofline_levels(nthreads, 1)
        assert rate == pytest.approx(bandwidth.TRIAD_TRAFFIC * 1e9)
