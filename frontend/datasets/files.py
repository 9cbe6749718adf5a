"""Where datasets live, how they are downloaded and checked, and how IDX files are read.

Downloads go to `$GRAPHC_HOME/datasets` (default `~/.graphc/datasets`). Every file is checked
against its published SHA-256; a download that fails or does not match is deleted, so a later
call never reads a half-written or tampered file. A failed download is remembered for an hour
(`<file>.failed` next to where the file would be), so a machine without a network does not wait
for the network's timeout on every run; GRAPHC_OFFLINE=1 never tries the network at all.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

from graphc.files import graphc_home

PACKAGED_DATA = Path(__file__).with_name("data")

# IDX element types (the third byte of the magic number) -> NumPy dtype, big-endian.
RETRY_AFTER_SECONDS = 3600.0  # how long a failed download is not retried

IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class DatasetError(Exception):
    """A dataset file that is missing, malformed, or does not match its checksum."""


class DownloadError(DatasetError):
    """A download that could not be completed (no network, HTTP error, ...); `reason` is the
    cause in a few words, for callers that word their own message."""

    def __init__(self, message: str, reason: str = ""):
        super().__init__(message)
        self.reason = reason or message


def datasets_dir(subdir: str = "") -> Path:
    """`$GRAPHC_HOME/datasets[/subdir]`, created if needed."""
    folder = graphc_home() / "datasets" / subdir
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def sha256_of(path: Path) -> str:
    return digest_of(path, "sha256")


def digest_of(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def offline() -> bool:
    """True when GRAPHC_OFFLINE is set (to anything but 0/false/no): never try the network."""
    return os.environ.get("GRAPHC_OFFLINE", "").strip().lower() not in ("", "0", "false", "no")


def fetch_url(url: str, dest: Path, timeout: float = 60.0) -> None:
    """Copy `url` to `dest`. Tests replace this function: they never touch the network."""
    if offline():
        raise urllib.error.URLError("GRAPHC_OFFLINE is set")
    with urllib.request.urlopen(url, timeout=timeout) as response, open(dest, "wb") as out:
        shutil.copyfileobj(response, out)


def failure_marker(dest: Path) -> Path:
    return dest.with_name(dest.name + ".failed")


def refuse_recent_failure(url: str, dest: Path) -> None:
    """Raise DownloadError, without touching the network, when `dest`'s last download from
    this `url` failed less than RETRY_AFTER_SECONDS ago, or GRAPHC_OFFLINE is set."""
    name = url.rsplit("/", 1)[-1]
    if offline():
        reason = "GRAPHC_OFFLINE is set"
        raise DownloadError(f"could not download {name}: {reason}", reason)
    marker = failure_marker(dest)
    if not marker.is_file():
        return
    failed_url, _, failure = marker.read_text().partition("\n")
    if failed_url != url:  # another address (a corrected one) is tried at once
        return
    minutes = (time.time() - marker.stat().st_mtime) / 60
    if minutes * 60 < RETRY_AFTER_SECONDS:
        reason = f"failed {minutes:.0f} min ago: {failure.strip()}"
        raise DownloadError(
            f"could not download {name} ({reason}); not retried for "
            f"{RETRY_AFTER_SECONDS / 60:.0f} min (delete {marker} to retry now)",
            reason,
        )


def download(url: str, dest: Path, sha256: str | None) -> Path:
    """`dest`, downloaded from `url` unless a copy with the right checksum is already there
    (any copy when `sha256` is None, as Keras's get_file allows).

    Raises DownloadError when the transfer fails and DatasetError when the file's SHA-256
    differs from `sha256` (an MD5 when it has 32 hex digits, as Keras's older files); in
    both cases nothing is left at `dest`.
    """
    dest, algorithm = Path(dest), "md5" if sha256 and len(sha256) == 32 else "sha256"
    if dest.exists():
        if sha256 is None or digest_of(dest, algorithm) == sha256:
            return dest
        print(f"graphc: cached {dest} does not match its checksum; downloading it again")
        dest.unlink()
    refuse_recent_failure(url, dest)
    partial = dest.with_name(dest.name + ".part")
    try:
        fetch_url(url, partial)
    except (urllib.error.URLError, OSError, ValueError) as err:
        partial.unlink(missing_ok=True)
        reason = getattr(err, "reason", err)
        failure_marker(dest).write_text(f"{url}\n{reason}\n")  # the address that failed
        raise DownloadError(f"could not download {url}: {reason}", str(reason)) from None
    failure_marker(dest).unlink(missing_ok=True)
    actual = None if sha256 is None else digest_of(partial, algorithm)
    if actual != sha256:
        partial.unlink()
        raise DatasetError(
            f"download of {url} is corrupt: {algorithm.upper().replace('SHA', 'SHA-')} "
            f"{actual}, expected {sha256}; "
            f"the file was removed"
        )
    partial.replace(dest)
    return dest


def where_to_put(folder: Path, sha256_by_name: dict) -> str:
    """How to install a dataset by hand: the folder and each file with its SHA-256."""
    files = "; ".join(f"{name} (SHA-256 {digest})" for name, digest in sha256_by_name.items())
    return f"to use the full data, put {files} in {folder}"


def open_maybe_gzip(path: Path):
    """Open `path` for reading bytes, decompressing it if it starts with the gzip magic."""
    with open(path, "rb") as f:
        magic = f.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (gzipped or not) as a native-endian array of its stored shape."""
    with open_maybe_gzip(path) as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in IDX_DTYPES:
        raise DatasetError(f"{path} is not an IDX file (magic bytes {data[:4].hex()})")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(IDX_DTYPES[data[2]])
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        raise DatasetError(
            f"{path}: header says shape {shape} ({expected} bytes with the "
            f"header), the file has {len(data)} bytes"
        )
    array = np.frombuffer(data, dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def find_idx(folder: Path, stem: str) -> Path:
    """`folder/stem` or `folder/stem.gz`, whichever exists."""
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    raise DatasetError(f"{folder} has no {stem} or {stem}.gz")


def load_idx_split(folder: Path, prefix: str = "") -> tuple:
    """((x_train, y_train), (x_test, y_test)) from the four standard IDX files in `folder`."""
    folder = Path(folder)
    arrays = [
        read_idx(find_idx(folder, prefix + stem))
        for stem in (
            "train-images-idx3-ubyte",
            "train-labels-idx1-ubyte",
            "t10k-images-idx3-ubyte",
            "t10k-labels-idx1-ubyte",
        )
    ]
    for images, labels, split in ((arrays[0], arrays[1], "train"), (arrays[2], arrays[3], "test")):
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise DatasetError(
                f"{folder}: {split} images {images.shape} and labels {labels.shape} do not pair up"
            )
    return (arrays[0], arrays[1]), (arrays[2], arrays[3])
