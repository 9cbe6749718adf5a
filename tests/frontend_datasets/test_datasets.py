"""Dataset loaders on small files the tests write; the downloader is replaced, never networked."""

import gzip
import hashlib
import urllib.error

import numpy as np
import pytest

from frontend.datasets import fashion_mnist, files, mnist


def idx_bytes(array: np.ndarray) -> bytes:
    code = {np.uint8: 0x08, np.int32: 0x0C}[array.dtype.type]
    header = bytes([0, 0, code, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx_split(folder, n_train=6, n_test=3, gz=True, prefix=""):
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for stem, array in arrays.items():
        data = idx_bytes(array)
        path = folder / (prefix + stem + (".gz" if gz else ""))
        path.write_bytes(gzip.compress(data) if gz else data)
    return arrays


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHC_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def serve(monkeypatch, payloads: dict, calls: list):
    """Replace the network: `payloads` maps URL -> bytes (missing URL -> no network)."""

    def fake_fetch(url, dest, timeout=60.0):
        calls.append(url)
        if url not in payloads:
            raise urllib.error.URLError("no network in tests")
        dest.write_bytes(payloads[url])

    monkeypatch.setattr(files, "fetch_url", fake_fetch)


def npz_bytes(tmp_path):
    rng = np.random.default_rng(1)
    arrays = dict(
        x_train=rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
        y_train=np.arange(5, dtype=np.uint8),
        x_test=rng.integers(0, 256, (2, 28, 28), dtype=np.uint8),
        y_test=np.arange(2, dtype=np.uint8),
    )
    np.savez(tmp_path / "m.npz", **arrays)
    return (tmp_path / "m.npz").read_bytes(), arrays


@pytest.mark.parametrize("gz", [True, False])
def test_reads_four_idx_files_from_a_directory(tmp_path, gz):
    arrays = write_idx_split(tmp_path, gz=gz)
    (x_train, y_train), (x_test, y_test) = mnist.load_data(path=str(tmp_path))
    assert x_train.dtype == np.uint8 and x_train.shape == (6, 28, 28)
    np.testing.assert_array_equal(x_train, arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(y_test, arrays["t10k-labels-idx1-ubyte"])
    assert x_test.shape == (3, 28, 28) and y_train.shape == (6,)


def test_read_idx_keeps_wide_dtypes_native(tmp_path):
    array = np.arange(-3, 3, dtype=np.int32).reshape(2, 3)
    (tmp_path / "a.idx").write_bytes(idx_bytes(array))
    out = files.read_idx(tmp_path / "a.idx")
    np.testing.assert_array_equal(out, array)
    assert out.dtype.isnative


def test_malformed_idx_names_the_file(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x09abc")
    with pytest.raises(files.DatasetError, match="bad.*9"):
        files.read_idx(tmp_path / "bad")
    (tmp_path / "txt").write_bytes(b"hello")
    with pytest.raises(files.DatasetError, match="not an IDX file"):
        files.read_idx(tmp_path / "txt")


def test_directory_missing_a_file_says_which(tmp_path):
    write_idx_split(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(files.DatasetError, match="t10k-labels-idx1-ubyte"):
        mnist.load_data(path=str(tmp_path))


def test_download_verifies_and_caches(home, tmp_path, monkeypatch):
    payload, arrays = npz_bytes(tmp_path)
    calls = []
    serve(monkeypatch, {mnist.URL: payload}, calls)
    monkeypatch.setattr(mnist, "SHA256", hashlib.sha256(payload).hexdigest())
    (x_train, y_train), _ = mnist.load_data()
    np.testing.assert_array_equal(x_train, arrays["x_train"])
    assert (home / "datasets" / "mnist.npz").is_file()
    mnist.load_data()
    assert calls == [mnist.URL]  # the second call used the cached, verified copy


def test_mismatching_download_is_removed_and_reported(home, tmp_path, monkeypatch):
    payload, _ = npz_bytes(tmp_path)
    serve(monkeypatch, {mnist.URL: payload}, [])
    with pytest.raises(files.DatasetError, match="SHA-256.*removed"):
        mnist.load_data()
    assert list((home / "datasets").iterdir()) == []


def test_corrupt_cached_copy_is_downloaded_again(home, tmp_path, monkeypatch, capsys):
    payload, _ = npz_bytes(tmp_path)
    calls = []
    serve(monkeypatch, {mnist.URL: payload}, calls)
    monkeypatch.setattr(mnist, "SHA256", hashlib.sha256(payload).hexdigest())
    (home / "datasets").mkdir(parents=True)
    (home / "datasets" / "mnist.npz").write_bytes(b"truncated")
    mnist.load_data()
    assert calls == [mnist.URL] and "checksum" in capsys.readouterr().out


def test_no_network_falls_back_to_packaged_sample(home, monkeypatch, capsys):
    serve(monkeypatch, {}, [])
    monkeypatch.setattr(mnist, "sample_explained", True)  # issue 18's once-per-process note aside
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    notice = capsys.readouterr().err
    assert notice.count("\n") == 1 and "sample" in notice
    assert x_train.shape == (4000, 28, 28) and x_test.shape == (1000, 28, 28)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8
    assert np.bincount(y_test).tolist() == [100] * 10
    assert not (home / "datasets" / "mnist.npz.part").exists()


def test_explicit_npz_path(tmp_path):
    _, arrays = npz_bytes(tmp_path)
    (_, _), (x_test, y_test) = mnist.load_data(path=str(tmp_path / "m.npz"))
    np.testing.assert_array_equal(y_test, arrays["y_test"])
    with pytest.raises(files.DatasetError, match="no such file"):
        mnist.load_data(path=str(tmp_path / "absent.npz"))


def test_fashion_mnist_downloads_and_checks_each_file(home, tmp_path, monkeypatch):
    arrays = write_idx_split(tmp_path)
    payloads = {fashion_mnist.BASE_URL + p.name: p.read_bytes() for p in tmp_path.glob("*.gz")}
    calls = []
    serve(monkeypatch, payloads, calls)
    sums = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in tmp_path.glob("*.gz")}
    monkeypatch.setattr(fashion_mnist, "FILE_SHA256", sums)
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    np.testing.assert_array_equal(x_test, arrays["t10k-images-idx3-ubyte"])
    assert len(calls) == 4


def test_fashion_mnist_without_network_raises(home, monkeypatch):
    serve(monkeypatch, {}, [])
    with pytest.raises(files.DownloadError, match="could not download"):
        fashion_mnist.load_data()


def test_packaged_sample_is_installed_with_the_package():
    names = sorted(p.name for p in mnist.SAMPLE_DIR.glob("*.gz"))
    assert names == sorted(
        [
            "t10k-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz",
            "train-images-idx3-ubyte.gz",
            "train-labels-idx1-ubyte.gz",
        ]
    )


def test_offline_never_touches_the_network(home, monkeypatch, capsys):
    monkeypatch.setenv("GRAPHC_OFFLINE", "1")
    monkeypatch.setattr(files.urllib.request, "urlopen", lambda *a, **k: 1 / 0)
    (x_train, _), _ = mnist.load_data()
    assert len(x_train) == 4000 and "GRAPHC_OFFLINE" in capsys.readouterr().err
