"""Keras 3 files out: `model.save(path, format="keras3")` and `save_weights("x.weights.h5")`
write files that real Keras 3 loads and predicts with as graphc does (checked in a fresh
interpreter, KERAS_BACKEND=numpy), in the layout Keras itself writes (compared with the files
in tests/data/keras3); the save is atomic; layers Keras lacks are refused by name."""

import importlib.util
import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import frontend as keras
from frontend import layers
from frontend.models import keras_format_save
from tests.frontend.conftest import BACKENDS
from tests.frontend.test_keras_files import KERAS_MODELS, fixture, inputs_and_predictions

h5py = pytest.importorskip("h5py", reason="Keras files need h5py (graphc's 'h5' extra)")


def keras_backend():
    """A backend real Keras 3 runs on here (its numpy backend imports jax), or None."""
    if importlib.util.find_spec("keras") is None:
        return None
    for backend, needs in (("numpy", "jax"), ("torch", "torch"), ("jax", "jax")):
        if importlib.util.find_spec(needs) is not None:
            return backend
    return None


needs_keras = pytest.mark.skipif(
    keras_backend() is None, reason="needs keras 3 and jax (or torch) installed"
)

KERAS_PREDICTS = """
import json, sys, numpy as np, keras
for job in json.load(open(sys.argv[1])):
    model = keras.saving.load_model(job["model"])
    data = np.load(job["x"])
    xs = [data[k] for k in sorted(data.files)]
    if job["weights"]:  # a weights file to load into the model first
        model.set_weights([np.zeros_like(w) for w in model.get_weights()])
        model.load_weights(job["weights"])
    ys = keras.tree.flatten(model.predict(xs if len(xs) > 1 else xs[0], verbose=0))
    np.savez(job["y"], *[np.asarray(y) for y in ys])
    print(model.compiled, type(model.optimizer).__name__ if model.compiled else None)
"""


