"""Issue 18, a newcomer's first hour: the progress bar's width, offline datasets, install hints,
errors with the user's file:line and warnings about defaults that changed between Keras versions."""

import io
import os
import sys
import urllib.error
import warnings
from pathlib import Path

import numpy as np
import pytest

import frontend as keras
import graphc as gc
from frontend import changed_defaults
from frontend.datasets import fashion_mnist, files, mnist
from frontend.utils import plotting, progbar
from frontend.utils.progbar import Progbar


class Terminal(io.StringIO):
    def isatty(self):
        return True


def drawn_lines(stream) -> list:
    return [part for line in stream.getvalue().split("\n") for part in line.split("\r") if part]


def test_progress_bar_fits_an_80_column_terminal(monkeypatch):
    monkeypatch.setattr(progbar, "terminal_columns", lambda stream: 80)
    stream = Terminal()
    bar = Progbar(1875, stream=stream, interval=0)
    values = {"loss": 0.123456, "accuracy": 0.987654, "val_loss": 0.2, "val_accuracy": 0.95}
    for step in (1, 900, 1875):
        bar.update(step, values)
    lines = drawn_lines(stream)
    assert lines and all(len(line) < 80 for line in lines)
    assert "[" in lines[-1] and "accuracy" in lines[-1]


def test_terminal_columns_only_for_a_terminal_file(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "64")
    assert progbar.terminal_columns(io.StringIO()) is None
    with open(tmp_path / "log.txt", "w") as log:
        assert progbar.terminal_columns(log) is None
    pty = pytest.importorskip("pty")
    leader, follower = pty.openpty()
    with os.fdopen(follower, "w") as tty:
        assert progbar.terminal_columns(tty) == 64
    os.close(leader)


def test_progress_bar_piped_stays_one_full_line_per_epoch(monkeypatch):
    monkeypatch.setattr(progbar, "terminal_columns", lambda stream: None)  # as for a pipe
    stream = io.StringIO()
    bar = Progbar(1875, stream=stream, interval=0)
    values = {"loss": 0.123456, "accuracy": 0.987654}
    for step in (1, 900, 1875):
        bar.update(step, values)
    assert "\r" not in stream.getvalue() and stream.getvalue().count("\n") == 1
    assert "=" * 29 in stream.getvalue() and len(stream.getvalue()) > 40


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHC_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("GRAPHC_OFFLINE", raising=False)
    return tmp_path / "home"


def no_network(monkeypatch) -> list:
    calls = []

    def fake_fetch(url, dest, timeout=60.0):
        calls.append(url)
        raise urllib.error.URLError("Network is unreachable")

    monkeypatch.setattr(files, "fetch_url", fake_fetch)
    return calls


def test_a_failed_download_is_not_retried_for_an_hour(home, monkeypatch, capsys):
    calls = no_network(monkeypatch)
    mnist.load_data()
    mnist.load_data()
    assert calls == [mnist.URL]
    assert "failed 0 min ago: Network is unreachable" in capsys.readouterr().err
    marker = home / "datasets" / "mnist.npz.failed"
    old = marker.stat().st_mtime - files.RETRY_AFTER_SECONDS - 1
    os.utime(marker, (old, old))
    mnist.load_data()
    assert calls == [mnist.URL, mnist.URL]


def test_offline_sample_notice_is_short_and_explains_the_full_set_once(home, monkeypatch, capsys):
    no_network(monkeypatch)
    monkeypatch.setattr(mnist, "sample_explained", False)
    mnist.load_data()
    first = capsys.readouterr().err.splitlines()
    mnist.load_data()
    second = capsys.readouterr().err.splitlines()
    assert len(first) == 2 and len(second) == 1 and len(second[0]) < 120
    assert "4,000 train / 1,000 test" in first[1] and mnist.SHA256 in first[1]
    assert str(home / "datasets") in first[1] and "mnist.npz" in first[1]


def test_offline_setting_never_calls_the_downloader(home, monkeypatch, capsys):
    calls = no_network(monkeypatch)
    monkeypatch.setenv("GRAPHC_OFFLINE", "1")
    (x_train, _), _ = mnist.load_data()
    assert calls == [] and len(x_train) == 4000
    assert not (home / "datasets" / "mnist.npz.failed").exists()


def test_fashion_mnist_offline_error_says_where_to_put_the_files(home, monkeypatch):
    no_network(monkeypatch)
    with pytest.raises(files.DownloadError) as caught:
        fashion_mnist.load_data()
    message = str(caught.value)
    assert str(home / "datasets" / "fashion-mnist") in message
    assert all(name in message and digest in message
               for name, digest in fashion_mnist.FILE_SHA256.items())


def test_missing_matplotlib_hint_names_the_real_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install matplotlib$"):
        plotting.require_matplotlib()


def test_no_install_hint_names_the_unrelated_graphc_package():
    root = Path(__file__).resolve().parents[2]
    sources = [p for d in ("frontend", "graphc", "passes") for p in (root / d).rglob("*.py")]
    offenders = [str(p) for p in sources if "pip install graphc" in p.read_text()]
    assert offenders == []


