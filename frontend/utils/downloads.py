"""Keras's `get_file` (`keras.utils.get_file`, Keras 2's `keras.utils.data_utils.get_file`):
a file downloaded once into a cache folder, checked against its hash, optionally extracted.

The transfer and the checksum are frontend.datasets.files's: a failed or corrupt download
leaves nothing behind. The cache is `cache_dir` (default `$GRAPHC_HOME`, i.e. ~/.graphc, where
Keras uses ~/.keras) / `cache_subdir`.
"""

from __future__ import annotations

import os
import tarfile
import zipfile
from pathlib import Path

from frontend.datasets import files
from graphc.files import graphc_home
from graphc.ir import user_site


def get_file(
    fname=None,
    origin=None,
    untar=False,
    md5_hash=None,
    file_hash=None,
    cache_subdir="datasets",
    hash_algorithm="auto",
    extract=False,
    archive_format="auto",
    cache_dir=None,
    force_download=False,
):
    """The local path of `origin`'s file, downloaded into the cache unless already there.

    `file_hash` (SHA-256, or MD5 when 32 hex digits; Keras 2's `md5_hash` too) is checked on
    the cached copy and on every download. `untar=True` (Keras 2) extracts a tar archive and
    returns the extracted folder; `extract=True` extracts next to the file ('tar', 'zip' or
    'auto') and returns the file's path. Example:
    `path = get_file("babi.tar.gz", origin="https://.../tasks_1-20_v1-2.tar.gz")`
    """
    if origin is None:
        raise ValueError(f"get_file: origin (the URL to download) is required (at {user_site()})")
    fname = fname or os.path.basename(origin.split("?")[0])
    folder = Path(cache_dir or graphc_home()).expanduser() / cache_subdir
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / (fname + ".tar.gz" if untar else fname)
    if force_download:
        target.unlink(missing_ok=True)
        files.failure_marker(target).unlink(missing_ok=True)  # and retry at once
    checksum = file_hash or md5_hash
    if checksum is not None:
        _check_algorithm(hash_algorithm, checksum)
    files.download(origin, target, checksum)  # no checksum: any cached copy is kept
    if untar:
        extract_archive(target, folder / fname, "tar")
        return str(folder / fname)
    if extract:
        extract_archive(target, folder, archive_format)
    return str(target)


def _check_algorithm(hash_algorithm, checksum) -> None:
    expected = {"md5": 32, "sha256": 64}.get(hash_algorithm)
    if hash_algorithm != "auto" and (expected is None or len(checksum) != expected):
        raise ValueError(
            f"get_file: hash_algorithm must be 'auto', 'md5' or 'sha256' and match the hash's "
            f"length. Received: {hash_algorithm!r} with a {len(checksum)}-digit hash "
            f"(at {user_site()})"
        )


def extract_archive(path: Path, into: Path, archive_format="auto") -> None:
    """Extract a tar or zip archive into `into`; members that would land outside are refused."""
    kinds = ["tar", "zip"] if archive_format == "auto" else [archive_format]
    if "tar" in kinds and tarfile.is_tarfile(path):
        with tarfile.open(path) as archive:
            archive.extractall(into, filter="data")
    elif "zip" in kinds and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                if not (into / member).resolve().is_relative_to(into.resolve()):
                    raise files.DatasetError(f"{path}: member {member!r} points outside {into}")
            archive.extractall(into)
    else:
        raise files.DatasetError(
            f"get_file: {path} is not a {' or '.join(kinds)} archive (archive_format="
            f"{archive_format!r})"
        )
