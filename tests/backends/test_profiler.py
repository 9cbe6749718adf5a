"""gc.profile: the profiling build of the llvm backend (cycle counters around each kernel,
absent from normal builds), per-op times of the numpy interpreter, the report's table, JSON
and overlay, the machine's peak cached in GRAPHC_HOME, and ProfilerCallback in fit."""

import argparse
import json

import numpy as np
import pytest

import frontend as keras
import graphc as gc
from graphc import cli_profile
from graphc.backends import get_backend
from graphc.backends.llvm import peak
from graphc.backends.llvm.emit import generate
from graphc.cli_commands import UsageError
from graphc.profile_report import Profile
from passes.manager import PipelineRun

BATCH = 64


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    """The measured peak goes to a fresh GRAPHC_HOME."""
    monkeypatch.setenv("GRAPHC_HOME", str(tmp_path))
    return tmp_path


def mlp_step(backend, features=32, hidden=64, batch=BATCH):
    """A small MLP training step (matmul, relu, softmax, squared error, SGD updates)."""
    rng = np.random.default_rng(0)
    x, y = gc.matrix("x"), gc.matrix("y")
    w1 = gc.shared((0.1 * rng.normal(size=(features, hidden))).astype("float32"), name="w1")
    w2 = gc.shared((0.1 * rng.normal(size=(hidden, 10))).astype("float32"), name="w2")
    p = gc.softmax(gc.relu(x @ w1) @ w2)
    loss = gc.mean(gc.sum((p - y) ** 2, axis=1))
    g1, g2 = gc.grad(loss, [w1, w2])
    f = gc.function([x, y], loss, updates=[(w1, w1 - 0.1 * g1), (w2, w2 - 0.1 * g2)],
                    backend=backend)
    xs = rng.normal(size=(batch, features)).astype("float32")
    ys = np.eye(10, dtype="float32")[rng.integers(0, 10, batch)]
    return f, (xs, ys), (w1, w2)


def compiled(f, profile):
    run = PipelineRun(stages={k: f.graph(k) for k in ("raw", "grad", "optimized")})
    return get_backend("llvm").compile(run, use_cache=False, profile=profile)


def test_normal_build_has_no_counters_and_same_kernels():
    f, _, _ = mlp_step("llvm")
    program = compiled(f, False).program
    normal, names = generate(program)
    profiled, profiled_names = generate(program, profile=True)
    assert "readcyclecounter" not in normal and "readcyclecounter" in profiled
    assert generate(program) == (normal, names)  # deterministic: one key per program
    assert names == profiled_names
    assert kernel_definitions(normal) and kernel_definitions(normal) == kernel_definitions(profiled)


def kernel_definitions(text) -> list:
    """Every function definition of a module's text but the step's."""
    return [d for d in text.split("\ndefine ")[1:] if '@"graphc_step"' not in d.split("\n")[0]]


def test_profiling_build_computes_what_the_normal_build_does():
    f, args, weights = mlp_step("llvm")
    saved = [w.get_value().copy() for w in weights]
    expected = compiled(f, False)(*args)
    after = [w.get_value().copy() for w in weights]
    for w, v in zip(weights, saved):
        w.set_value(v)
    got = compiled(f, True)(*args)
    np.testing.assert_array_equal(got[0], expected[0])
    for w, v in zip(weights, after):
        np.testing.assert_array_equal(w.get_value(), v)


def test_llvm_profile_rows_and_step_time():
    # ~0.1-1 ms of native work per step: the Python part of a call (~10 us) is noise beside it
    f, args, weights = mlp_step("llvm", features=256, hidden=512, batch=256)
    saved = [w.get_value().copy() for w in weights]
    report = gc.profile(f, *args, repeat=30, peak=False)
    assert isinstance(report, Profile) and report.backend == "llvm"
    names = {k.name for k in f.kernels}
    rows = {k.name: k for k in report.kernels}
    assert names <= set(rows) and set(rows) - names <= {"(copies)"}
    assert all(k.calls == 30 and k.seconds >= 0 for k in report.kernels)
    assert len(rows[next(iter(names))].thread_seconds) == report.threads
    busy = report.thread_busy()
    assert len(busy) == report.threads and all(0 < b <= 1.0 for b in busy)
    matmuls = [k for k in report.kernels if "matmul" in k.ops]
    assert matmuls and all(k.flops >= 2 * 256 * 10 and k.bytes > 0 for k in matmuls)
    # the kernels' spans cover the step (measured within ~10%; 35% here: a shared machine)
    assert report.kernel_seconds == pytest.approx(report.step_seconds, rel=0.35)
    for w, v in zip(weights, saved):  # profiling a training step leaves the weights alone
        np.testing.assert_array_equal(w.get_value(), v)