@pytest.fixture
def fresh_defaults_state(monkeypatch):
    monkeypatch.setattr(changed_defaults, "legacy_spelling_seen", False)
    monkeypatch.setattr(changed_defaults, "pending", {})
    monkeypatch.setattr(changed_defaults, "warned", set())


def changed_default_warnings(record) -> list:
    return [str(w.message) for w in record if "Keras <= 2.3" in str(w.message)]


def test_keras2_code_is_warned_once_about_adadeltas_default(fresh_defaults_state):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        keras.layers.Dense(output_dim=3)  # a Keras 1 spelling
        keras.optimizers.Adadelta()
        keras.optimizers.Adadelta()
    found = changed_default_warnings(record)
    assert len(found) == 1 and "Adadelta" in found[0] and "learning_rate=1.0" in found[0]
    assert "test_newcomer.py" in found[0]


def test_the_warning_also_comes_when_the_legacy_name_comes_later(fresh_defaults_state):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        optimizer = keras.optimizers.get("adagrad")
        assert not changed_default_warnings(record)
        keras.layers.Dropout(p=0.5)
    found = changed_default_warnings(record)
    assert optimizer is not None and len(found) == 1 and "learning_rate=0.01" in found[0]


@pytest.mark.parametrize(
    "make",
    [
        lambda: keras.optimizers.Adadelta(learning_rate=1.0),
        lambda: keras.optimizers.Adadelta(1.0),
        lambda: keras.optimizers.Adam(),
        lambda: keras.optimizers.Adadelta(lr=1.0),
    ],
)
def test_no_warning_when_the_default_is_not_relied_on(fresh_defaults_state, make):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        keras.layers.Dense(output_dim=3)
        make()
    assert changed_default_warnings(record) == []


def test_keras3_code_is_not_warned(fresh_defaults_state):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        keras.layers.Dense(units=3)
        keras.optimizers.Adadelta()
    assert changed_default_warnings(record) == []


THIS_FILE = "test_newcomer.py:"


@pytest.mark.parametrize(
    "make, names",
    [
        (lambda: keras.layers.Dense(3, activation="relux"), ("Dense:", "relu")),
        (lambda: keras.layers.Activation("sigmod"), ("Activation:", "sigmoid")),
        (lambda: keras.layers.Dense(units=0), ("Dense:", "units=0")),
        (lambda: keras.layers.Dropout(1.5), ("Dropout:", "rate=1.5")),
        (lambda: keras.models.load_model("no-such-model.keras"), ("no-such-model.keras",)),
    ],
)
def test_layer_and_loading_errors_name_the_users_line(make, names, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises((ValueError, FileNotFoundError)) as caught:
        make()
    assert all(name in str(caught.value) for name in names) and THIS_FILE in str(caught.value)


def test_truncated_model_file_names_the_users_line(tmp_path):
    path = tmp_path / "cut.keras"
    path.write_bytes(b"PK\x03\x04 cut short")
    with pytest.raises(ValueError, match="truncated") as caught:
        keras.models.load_model(path)
    assert THIS_FILE in str(caught.value)


@pytest.mark.parametrize("backend", ["numpy", "llvm"])
@pytest.mark.parametrize(
    "arguments, error, text",
    [
        ((np.ones(3, "float32"), np.ones(3, "float32")), TypeError, "expects 1 arguments"),
        ((np.ones((2, 3), "float32"),), gc.ShapeError, "expected shape"),
        ((np.ones(3, "complex64"),), gc.DtypeError, "cannot"),
    ],
)
def test_function_call_errors_name_the_function_and_line(backend, arguments, error, text):
    x = gc.vector("x")
    double = gc.function([x], 2 * x, backend=backend, name="double")
    with pytest.raises(error, match=text) as caught:
        double(*arguments)
    assert "function 'double'" in str(caught.value) and THIS_FILE in str(caught.value)
    np.testing.assert_array_equal(double(np.ones(3, "float32")), 2 * np.ones(3))


def test_float_to_int_input_names_the_line():
    i = gc.vector("i", dtype="int64")
    twice = gc.function([i], i * 2, backend="numpy")
    with pytest.raises(gc.DtypeError, match="cannot cast float64 to int64") as caught:
        twice(np.array([1.5, 2.5]))
    assert THIS_FILE in str(caught.value)


def test_unknown_backend_names_the_line():
    x = gc.vector("x")
    with pytest.raises(ValueError, match="unknown backend 'cuda'") as caught:
        gc.function([x], x, backend="cuda")
    assert THIS_FILE in str(caught.value)


def test_conv1d_on_2d_input_names_the_users_line():
    model = keras.Sequential([keras.layers.Input((10,)), keras.layers.Conv1D(4, 3)])
    with pytest.raises(ValueError, match=r"Conv1D .*input_shape=\(None, 10\)") as caught:
        model.predict(np.ones((2, 10), "float32"), verbose=0)
    assert THIS_FILE in str(caught.value)
