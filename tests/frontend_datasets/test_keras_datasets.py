"""imdb, reuters, cifar10, cifar100 and boston_housing on small files the tests make: the
downloader is replaced (never networked), checksums are checked, results follow Keras."""

import hashlib
import io
import json
import pickle
import tarfile
import urllib.error

import numpy as np
import pytest

from frontend import config
from frontend.datasets import boston_housing, cifar10, cifar100, files, imdb, reuters


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHC_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def serve(monkeypatch, module, payload: bytes, url_name="URL", hash_name="FILE_HASH",
          algorithm="sha256"):
    """Serve `payload` at module.<url_name>, with module.<hash_name> set to its digest."""
    calls = []

    def fake_fetch(url, dest, timeout=60.0):
        calls.append(url)
        if url != getattr(module, url_name):
            raise urllib.error.URLError("no network in tests")
        dest.write_bytes(payload)

    monkeypatch.setattr(files, "fetch_url", fake_fetch)
    monkeypatch.setattr(module, hash_name, hashlib.new(algorithm, payload).hexdigest())
    return calls


def npz_bytes(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def ragged(*sequences):
    out = np.empty(len(sequences), dtype=object)
    out[:] = [list(s) for s in sequences]
    return out


def test_real_keras_urls_and_checksums():
    assert imdb.URL == "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb.npz"
    assert imdb.FILE_HASH.startswith("69664113be75683a") and len(imdb.WORD_INDEX_HASH) == 32
    assert reuters.FILE_HASH.startswith("d6586e694ee56d7a")
    assert cifar10.URL.endswith("~kriz/cifar-10-python.tar.gz")
    assert cifar100.FILE_HASH.startswith("85cd44d02ba64377")
    assert boston_housing.FILE_HASH.startswith("f553886a1f8d5643")


def test_imdb_load_data_follows_keras(home, monkeypatch):
    x_train = ragged([1, 2, 3], [4, 5], [6, 7, 8, 9, 10])
    x_test = ragged([1, 1], [2])
    payload = npz_bytes(x_train=x_train, y_train=np.array([0, 1, 0]),
                        x_test=x_test, y_test=np.array([1, 0]))
    calls = serve(monkeypatch, imdb, payload)
    (xt, yt), (xs, ys) = imdb.load_data(seed=113)
    order = np.arange(3)
    np.random.RandomState(113).shuffle(order)  # Keras: one RandomState for both splits
    # Keras: num_words=None keeps words below the largest index, which itself becomes oov
    expected = [[1] + [w + 3 if w + 3 < 13 else 2 for w in x_train[i]] for i in order]
    assert [list(x) for x in xt] == expected and yt.tolist() == [[0, 1, 0][i] for i in order]
    assert xt.dtype == object and len(xs) == 2 and (home / "datasets" / "imdb.npz").is_file()
    (xt, _), _ = imdb.load_data(num_words=6, skip_top=2, start_char=None, index_from=0,
                                maxlen=4)
    assert sorted(map(list, xt)) == [[2, 2, 3], [4, 5]]  # outside [2, 6) -> oov_char 2
    (xt, _), _ = imdb.load_data(num_words=6, oov_char=None, start_char=None, index_from=0)
    assert sorted(map(list, xt)) == [[], [1, 2, 3], [4, 5]]
    assert calls == [imdb.URL]  # downloaded once, then read from the cache
    with pytest.raises(ValueError, match="maxlen=1"):
        imdb.load_data(maxlen=1)


def test_word_indexes_are_checked_with_keras_md5(home, monkeypatch):
    index = {"the": 1, "movie": 2}
    serve(monkeypatch, imdb, json.dumps(index).encode(), "WORD_INDEX_URL", "WORD_INDEX_HASH",
          "md5")
    assert imdb.get_word_index() == index
    serve(monkeypatch, reuters, b'{"oil": 1}', "WORD_INDEX_URL", "WORD_INDEX_HASH", "md5")
    assert reuters.get_word_index() == {"oil": 1}
    monkeypatch.setattr(reuters, "WORD_INDEX_HASH", "0" * 32)
    with pytest.raises(files.DatasetError, match="MD5 .* expected 0000"):
        reuters.get_word_index("other_name.json")


def test_reuters_splits_with_test_split(home, monkeypatch):
    xs = ragged(*[[i, i + 1] for i in range(10)])
    serve(monkeypatch, reuters, npz_bytes(x=xs, y=np.arange(10)))
    (xt, yt), (xs_, ys) = reuters.load_data(test_split=0.3, start_char=None, index_from=0,
                                            num_words=100)
    assert (len(xt), len(xs_)) == (7, 3)
    assert sorted(yt.tolist() + ys.tolist()) == list(range(10))
    assert all(list(x) == [y, y + 1] for x, y in zip(xt, yt))
    with pytest.raises(ValueError, match="test_split.*1.5"):
        reuters.load_data(test_split=1.5)


def test_boston_housing_shuffles_with_seed_and_splits(home, monkeypatch):
    x, y = np.arange(20.0).reshape(10, 2), np.arange(10.0)
    serve(monkeypatch, boston_housing, npz_bytes(x=x, y=y))
    (xt, yt), (xs, ys) = boston_housing.load_data(test_split=0.2, seed=1)
    order = np.arange(10)
    np.random.RandomState(1).shuffle(order)
    np.testing.assert_array_equal(np.concatenate([yt, ys]), y[order])
    assert xt.shape == (8, 2) and xs.shape == (2, 2)
    np.testing.assert_array_equal(xt[:, 1] // 2, yt)


def cifar_archive(folder: str, batches: dict) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, batch in batches.items():
            data = pickle.dumps({k.encode(): v for k, v in batch.items()})
            info = tarfile.TarInfo(f"{folder}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def cifar_batch(n, seed, **labels):
    rng = np.random.default_rng(seed)
    return {"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), **labels}


def test_cifar10_reads_the_python_batches(home, monkeypatch):
    batches = {f"data_batch_{i}": cifar_batch(2, i, labels=[i, i]) for i in range(1, 6)}
    batches["test_batch"] = cifar_batch(3, 9, labels=[7, 8, 9])
    serve(monkeypatch, cifar10, cifar_archive("cifar-10-batches-py", batches))
    (xt, yt), (xs, ys) = cifar10.load_data()
    assert xt.shape == (10, 32, 32, 3) and yt.shape == (10, 1) and yt.dtype == np.uint8
    assert yt[:, 0].tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5] and ys[:, 0].tolist() == [7, 8, 9]
    np.testing.assert_array_equal(
        xt[0], batches["data_batch_1"]["data"][0].reshape(3, 32, 32).transpose(1, 2, 0))
    assert (home / "datasets" / "cifar-10-batches-py" / "test_batch").is_file()
    config.set_image_data_format("channels_first")
    try:
        assert cifar10.load_data()[1][0].shape == (3, 3, 32, 32)  # cached: no new download
    finally:
        config.set_image_data_format("channels_last")


def test_cifar100_label_modes(home, monkeypatch):
    batches = {name: cifar_batch(n, n, fine_labels=list(range(n)), coarse_labels=[0] * n)
               for name, n in (("train", 4), ("test", 2))}
    serve(monkeypatch, cifar100, cifar_archive("cifar-100-python", batches))
    (_, fine), _ = cifar100.load_data("fine")
    (_, coarse), (xs, _) = cifar100.load_data(label_mode="coarse")
    assert fine[:, 0].tolist() == [0, 1, 2, 3] and coarse[:, 0].tolist() == [0] * 4
    assert xs.shape == (2, 32, 32, 3)
    with pytest.raises(ValueError, match="label_mode.*'medium'"):
        cifar100.load_data("medium")


def test_a_pickle_that_would_run_code_is_refused(home, monkeypatch):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        data = pickle.dumps({b"data": Evil(), b"labels": []})
        info = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    serve(monkeypatch, cifar10, buffer.getvalue())
    with pytest.raises(files.DatasetError, match="builtins.print.*refusing"):
        cifar10.load_data()


def test_no_network_and_no_cache_says_so(home, monkeypatch):
    serve(monkeypatch, imdb, b"")  # only imdb is served
    with pytest.raises(files.DownloadError, match="could not download .*boston_housing.npz"):
        boston_housing.load_data()


def test_a_file_in_the_current_folder_is_never_unpickled(home, monkeypatch, tmp_path):
    """imdb.npz holds pickles: only Keras's file (checked against its hash) is ever read, never
    one that happens to lie in the current folder."""
    ran = tmp_path / "ran.txt"
    hostile = np.empty(1, dtype=object)
    hostile[0] = Exploit(str(ran))
    (tmp_path / "imdb.npz").write_bytes(npz_bytes(x_train=hostile, y_train=np.zeros(1),
                                                  x_test=hostile, y_test=np.zeros(1)))
    monkeypatch.chdir(tmp_path)
    payload = npz_bytes(x_train=ragged([4, 5]), y_train=np.array([1]), x_test=ragged([6]),
                        y_test=np.array([0]))
    calls = serve(monkeypatch, imdb, payload)
    (xt, yt), _ = imdb.load_data(start_char=None, index_from=0)
    assert calls == [imdb.URL] and not ran.exists()
    assert [list(x) for x in xt] == [[4, 5]] and list(yt) == [1]


def test_an_absolute_path_is_checked_against_the_hash_too(home, monkeypatch, tmp_path):
    own = tmp_path / "mine.npz"
    own.write_bytes(npz_bytes(x=np.zeros((3, 13)), y=np.zeros(3)))
    payload = npz_bytes(x=np.ones((5, 13)), y=np.ones(5))
    serve(monkeypatch, boston_housing, payload)
    (xt, _), _ = boston_housing.load_data(path=str(own), test_split=0.2)
    assert xt.shape == (4, 13) and (xt == 1).all()  # replaced by Keras's file, as get_file does


class Exploit:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))
