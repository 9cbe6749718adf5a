"""fit(profile=...) writes the training step's profile (as ProfilerCallback) and the History
holds it; gc.view of a fitted model shows its curves (inline SVG) and that profile's summary,
on both backends."""

import json
import re

import numpy as np
import pytest

import frontend as keras
import graphc as gc
from frontend import layers
from graphc.viz.view_dashboard import curve_svg
from tests.viz.test_view import page_data

pytestmark = pytest.mark.needs_dot
RNG = np.random.default_rng(3)
X = RNG.normal(size=(40, 5)).astype("float32")
Y = RNG.integers(0, 3, 40)


def fitted(backend, **fit_args):
    model = keras.Sequential([keras.Input((5,)), layers.Dense(7, activation="relu"),
                              layers.Dense(3, activation="softmax")], name="dash")
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], backend=backend)
    return model, model.fit(X, Y, batch_size=8, epochs=3, validation_split=0.2, **fit_args)


@pytest.mark.parametrize("backend", ["llvm", "numpy"])
def test_fit_profile_true_writes_the_profile_and_says_where(backend, tmp_path, monkeypatch,
                                                           capsys):
    monkeypatch.chdir(tmp_path)
    model, history = fitted(backend, profile=True, verbose=2)
    written = tmp_path / "dash-profile.json"
    data = json.loads(written.read_text())
    assert data["backend"] == backend and data["kernels"] and data["fit_batch_seconds"] > 0
    assert history.profile_path == "dash-profile.json"
    assert history.profile.to_dict()["kernels"] == data["kernels"]
    assert "dash-profile.json" in capsys.readouterr().out


def test_fit_profile_to_a_path_is_silent_when_fit_is(tmp_path, capsys):
    _, history = fitted("llvm", profile=tmp_path / "p.json", verbose=0)
    assert history.profile_path == str(tmp_path / "p.json") and capsys.readouterr().out == ""
    assert json.loads((tmp_path / "p.json").read_text())["calls"] == 10


def test_fit_profile_of_another_type_is_named(tmp_path):
    with pytest.raises(TypeError, match=r"profile must be True, False or a file path.*got int"):
        fitted("llvm", profile=3, verbose=0)


def test_without_profile_fit_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _, history = fitted("llvm", verbose=0)
    assert list(tmp_path.iterdir()) == [] and not hasattr(history, "profile")


def curve_points(svg: str, label: str) -> list:
    found = re.search(r'points="([^"]+)"><title>' + label + "</title>", svg)
    return [tuple(map(float, p.split(","))) for p in found.group(1).split()]


@pytest.mark.parametrize("backend", ["llvm", "numpy"])
def test_the_view_of_a_fitted_model_has_its_curves_and_profile(backend, tmp_path):
    model, history = fitted(backend, profile=tmp_path / "p.json", verbose=0)
    text = gc.view(model, tmp_path / "m.html").read_text()
    board = re.search(r'<details id="dashboard" open>(.*?)</details>', text, re.S).group(1)
    assert re.findall(r'data-metric="([^"]+)"', board) == ["loss", "accuracy"]
    for label in ("loss", "val_loss"):
        points = curve_points(board, label)
        values = history.history[label]
        assert len(points) == 3 and [p[0] for p in points] == sorted(p[0] for p in points)
        highest = max(range(3), key=lambda i: values[i])
        assert points[highest][1] == min(p[1] for p in points)  # SVG's y grows downwards
    step = history.profile.step_seconds * 1e3
    assert f"step {step:.3f} ms measured" in board
    assert history.profile.kernels[0].name in board
    assert '<details id="overlay" open>' in text  # the profile colours the kernels too
    assert not re.search(r'(src|href)\s*=\s*["\']?\s*(https?:)?//', text)
    assert page_data(text)["initial"] == "layers"


def test_a_model_never_fitted_has_no_dashboard(tmp_path):
    model = keras.Sequential([keras.Input((5,)), layers.Dense(2)])
    assert 'id="dashboard"' not in gc.view(model, tmp_path / "m.html").read_text()


def test_a_curve_with_a_missing_value_is_left_out_and_one_epoch_draws():
    assert curve_svg("loss", {"loss": [1.0, float("nan")]}, [0, 1]) == ""
    one = curve_svg("loss", {"loss": [0.5]}, [0])
    assert curve_points(one, "loss") == [(34.0, 128.0)]
