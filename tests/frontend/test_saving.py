"""Saving: zip round trip, weights files, refusal of corrupt files and of Lambda in safe mode,
atomic writes."""

import json
import os
import threading
import zipfile

import numpy as np
import pytest

from frontend.layers import BatchNormalization, Dense, Dropout, Input, Lambda
from frontend.layers.lambda_layer import safe_mode
from frontend.models import Model, Sequential, load_model, saving


def trained_model(dropout=True):
    layers = [Input(shape=(6,)), Dense(8, activation="relu"), BatchNormalization()]
    layers += [Dropout(0.1)] if dropout else []
    model = Sequential(layers + [Dense(3, activation="softmax")])
    model.compile(
        optimizer="adam",
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        backend="numpy",
    )
    rng = np.random.default_rng(0)
    x, y = rng.random((40, 6)).astype("float32"), rng.integers(0, 3, 40)
    model.fit(x, y, batch_size=10, epochs=2, verbose=0)
    return model, x, y


def test_round_trip_gives_identical_predictions_and_training_state(tmp_path):
    model, x, y = trained_model(dropout=False)  # dropout masks differ between two models
    path = tmp_path / "model.keras"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        assert set(archive.namelist()) == {
            "metadata.json",
            "config.json",
            "model.weights.npz",
            "optimizer.npz",
        }
        meta = json.loads(archive.read("metadata.json"))
    assert meta["format"] == "graphc.frontend.model" and meta["backend"] == "numpy"
    assert {"graphc_version", "numpy_version", "python_version", "date_saved"} <= set(meta)
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert loaded.compiled and type(loaded.optimizer).__name__ == "Adam"
    # the optimizer state came back: one more step gives the same weights on both
    model.train_on_batch(x, y)
    loaded.train_on_batch(x, y)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_functional_model_round_trip(tmp_path):
    a, b = Input(shape=(3,), name="a"), Input(shape=(2,), name="b")
    from frontend.layers import concatenate

    out = Dense(1)(concatenate([Dense(4)(a), b]))
    model = Model([a, b], out)
    model.save(tmp_path / "f.keras")
    loaded = load_model(tmp_path / "f.keras")
    xa, xb = np.ones((2, 3)), np.ones((2, 2))
    np.testing.assert_array_equal(
        loaded.predict([xa, xb], verbose=0), model.predict([xa, xb], verbose=0)
    )
    assert not loaded.compiled


def test_save_and_load_weights(tmp_path):
    model, x, _ = trained_model()
    path = tmp_path / "w.weights.npz"
    model.save_weights(path)
    other, _, _ = trained_model()
    other.load_weights(path)
    np.testing.assert_array_equal(other.predict(x, verbose=0), model.predict(x, verbose=0))
    small = Sequential([Input(shape=(6,)), Dense(2)])
    with pytest.raises(ValueError, match="holds 8 weight arrays"):
        small.load_weights(path)


def test_truncated_file_is_refused(tmp_path):
    model, _, _ = trained_model()
    path = tmp_path / "model.keras"
    model.save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated|corrupt|not a graphc model"):
        load_model(path)


def test_foreign_files_are_refused(tmp_path):
    text = tmp_path / "notes.keras"
    text.write_text("hello")
    with pytest.raises(ValueError, match="not a graphc model file"):
        load_model(text)
    other_zip = tmp_path / "other.keras"
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("readme.txt", "hi")
    with pytest.raises(ValueError, match="lacks"):
        load_model(other_zip)
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.keras")


def test_pickled_weights_are_never_loaded(tmp_path):
    model, _, _ = trained_model()
    path = tmp_path / "w.npz"
    objects = np.empty(1, dtype=object)
    objects[0] = {"evil": True}
    np.savez(path, names=np.array(["x"]), w0000=objects)
    with pytest.raises(ValueError, match="corrupt or not a graphc weights file"):
        model.load_weights(path)


def test_lambda_layer_needs_safe_mode_off(tmp_path):
    model = Sequential([Input(shape=(2,)), Lambda(lambda t: t * 3.0), Dense(1)])
    path = tmp_path / "lambda.keras"
    model.save(path)
    with pytest.raises(ValueError, match="safe_mode=False"):
        load_model(path)
    loaded = load_model(path, safe_mode=False)
    x = np.ones((2, 2), np.float32)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_save_is_atomic(tmp_path, monkeypatch):
    model, _, _ = trained_model()
    path = tmp_path / "model.keras"
    model.save(path)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(saving, "arrays_to_npz", crash)
    with pytest.raises(RuntimeError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == before

    monkeypatch.undo()
    monkeypatch.setattr(zipfile.ZipFile, "writestr", crash)
    with pytest.raises(RuntimeError):
        model.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]  # no temporary left behind


def test_overwrite_false_and_h5_name(tmp_path):
    model, _, _ = trained_model()
    path = tmp_path / "model.keras"
    model.save(path)
    with pytest.raises(FileExistsError):
        model.save(path, overwrite=False)
    with pytest.warns(UserWarning, match="not HDF5"):
        model.save(os.fspath(tmp_path / "model.h5"))
    assert load_model(tmp_path / "model.h5").compiled


def test_lambda_with_a_closure_is_refused_at_save_not_at_load(tmp_path):
    scale = 3.0
    model = Sequential([Input(shape=(2,)), Lambda(lambda t: t * scale, name="scaler")])
    with pytest.raises(ValueError, match="Lambda layer 'scaler'.*enclosing function.*scale"):
        model.save(tmp_path / "m.keras")
    assert not (tmp_path / "m.keras").exists()


def test_safe_mode_off_in_one_thread_never_lets_another_threads_load_run_code(tmp_path):
    """safe_mode is per call: while a trusted load (safe_mode=False) is under way in one
    thread, an untrusted load in another thread still refuses the Lambda's bytecode."""
    model = Sequential([Input(shape=(2,)), Lambda(lambda t: t * 3.0), Dense(1)])
    path = tmp_path / "lambda.keras"
    model.save(path)
    inside, done = threading.Event(), threading.Event()

    def trusted_load_in_progress():
        with safe_mode(False):
            inside.set()
            done.wait(10)

    other = threading.Thread(target=trusted_load_in_progress)
    other.start()
    try:
        assert inside.wait(10)
        with pytest.raises(ValueError, match="safe_mode=False"):
            load_model(path)
    finally:
        done.set()
        other.join()
