"""Regression tests for what real Keras scripts (the corpus in /work/wt/scripts) stopped at:
variable assignments inside custom layers, layer.losses after an eager call, `.numpy()` on an
eager layer output, np.asarray on a KerasTensor (NumPy 2's copy=), keras.config switches and
get_file."""

import hashlib
import io
import tarfile
import urllib.error

import numpy as np
import pytest

import frontend as keras
from frontend import backend as K
from frontend import layers, losses, models, ops
from frontend.datasets import files
from frontend.layers.embeddings import Embedding
from frontend.layers.lambda_layer import UNSAFE_EVERYWHERE
from frontend.losses import binary_crossentropy
from frontend.utils.data_utils import get_file
from tests.frontend.conftest import BACKENDS


class ComputeSum(layers.Layer):
    """keras.io "making new layers": a non-trainable weight updated with assign_add in call."""

    def __init__(self, input_dim, **kwargs):
        super().__init__(**kwargs)
        self.total = self.add_weight(initializer="zeros", shape=(input_dim,), trainable=False)

    def call(self, inputs):
        self.total.assign_add(ops.sum(inputs, axis=0))
        return self.total


def test_assign_add_in_an_eager_call_updates_at_once_and_numpy_works():
    layer = ComputeSum(2)
    np.testing.assert_allclose(layer(ops.ones((2, 2))).numpy(), [2.0, 2.0])
    np.testing.assert_allclose(layer(ops.ones((2, 2))).numpy(), [4.0, 4.0])
    np.testing.assert_allclose(layer.total.numpy(), [4.0, 4.0])


class CountingDense(layers.Layer):
    """Counts the samples it has seen in training (assign_add, then assign_sub, in one call)."""

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], 1), initializer="ones")
        self.seen = self.add_weight(shape=(), initializer="zeros", trainable=False)

    def call(self, inputs, training=None):
        if training:
            self.seen.assign_add(ops.cast(ops.shape(inputs)[0], "float32") + 1.0)
            self.seen.assign_sub(1.0)  # builds on the assign_add above, as in Keras
        return ops.matmul(inputs, self.kernel)


@pytest.mark.parametrize("backend", BACKENDS)
def test_assign_in_a_traced_call_is_an_update_of_the_compiled_step(backend):
    inputs = layers.Input((3,))
    counter = CountingDense()
    model = models.Model(inputs, counter(inputs))
    model.compile(optimizer="sgd", loss="mse", backend=backend)
    x, y = np.ones((10, 3), "float32"), np.zeros((10, 1), "float32")
    model.fit(x, y, batch_size=4, epochs=2, verbose=0)
    assert float(counter.seen.numpy()) == 20.0
    model.predict(x, verbose=0)  # inference does not count
    assert float(counter.seen.numpy()) == 20.0


def test_assign_outside_any_call_sets_the_value_and_checks_the_shape():
    var = keras.backend.variable(np.zeros((2,), "float32"))
    var.assign(np.array([1.0, 2.0]))
    var.assign_sub(ops.ones((2,)))
    np.testing.assert_allclose(var.numpy(), [0.0, 1.0])
    with pytest.raises(ValueError, match=r"new value has shape \(3,\).*\(2,\)"):
        var.assign(np.zeros(3))
    with pytest.raises(TypeError, match="symbolic KerasTensor outside a layer's call"):
        var.assign(layers.Input((2,)))


class ActivityRegularization(layers.Layer):
    def call(self, inputs):
        self.add_loss(0.5 * ops.sum(inputs))
        return inputs


def test_losses_of_an_eager_call_are_the_last_calls():
    layer = ActivityRegularization()
    assert layer.losses == []
    layer(np.ones((1, 2), "float32"))
    layer(np.ones((1, 2), "float32"))
    assert len(layer.losses) == 1
    np.testing.assert_allclose(layer.losses[0], 1.0)


def test_np_asarray_of_a_keras_tensor_explains_why():
    symbolic = layers.Input((3,))
    with pytest.raises(TypeError, match="symbolic: it has no value until the model runs.*at "):
        np.asarray(symbolic, copy=None)
    with pytest.raises(TypeError, match="cannot become a NumPy array"):
        np.array(symbolic, dtype="float32")


def test_config_switches():
    keras.config.disable_traceback_filtering()
    assert keras.config.is_traceback_filtering_enabled() is False
    with pytest.raises(NotImplementedError, match="does not filter tracebacks"):
        keras.config.enable_traceback_filtering()
    assert keras.config.backend() in ("llvm", "numpy")


def test_enable_unsafe_deserialization_lets_lambda_configs_load(monkeypatch):
    monkeypatch.setitem(UNSAFE_EVERYWHERE, "enabled", False)
    inputs = layers.Input((2,))
    model = models.Model(inputs, layers.Lambda(lambda t: t * 2.0)(inputs))
    config = model.to_json()
    with pytest.raises(ValueError, match="enable_unsafe_deserialization"):
        models.model_from_json(config)
    keras.config.enable_unsafe_deserialization()
    assert keras.config.is_unsafe_deserialization_enabled()
    reloaded = models.model_from_json(config)
    np.testing.assert_allclose(reloaded.predict(np.ones((1, 2)), verbose=0), [[2.0, 2.0]])


