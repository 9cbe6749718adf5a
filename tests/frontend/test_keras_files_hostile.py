"""Hostile and mismatched Keras weights files: loading never reads outside the file (HDF5
external storage, external or soft links, virtual datasets), compares declared shapes before
reading data, and legacy .h5 weights fill the model's weighted layers by order, as Keras does."""

import io
import shutil
import zipfile

import numpy as np
import pytest

import frontend as keras
from frontend.models.archive import FileFormatError
from tests.frontend.test_keras_files import assert_predicts_as_keras, fixture

h5py = pytest.importorskip("h5py", reason="Keras files need h5py (graphc's 'h5' extra)")

OUTSIDE = "the weights file itself"


def dense_model():
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])


def keras_file_with_weights(tmp_path, write_weights) -> str:
    """A .keras file of `dense_model()` whose model.weights.h5 `write_weights(h5file)` wrote."""
    good = tmp_path / "good.keras"
    dense_model().save(good, format="keras3")
    data = io.BytesIO()
    with h5py.File(data, "w") as f:
        write_weights(f)
    path = tmp_path / "forged.keras"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(path, "w") as out:
        for member in ("config.json", "metadata.json"):
            out.writestr(member, source.read(member))
        out.writestr("model.weights.h5", data.getvalue())
    return str(path)


def test_external_raw_storage_is_refused(tmp_path):
    secret = tmp_path / "secret.bin"
    np.arange(8, dtype="float32").tofile(secret)

    def external(f):
        group = f.create_group("layers/dense/vars")
        group.create_dataset("0", shape=(4, 2), dtype="f4", external=[(str(secret), 0, 32)])
        group.create_dataset("1", data=np.zeros(2, "f4"))

    path = keras_file_with_weights(tmp_path, external)
    with pytest.raises(FileFormatError, match=f"layers/dense/vars/0 .*external.*{OUTSIDE}"):
        keras.models.load_model(path)


def test_virtual_datasets_are_refused(tmp_path):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["k"] = np.ones((4, 2), "f4")

    def virtual(f):
        layout = h5py.VirtualLayout(shape=(4, 2), dtype="f4")
        layout[:] = h5py.VirtualSource(str(other), "k", shape=(4, 2))
        group = f.create_group("layers/dense/vars")
        group.create_virtual_dataset("0", layout)
        group.create_dataset("1", data=np.zeros(2, "f4"))

    path = keras_file_with_weights(tmp_path, virtual)
    with pytest.raises(FileFormatError, match=f"vars/0 .*virtual dataset.*{OUTSIDE}"):
        keras.models.load_model(path)


@pytest.mark.parametrize("link", ["external", "soft"])
def test_links_in_keras3_weights_are_refused(tmp_path, link):
    other = tmp_path / "elsewhere.h5"
    with h5py.File(other, "w") as f:
        f["b"] = np.full(2, 7, "f4")

    def linked(f):
        group = f.create_group("layers/dense/vars")
        group.create_dataset("0", data=np.zeros((4, 2), "f4"))
        f.create_dataset("stash", data=np.zeros(2, "f4"))
        group["1"] = (
            h5py.ExternalLink(str(other), "/b") if link == "external" else h5py.SoftLink("/stash")
        )

    path = keras_file_with_weights(tmp_path, linked)
    with pytest.raises(FileFormatError, match=f"layers/dense/vars/1 is a link.*{OUTSIDE}"):
        keras.models.load_model(path)


def test_external_links_in_legacy_h5_files_are_refused(tmp_path):
    other = tmp_path / "elsewhere.h5"
    path = tmp_path / "mlp_linked.h5"
    shutil.copy(fixture("mlp", ".h5"), path)
    with h5py.File(path, "r+") as f:
        group = f["model_weights/dense_1"]
        bias = group.attrs["weight_names"][1]
        bias = bias.decode() if isinstance(bias, bytes) else bias
        with h5py.File(other, "w") as e:
            e["b"] = np.arange(group[bias].size, dtype="f4")
        del group[bias]
        group[bias] = h5py.ExternalLink(str(other), "/b")
    with pytest.raises(FileFormatError, match=f"dense_1/.*bias is a link.*{OUTSIDE}"):
        keras.models.load_model(path)
    model = keras.models.load_model(fixture("mlp", ".keras"), compile=False)
    with pytest.raises(FileFormatError, match=f"bias is a link.*{OUTSIDE}"):
        model.load_weights(path)


def test_huge_declared_datasets_are_refused_before_reading(tmp_path, monkeypatch):
    def bomb(f):
        group = f.create_group("layers/dense/vars")
        group.create_dataset("0", shape=(2**26,), dtype="f4", chunks=(2**16,))  # unwritten
        group.create_dataset("1", data=np.zeros(2, "f4"))

    path = keras_file_with_weights(tmp_path, bomb)
    read_sizes, read = [], h5py.Dataset.__getitem__

    def counting_read(dataset, key):
        read_sizes.append(dataset.size)
        return read(dataset, key)

    monkeypatch.setattr(h5py.Dataset, "__getitem__", counting_read)
    with pytest.raises(FileFormatError, match=r"'dense' \(Dense\).*\(67108864,\)"):
        keras.models.load_model(path)
    assert 2**26 not in read_sizes  # reading it would take 256 MB


def cut_layer_names(tmp_path, keep) -> str:
    path = tmp_path / "mlp_cut.h5"
    shutil.copy(fixture("mlp", ".h5"), path)
    with h5py.File(path, "r+") as f:
        names = list(f["model_weights"].attrs["layer_names"])
        f["model_weights"].attrs["layer_names"] = names[:keep]
    return str(path)


def test_legacy_files_missing_layers_are_a_layer_count_mismatch(tmp_path):
    path = cut_layer_names(tmp_path, 1)
    with pytest.raises(FileFormatError, match="layer count mismatch.*model has 3 .*the file 1"):
        keras.models.load_model(path)
    model = keras.models.load_model(fixture("mlp", ".keras"), compile=False)
    with pytest.raises(FileFormatError, match="layer count mismatch"):
        model.load_weights(path)


def test_legacy_weights_fill_weighted_layers_by_order_not_name():
    reference = keras.models.load_model(fixture("mlp", ".keras"), compile=False)
    renamed = keras.Sequential(
        [keras.Input(reference.inputs[0].shape[1:])]
        + [
            type(layer).from_config({**layer.get_config(), "name": f"x{i}"})
            for i, layer in enumerate(reference.layers)
        ]
    )
    renamed.load_weights(fixture("mlp", ".h5"))
    assert_predicts_as_keras(renamed, "mlp")


def test_legacy_weights_of_the_wrong_shape_name_the_layer():
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(3),
            keras.layers.BatchNormalization(),
            keras.layers.Dense(5),
        ]
    )
    with pytest.raises(FileFormatError, match=r"layer 'dense.*\(Dense\).*shape"):
        model.load_weights(fixture("mlp", ".h5"))
