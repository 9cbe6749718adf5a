"""`graphc info --peak`: the machine's float32 peak, measured with the emitted FMA loop once and
cached in GRAPHC_HOME; --remeasure times it again."""

import json

import pytest

from graphc.backends.llvm import peak, threads
from graphc.cli import main


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHC_HOME", str(tmp_path))
    return tmp_path


def count_measurements(monkeypatch, rate: float) -> list:
    calls = []
    monkeypatch.setattr(peak, "measure_thread_peak", lambda: (calls.append(1), rate)[1])
    return calls


def test_peak_is_measured_once_then_read_from_the_cache(home, capsys, monkeypatch):
    calls = count_measurements(monkeypatch, 100e9)
    assert main(["info", "--peak"]) == 0 and main(["info", "--peak"]) == 0
    out = capsys.readouterr().out
    total = 100 * threads.num_threads()
    assert out.count(f"{total:.1f} GFLOP/s float32") == 2 and len(calls) == 1
    assert list(json.loads((home / peak.PEAK_FILE).read_text()).values()) == [100e9]


def test_remeasure_replaces_the_cached_peak(home, capsys, monkeypatch):
    count_measurements(monkeypatch, 100e9)
    main(["info", "--peak"])
    calls = count_measurements(monkeypatch, 50e9)
    assert main(["info", "--peak", "--remeasure"]) == 0 and len(calls) == 1
    assert "measured again" in capsys.readouterr().out
    assert peak.machine_peak() == 50e9 * threads.num_threads()


def test_remeasure_without_peak_is_a_usage_error(capsys):
    assert main(["info", "--remeasure"]) == 2
    assert "--remeasure goes with --peak" in capsys.readouterr().err


def test_real_fma_loop_measures_a_plausible_rate(home):
    rate = peak.measure_thread_peak()
    assert 1e9 < rate < 1e13  # one thread: between 1 GFLOP/s and 10 TFLOP/s


def test_percent_of_peak(home, monkeypatch):
    count_measurements(monkeypatch, 100e9)
    full = peak.machine_peak()
    assert peak.percent_of_peak(full / 4) == pytest.approx(25.0)


def test_peak_without_llvm_backend_is_an_error(capsys, monkeypatch):
    import graphc.cli_machine as commands

    monkeypatch.setattr(commands, "llvm_modules", lambda: (None, "ImportError: not built"))
    assert main(["info", "--peak"]) == 1
    assert "ImportError: not built" in capsys.readouterr().err