def keras_predictions(tmp_path, jobs):
    """Keras's predictions for each (model file, inputs, weights file or None) of `jobs`,
    and the lines it printed (compiled?, optimizer class), from one fresh interpreter."""
    specs = []
    for i, (model_path, xs, weights_path) in enumerate(jobs):
        np.savez(tmp_path / f"x{i}.npz", *(xs if isinstance(xs, list) else [xs]))
        weights = str(weights_path) if weights_path else None
        files = {"x": str(tmp_path / f"x{i}.npz"), "y": str(tmp_path / f"y{i}.npz")}
        specs.append({"model": str(model_path), **files, "weights": weights})
    (tmp_path / "jobs.json").write_text(json.dumps(specs))
    env = dict(os.environ, KERAS_BACKEND=keras_backend())
    done = subprocess.run(
        [sys.executable, "-c", KERAS_PREDICTS, str(tmp_path / "jobs.json")],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    outputs = []
    for spec in specs:
        saved = np.load(spec["y"])
        outputs.append([saved[f"arr_{i}"] for i in range(len(saved.files))])
    return outputs, done.stdout.splitlines()


def as_list(y):
    return y if isinstance(y, list) else [y]


def graphc_functional():
    a, b = keras.Input((6,), name="a"), keras.Input((5, 6), name="b")
    h = layers.RepeatVector(5)(layers.Dense(6, activation="tanh")(a))
    c = layers.Concatenate()([layers.Add()([h, b]), layers.Multiply()([h, b])])
    c = layers.MultiHeadAttention(num_heads=2, key_dim=4)(c, c)
    c = layers.LayerNormalization()(layers.Conv1D(4, 2, padding="same")(c))
    seq = layers.Bidirectional(layers.LSTM(3, return_sequences=True))(c)
    seq = layers.GRU(4)(layers.BatchNormalization()(seq))
    out1 = layers.Dense(3, activation="softmax", name="cls")(seq)
    out2 = layers.Dense(1, name="reg")(layers.Flatten()(layers.ZeroPadding1D(1)(c)))
    model = keras.Model([a, b], [out1, out2])
    model.compile("adam", ["categorical_crossentropy", "mse"], metrics=[["accuracy"], ["mae"]])
    return model


def graphc_sequential():
    model = keras.Sequential(
        [
            keras.Input((9, 9, 2)),
            layers.Conv2D(3, 3, activation="relu"),
            layers.SeparableConv2D(4, 2, padding="same"),
            layers.MaxPooling2D(2),
            layers.Cropping2D(((1, 0), (0, 1))),
            layers.Flatten(),
            layers.Dropout(0.1),
            layers.Dense(4, activation="elu"),
        ]
    )
    model.compile(keras.optimizers.SGD(0.02, momentum=0.5), "mse")
    return model


def random_inputs(model, rng):
    return [rng.normal(size=(4, *t.shape[1:])).astype("float32") for t in model.inputs]


@pytest.mark.parametrize("backend", BACKENDS)
def test_saved_keras3_files_reload_in_graphc(tmp_path, backend):
    keras.backend.set_default_backend(backend)
    rng = np.random.default_rng(0)
    for build in (graphc_functional, graphc_sequential):
        model = build()
        xs = random_inputs(model, rng)
        xs = xs if len(xs) > 1 else xs[0]
        path = tmp_path / f"{model.name}.keras"
        model.save(path, format="keras3")
        with zipfile.ZipFile(path) as archive:
            assert set(archive.namelist()) == {"config.json", "metadata.json", "model.weights.h5"}
        loaded = keras.models.load_model(path)
        assert loaded.compiled and type(loaded.optimizer) is type(model.optimizer)
        ours, theirs = loaded.predict(xs, verbose=0), model.predict(xs, verbose=0)
        for got, want in zip(as_list(ours), as_list(theirs)):
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def dataset_paths(source) -> set:
    paths = set()
    with h5py.File(source, "r") as f:
        f.visititems(lambda name, obj: paths.add(name) if isinstance(obj, h5py.Dataset) else None)
    return {p for p in paths if not p.startswith("optimizer/")}  # graphc keeps no Keras slots


@pytest.mark.parametrize("name", KERAS_MODELS)
def test_weights_are_laid_out_as_keras_lays_them_out(tmp_path, name):
    model = keras.models.load_model(fixture(name, ".keras"))
    model.save(tmp_path / "again.keras", format="keras3")
    pairs = ((fixture(name, ".keras"), "theirs.h5"), (tmp_path / "again.keras", "ours.h5"))
    for source, copy in pairs:
        with zipfile.ZipFile(source) as archive:
            (tmp_path / copy).write_bytes(archive.read("model.weights.h5"))
    assert dataset_paths(tmp_path / "ours.h5") == dataset_paths(tmp_path / "theirs.h5")
    config = json.loads(zipfile.ZipFile(tmp_path / "again.keras").read("config.json"))
    assert config["module"] in ("keras", "keras.src.models.functional")
    wrapper = {"module", "class_name", "config", "registered_name"}
    assert all(wrapper <= set(layer) for layer in config["config"]["layers"])


def graphc_file_jobs(folder):
    """(jobs, our predictions, optimizer names): graphc models saved as Keras 3 files, with and
    without a weights file, and Keras's own models through graphc and back."""
    rng, jobs, expected, optimizers = np.random.default_rng(1), [], [], []
    for build in (graphc_functional, graphc_sequential):
        model = build()
        xs = random_inputs(model, rng)
        xs = xs if len(xs) > 1 else xs[0]
        model.fit(xs, [np.asarray(y) for y in as_list(model.predict(xs, verbose=0))], verbose=0)
        path = folder / f"{model.name}.keras"
        model.save(path, format="keras3")
        model.save_weights(folder / f"{model.name}.weights.h5")
        jobs += [(path, xs, None), (path, xs, folder / f"{model.name}.weights.h5")]
        expected += [as_list(model.predict(xs, verbose=0))] * 2
        optimizers += [type(model.optimizer).__name__] * 2
    for name in KERAS_MODELS:  # Keras's own models, through graphc and back
        model = keras.models.load_model(fixture(name, ".keras"))
        model.save(folder / f"back_{name}.keras", format="keras3")
        xs, ys = inputs_and_predictions(name)
        jobs.append((folder / f"back_{name}.keras", xs, None))
        expected.append(ys)
        optimizers.append(type(model.optimizer).__name__)
    return jobs, expected, optimizers


@pytest.fixture(scope="module")
def real_keras_runs(tmp_path_factory):
    """Every file the real-Keras tests hand over, predicted by ONE Keras interpreter (starting
    Keras is the cost): {"files": (outputs, printed, expected, optimizers), "deconvolution":
    (outputs, our prediction)}."""
    folder = tmp_path_factory.mktemp("real_keras")
    jobs, expected, optimizers = graphc_file_jobs(folder)
    model = deconvolution_model()
    model.save(folder / "d.keras", format="keras3")
    x = np.random.default_rng(5).normal(size=(2, 5, 5, 2)).astype("float32")
    outputs, printed = keras_predictions(folder, jobs + [(folder / "d.keras", x, None)])
    return {"files": (outputs[:-1], printed[:-1], expected, optimizers),
            "deconvolution": (outputs[-1], model.predict(x, verbose=0))}


@needs_keras
def test_real_keras_loads_graphc_files_and_predicts_the_same(real_keras_runs):
    outputs, printed, expected, optimizers = real_keras_runs["files"]
    assert len(outputs) == len(expected)
    assert printed == [f"True {name}" for name in optimizers]
    for theirs, ours in zip(outputs, expected):
        for got, want in zip(theirs, ours):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_layers_keras_lacks_are_refused_by_name(tmp_path):
    x = keras.Input((3,))
    model = keras.Model(x, layers.Dense(2)(layers.Lambda(lambda t: t * 2, name="twice")(x)))
    with pytest.raises(ValueError, match=r"Keras 3 cannot load its layers 'twice' \(Lambda\)"):
        model.save(tmp_path / "m.keras", format="keras3")
    assert not (tmp_path / "m.keras").exists()
    with pytest.raises(ValueError, match="format must be None, 'graphc' or 'keras3'"):
        model.save(tmp_path / "m.keras", format="onnx")

    class Twice(keras.Model):
        def call(self, inputs):
            return inputs * 2

    subclassed = Twice()
    subclassed.predict(np.ones((1, 3), "float32"), verbose=0)
    with pytest.raises(ValueError, match=r"subclassed model \(Twice\)"):
        subclassed.save(tmp_path / "m.keras", format="keras3")


def test_saving_is_atomic(tmp_path, monkeypatch):
    model = graphc_sequential()
    path = tmp_path / "m.keras"
    model.save(path, format="keras3")
    before = path.read_bytes()

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(keras_format_save, "write_keras_weights", fail)
    with pytest.raises(OSError, match="disk full"):
        model.save(path, format="keras3")
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["m.keras"]


def test_the_default_format_stays_graphcs_own(tmp_path):
    model = graphc_sequential()
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as archive:
        assert "model.weights.npz" in archive.namelist()
    model.save_weights(tmp_path / "w.weights.h5")
    with h5py.File(tmp_path / "w.weights.h5", "r") as f:
        assert "layers/conv2d/vars/0" in f


class Doubling(layers.Layer):  # a user-defined layer: Keras 3 has no class of that name
    def call(self, inputs):
        return inputs * 2


def test_layers_keras_lacks_are_refused_inside_models_and_wrappers(tmp_path):
    inner = keras.Sequential([keras.Input((4,)), layers.Lambda(lambda t: t * 2, name="twice")])
    x = keras.Input((4,))
    nested = keras.Model(x, layers.Dense(2)(inner(x)))
    wrapped = keras.Sequential(
        [keras.Input((3, 4)), layers.TimeDistributed(layers.Lambda(lambda t: t + 1, name="inc"))]
    )
    custom = keras.Sequential(
        [keras.Input((4,)), keras.Sequential([keras.Input((4,)), Doubling(name="doubling")])]
    )
    for model, refused in (
        (nested, r"'sequential\w*/twice' \(Lambda\)"),
        (wrapped, r"'time_distributed\w*/inc' \(Lambda\)"),
        (custom, r"'sequential\w*/doubling' \(Doubling\)"),
    ):
        with pytest.raises(ValueError, match=f"Keras 3 cannot load its layers {refused}"):
            model.save(tmp_path / "m.keras", format="keras3")
        assert not (tmp_path / "m.keras").exists()


def deconvolution_model():
    with pytest.warns(DeprecationWarning):
        deconv = layers.Deconvolution2D(3, 3, 3, output_shape=(None, 7, 7, 3))
    model = keras.Sequential([keras.Input((5, 5, 2)), deconv])
    rng = np.random.default_rng(4)
    model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.weights])
    return model


def test_deconvolution2d_is_written_as_conv2d_transpose(tmp_path):
    model = deconvolution_model()
    model.save(tmp_path / "d.keras", format="keras3")
    config = json.loads(zipfile.ZipFile(tmp_path / "d.keras").read("config.json"))
    assert [layer["class_name"] for layer in config["config"]["layers"]][-1] == "Conv2DTranspose"
    x = np.random.default_rng(5).normal(size=(2, 5, 5, 2)).astype("float32")
    again = keras.models.load_model(tmp_path / "d.keras")
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0))


@needs_keras
def test_real_keras_loads_a_deconvolution2d_model(real_keras_runs):
    (theirs,), ours = real_keras_runs["deconvolution"]
    np.testing.assert_allclose(theirs, ours, rtol=1e-5, atol=1e-5)
