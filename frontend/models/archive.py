"""Reading saved models and weights within bounds that the file itself sets.

A hostile or damaged file must fail fast with an error naming it, never make graphc read or
allocate far more than the file holds. Every size is checked before anything is read:
- a zip member's declared (uncompressed) size: a JSON member at most JSON_LIMIT bytes; the
  members read, together, at most MAX_EXPANSION times the file's size on disk (DEFLATE
  expands data at most ~1032 times, so only a bomb passes that bound: nested compression or
  a forged size). zipfile then stops reading a member at its declared size and checks its CRC;
- an .npy member's header: numbers (and text, for weight names) only, never objects, and its
  shape times its item size must be exactly the member's data size, before the array exists.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import zipfile
import zlib

import numpy as np

JSON_LIMIT = 64 << 20  # a config of thousands of layers takes a few MB
MAX_EXPANSION = 1100
MODEL_MEMBERS = ("metadata.json", "config.json", "model.weights.npz")
OPTIONAL_MEMBERS = ("optimizer.npz",)
ARRAY_KINDS = "biufcU"  # bool, integers, floats, complex and (weight names) text
NPY_HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}


class FileFormatError(ValueError):
    """A file whose content breaks graphc's format (its message names the file)."""


def expansion_limit(path: str) -> int:
    """The most bytes a load of `path` may decompress: MAX_EXPANSION times its size."""
    return MAX_EXPANSION * max(os.path.getsize(path), 1)


def read_model_archive(path: str) -> dict:
    """{member name: bytes} of the members a model file must and may hold, size-checked."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such model file: {path}")
    if not zipfile.is_zipfile(path):
        raise FileFormatError(
            f"{path} is not a graphc model file: expected a zip archive holding "
            f"{', '.join(MODEL_MEMBERS)} (the file may be truncated or of another format)"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            missing = [m for m in MODEL_MEMBERS if m not in names]
            if missing:
                raise FileFormatError(f"{path} is not a graphc model file: it lacks {missing}")
            wanted = [n for n in MODEL_MEMBERS + OPTIONAL_MEMBERS if n in names]
            return read_members(archive, wanted, path, expansion_limit(path))
    except (zipfile.BadZipFile, zlib.error, EOFError) as err:
        raise FileFormatError(f"{path} is corrupt or truncated ({err})") from None


def read_members(archive: zipfile.ZipFile, names: list, where: str, limit: int) -> dict:
    """The members' bytes, after checking their declared sizes (see the module docstring)."""
    infos = [archive.getinfo(n) for n in names]
    for info in infos:
        if info.filename.endswith(".json") and info.file_size > JSON_LIMIT:
            raise FileFormatError(
                f"{where}: {info.filename} declares {info.file_size:,} bytes, more than the "
                f"{JSON_LIMIT:,} a model's JSON may take; refused before reading it"
            )
    check_total(sum(i.file_size for i in infos), where, limit)
    contents = {}
    for info in infos:
        with archive.open(info) as member:
            contents[info.filename] = member.read(info.file_size)
    return contents


def check_total(declared: int, where: str, limit: int) -> None:
    if declared > limit:
        raise FileFormatError(
            f"{where}: its members declare {declared:,} bytes uncompressed, more than "
            f"{MAX_EXPANSION} times the file's size ({limit // MAX_EXPANSION:,} bytes): a "
            f"forged size or nested compression (a zip bomb); refused before reading it"
        )


def parse_json(data: bytes, what: str) -> dict:
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise FileFormatError(f"{what} is corrupt ({err})") from None


@contextlib.contextmanager
def unreadable_is_corrupt(what: str):
    """zipfile's, zlib's and numpy's errors on damaged data, as one error naming `what`."""
    try:
        yield
    except FileFormatError:
        raise
    except (ValueError, OSError, zipfile.BadZipFile, zlib.error, KeyError, EOFError) as err:
        raise FileFormatError(f"{what} is corrupt or not a graphc weights file ({err})") from None


def npz_to_arrays(data: bytes, what: str, limit: int):
    """(the arrays of keys w0000, w0001, ..., their saved names or None) of the .npz in `data`;
    `what` names it in errors, `limit` bounds the bytes its members may declare."""
    with unreadable_is_corrupt(what), zipfile.ZipFile(io.BytesIO(data)) as npz:
        infos = [i for i in npz.infolist() if i.filename.endswith(".npy")]
        check_total(sum(i.file_size for i in infos), what, limit)
        arrays = {i.filename[: -len(".npy")]: read_npy(npz, i, what) for i in infos}
    names = [str(n) for n in arrays["names"]] if "names" in arrays else None
    return [arrays[k] for k in sorted(arrays) if k.startswith("w")], names


def read_npy(npz: zipfile.ZipFile, info: zipfile.ZipInfo, what: str) -> np.ndarray:
    """One member's array, allocated only once its header agrees with its size."""
    with npz.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version not in NPY_HEADER_READERS:
            raise FileFormatError(f"{what}: {info.filename} has .npy format {version}")
        shape, _, dtype = NPY_HEADER_READERS[version](member)
        check_npy_header(shape, dtype, info, member.tell(), what)
    with npz.open(info) as member:
        return np.lib.format.read_array(member, allow_pickle=False)


def check_npy_header(shape, dtype, info: zipfile.ZipInfo, header_size: int, what: str) -> None:
    if dtype.hasobject or dtype.kind not in ARRAY_KINDS:
        raise FileFormatError(
            f"{what} is corrupt or not a graphc weights file: {info.filename} holds "
            f"{dtype} data (only numbers are loaded: objects would need unpickling)"
        )
    data_size = math.prod(shape) * dtype.itemsize
    if min(shape, default=0) < 0 or header_size + data_size != info.file_size:
        raise FileFormatError(
            f"{what}: {info.filename} declares an array of shape {shape} and dtype {dtype} "
            f"({data_size:,} bytes), but holds {info.file_size - header_size:,} bytes of "
            f"data; refused before allocating it"
        )


def read_weights_file(path: str):
    """(arrays, names or None) of a `save_weights` file, or of a whole saved model's weights."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such weights file: {path}")
    limit = expansion_limit(path)
    with open(path, "rb") as f:
        data = f.read()
    with unreadable_is_corrupt(path), zipfile.ZipFile(io.BytesIO(data)) as archive:
        if "model.weights.npz" in archive.namelist():  # a whole model: its weights member
            data = read_members(archive, ["model.weights.npz"], path, limit)["model.weights.npz"]
    return npz_to_arrays(data, path, limit)