def tar_bytes(name: str, text: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo(name)
        info.size = len(text)
        archive.addfile(info, io.BytesIO(text))
    return buffer.getvalue()


@pytest.fixture
def served(monkeypatch, tmp_path):
    """A fake network with one tar.gz at http://example/babi.tar.gz; returns the calls made."""
    payload, calls = tar_bytes("tasks/qa1_train.txt", b"1 Mary moved.\n"), []

    def fake_fetch(url, dest, timeout=60.0):
        calls.append(url)
        if url != "http://example/babi.tar.gz":
            raise urllib.error.URLError("no network in tests")
        dest.write_bytes(payload)

    monkeypatch.setattr(files, "fetch_url", fake_fetch)
    monkeypatch.setenv("GRAPHC_HOME", str(tmp_path / "home"))
    return payload, calls


def test_get_file_caches_checks_and_untars(served, tmp_path):
    payload, calls = served
    digest = hashlib.sha256(payload).hexdigest()
    path = get_file("babi.tar.gz", origin="http://example/babi.tar.gz", file_hash=digest)
    assert path == str(tmp_path / "home" / "datasets" / "babi.tar.gz")
    with tarfile.open(path) as archive:  # the babi script's use
        assert archive.extractfile("tasks/qa1_train.txt").read() == b"1 Mary moved.\n"
    get_file("babi.tar.gz", origin="http://example/babi.tar.gz", file_hash=digest)
    assert len(calls) == 1  # the cached copy matched its hash
    folder = get_file("babi", origin="http://example/babi.tar.gz", untar=True, cache_dir=tmp_path)
    assert (tmp_path / "datasets" / "babi" / "tasks" / "qa1_train.txt").is_file()
    assert folder == str(tmp_path / "datasets" / "babi")


def test_get_file_refuses_a_corrupt_download_and_a_bad_url(served, tmp_path):
    with pytest.raises(files.DatasetError, match="corrupt"):
        get_file("b.tar.gz", origin="http://example/babi.tar.gz", md5_hash="0" * 32)
    assert not (tmp_path / "home" / "datasets" / "b.tar.gz").exists()
    with pytest.raises(files.DownloadError, match="could not download http://nowhere/x"):
        get_file("x", origin="http://nowhere/x")
    with pytest.raises(ValueError, match="hash_algorithm"):
        get_file("y", origin="http://example/babi.tar.gz", file_hash="ab", hash_algorithm="md5")


def test_a_failed_download_does_not_block_a_corrected_url_or_force_download(served):
    """Found by review: one failure blocked get_file for an hour whatever the address."""
    payload, calls = served
    digest = hashlib.sha256(payload).hexdigest()
    with pytest.raises(files.DownloadError):
        get_file("babi.tar.gz", origin="http://example/typo.tar.gz", file_hash=digest)
    with pytest.raises(files.DownloadError, match="not retried"):
        get_file("babi.tar.gz", origin="http://example/typo.tar.gz", file_hash=digest)
    assert get_file("babi.tar.gz", origin="http://example/babi.tar.gz", file_hash=digest)
    assert calls == ["http://example/typo.tar.gz", "http://example/babi.tar.gz"]
    with pytest.raises(files.DownloadError):
        get_file("other", origin="http://example/gone")
    with pytest.raises(files.DownloadError, match="could not download http://example/gone"):
        get_file("other", origin="http://example/gone", force_download=True)  # tried again
    assert calls.count("http://example/gone") == 2


@pytest.mark.parametrize("backend", BACKENDS)
def test_keras2_vae_loss_on_symbolic_tensors_trains_and_evaluates(backend):
    """k2_variational_autoencoder: `binary_crossentropy(inputs, outputs)` on KerasTensors,
    K.* on them, `vae.add_loss(...)`, compile without a loss, validation_data=(x, None)."""
    inputs = layers.Input((4,))
    hidden = layers.Dense(2)(inputs)
    outputs = layers.Dense(4, activation="sigmoid")(hidden)
    vae = models.Model(inputs, outputs)
    reconstruction = binary_crossentropy(inputs, outputs) * 4.0
    vae.add_loss(K.mean(reconstruction + 0.5 * K.sum(K.square(hidden), axis=-1)))
    vae.compile(optimizer="adam", backend=backend)
    x = np.random.default_rng(0).random((8, 4)).astype("float32")
    history = vae.fit(x, epochs=2, batch_size=4, validation_data=(x, None), verbose=0)
    assert np.isfinite(history.history["val_loss"]).all()
    h, p = x @ vae.layers[1].get_weights()[0] + vae.layers[1].get_weights()[1], vae.predict(x)
    bce = -(x * np.log(p) + (1 - x) * np.log(1 - p)).mean(axis=-1)
    expected = np.mean(bce * 4.0 + 0.5 * (h**2).sum(-1))
    np.testing.assert_allclose(vae.evaluate(x, verbose=0), expected, rtol=1e-4)


def test_public_loss_functions_on_arrays_return_arrays():
    got = losses.mean_squared_error(np.array([[1.0, 2.0]]), np.array([[1.0, 4.0]]))
    np.testing.assert_allclose(got, [2.0])
    assert losses.mse is losses.mean_squared_error


def test_keras2_embeddings_module_path():
    assert Embedding is layers.Embedding