def test_numpy_profile_times_each_op():
    f, args, weights = mlp_step("numpy")
    saved = [w.get_value().copy() for w in weights]
    report = gc.profile(f, *args, repeat=3, peak=False)
    assert report.backend == "numpy"
    ops = [n.op for n in f.graph("optimized").nodes()
           if n.op not in ("placeholder", "shared", "constant")]
    assert sorted(k.ops[0] for k in report.kernels) == sorted(ops)
    matmul = max((k for k in report.kernels if k.ops == ("matmul",)), key=lambda k: k.flops)
    assert matmul.flops == 2 * BATCH * 32 * 64
    assert report.kernel_seconds <= report.step_seconds
    for w, v in zip(weights, saved):
        np.testing.assert_array_equal(w.get_value(), v)


@pytest.mark.parametrize("backend", ["llvm", "numpy"])
def test_report_table_json_and_overlay(backend):
    f, args, _ = mlp_step(backend)
    report = gc.profile(f, *args, repeat=2, peak=False)
    data = json.loads(report.to_json())
    assert data["backend"] == backend and len(data["kernels"]) == len(report.kernels)
    assert {"calls", "seconds", "mean_seconds", "busy_seconds", "share", "flops", "gflops", "bytes",
            "peak_percent"} <= set(data["kernels"][0])
    overlay = report.overlay()
    assert set(overlay) == {k.name for k in report.kernels}
    assert sum(overlay.values()) == pytest.approx(1.0)
    text = str(report)
    assert report.kernels[0].name[:30] in text and "kernels sum to" in text


def test_machine_peak_is_measured_once_and_cached(home, monkeypatch):
    first = gc.machine_peak()
    assert first > 1e8  # any machine that runs this does 0.1 GFLOP/s
    assert (home / peak.PEAK_FILE).exists()

    def refuse():
        raise AssertionError("the cached peak should have been used")

    monkeypatch.setattr(peak, "measure_thread_peak", refuse)
    assert gc.machine_peak() == first
    assert f"{first / 1e9:.1f} GFLOP/s" in peak.describe_peak()
    f, args, _ = mlp_step("llvm")
    report = gc.profile(f, *args, repeat=2)
    assert report.peak_flops == first and "machine peak" in str(report)
    assert all(report.peak_percent(k) >= 0 for k in report.kernels)


def test_damaged_peak_file_is_measured_again(home):
    (home / peak.PEAK_FILE).write_text("{not json")
    assert gc.machine_peak() > 1e8
    assert json.loads((home / peak.PEAK_FILE).read_text())


def test_bad_arguments_are_named():
    f, args, _ = mlp_step("numpy")
    with pytest.raises(TypeError, match="gc.function.*test_profiler.py"):
        gc.profile(lambda a, b: a, *args)
    with pytest.raises(ValueError, match="repeat must be a positive int, got 0"):
        gc.profile(f, *args, repeat=0)
    with pytest.raises(TypeError, match="takes 2 inputs, got 1"):
        gc.profile(f, args[0])


@pytest.mark.parametrize("backend", ["llvm", "numpy"])
def test_profiler_callback_writes_the_training_profile(tmp_path, backend):
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", backend=backend)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 8)).astype("float32"), rng.integers(0, 3, 40)
    path = tmp_path / "profile.json"
    callback = keras.callbacks.ProfilerCallback(path, batch_size=20, repeat=2)
    before = [w.copy() for w in model.get_weights()]
    model.fit(x, y, batch_size=20, epochs=1, verbose=0, callbacks=[callback])
    trained = [w.copy() for w in model.get_weights()]
    data = json.loads(path.read_text())
    assert data["backend"] == backend and data["calls"] == 2 and data["kernels"]
    assert data["fit_batch_seconds"] > 0
    assert any(not np.array_equal(a, b) for a, b in zip(before, trained))
    assert all(np.array_equal(a, b) for a, b in zip(trained, model.get_weights()))


def test_compare_overlay_lists_kernels_worst_first():
    f, args, _ = mlp_step("llvm")
    report = gc.compare(f, *args, repeat=1)
    overlay = gc.compare_overlay(report)
    assert set(overlay) == {k.name for k in report.kernels}
    errors = list(overlay.values())
    assert errors == sorted(errors, reverse=True)
    assert errors[0] == max(k.max_rel for k in report.kernels)
    with pytest.raises(TypeError, match="expected a graphc.compare report, got dict"):
        gc.compare_overlay({})


def test_cli_profile_prints_the_table_and_writes_json(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    cli_profile.arguments(parser)
    out = tmp_path / "p.json"
    args = parser.parse_args(["--demo", "mlp", "--repeat", "2", "--json", str(out)])
    assert cli_profile.run(args) == 0
    assert "kernels sum to" in capsys.readouterr().out
    assert json.loads(out.read_text())["calls"] == 2
    with pytest.raises(UsageError, match="--repeat must be at least 1, got 0"):
        cli_profile.run(parser.parse_args(["--demo", "mlp", "--repeat", "0"]))
