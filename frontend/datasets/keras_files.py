"""What Keras's dataset loaders share: Keras's download folder and file names, checked
downloads into `$GRAPHC_HOME/datasets` (frontend/datasets/files.py), safe extraction of
archives, and the word-index processing of imdb and reuters."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import numpy as np

from frontend.datasets.files import DatasetError, datasets_dir, download

KERAS_FOLDER = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"


def local_file(path: str, url: str, file_hash: str) -> Path:
    """The file `path` in `$GRAPHC_HOME/datasets` (an absolute `path`: that file), downloaded
    from `url` unless a copy is there, and checked against `file_hash` (SHA-256, or MD5 for 32
    hex digits) before every use, as Keras's get_file: imdb and reuters are unpickled, so a
    file that is not Keras's (one that happens to lie in the current folder) is never read."""
    given = Path(path).expanduser()
    return download(url, given if given.is_absolute() else datasets_dir() / given, file_hash)


def extracted(archive: Path, folder: str) -> Path:
    """`folder` (next to `archive`), extracted from the .tar.gz archive once; members that
    would land outside it (absolute paths, '..', links) are refused."""
    target = archive.parent / folder
    if target.is_dir():
        return target
    staging = archive.parent / (folder + ".part")  # a crash never leaves a half folder
    shutil.rmtree(staging, ignore_errors=True)
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(staging, filter="data")
    if not (staging / folder).is_dir():
        shutil.rmtree(staging)
        raise DatasetError(f"{archive} does not contain the folder {folder}/")
    (staging / folder).replace(target)
    shutil.rmtree(staging)
    return target


def remove_long_seq(maxlen: int, seqs: list, labels) -> tuple[list, list]:
    """Keep only the sequences shorter than maxlen (and their labels), as Keras."""
    kept = [(s, y) for s, y in zip(seqs, labels) if len(s) < maxlen]
    return [s for s, _ in kept], [y for _, y in kept]


def reindexed(xs, start_char, index_from) -> list:
    """Word indices shifted by `index_from`, each sequence led by `start_char` (if not None)."""
    lead = [] if start_char is None else [start_char]
    return [lead + [w + index_from for w in x] for x in xs]


def limited(xs: list, num_words, skip_top: int, oov_char) -> list:
    """Words outside [skip_top, num_words) replaced by oov_char (dropped when it is None);
    num_words None: the largest index (every word kept)."""
    if not num_words:
        num_words = max(max(x) for x in xs if len(x)) if xs else 0
    if oov_char is not None:
        return [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]
    return [[w for w in x if skip_top <= w < num_words] for x in xs]


def object_array(sequences: list) -> np.ndarray:
    """A 1-d object array of lists (Keras's x for imdb and reuters)."""
    out = np.empty(len(sequences), dtype=object)
    out[:] = sequences
    return out


def keras1_num_words(num_words, kwargs: dict):
    """Keras 1's `nb_words` as num_words; any other unknown keyword is an error."""
    if "nb_words" in kwargs:
        num_words = kwargs.pop("nb_words")
    if kwargs:
        raise TypeError(f"load_data: unknown keyword arguments {sorted(kwargs)}")
    return num_words


def check_test_split(test_split, owner: str) -> None:
    if not 0 <= test_split < 1:
        raise ValueError(f"{owner}: test_split must be in [0, 1). "
                         f"Received: test_split={test_split!r}")


def shuffled(seed, *arrays) -> list:
    """The arrays in one random order drawn from `np.random.RandomState(seed)`, as Keras."""
    order = np.arange(len(arrays[0]))
    np.random.RandomState(seed).shuffle(order)
    return [a[order] for a in arrays]
