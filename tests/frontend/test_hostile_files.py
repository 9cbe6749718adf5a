"""Hostile and damaged model files (issue 10, defect 8 and 11): loading is bounded by the
file's real data and fails fast with an error naming the file (and the member, weight or
key), before anything large is read or allocated. Every hostile file here is small on disk."""

import io
import json
import struct
import time
import tracemalloc
import zipfile

import numpy as np
import pytest

from frontend.layers import Dense, Input
from frontend.models import Sequential, load_model

SECONDS = 5  # generous: each refusal takes milliseconds
PEAK_BYTES = 64 << 20  # what a load may allocate while refusing a file that asks for GBs


def saved_model(folder):
    model = Sequential([Input(shape=(6,)), Dense(8, activation="relu"), Dense(3)])
    model.compile("adam", "mse", backend="numpy")
    x = np.random.default_rng(0).random((10, 6)).astype("float32")
    model.fit(x, np.zeros((10, 3), "float32"), epochs=1, verbose=0)
    path = folder / "model.keras"
    model.save(path)
    return path


def members_of(path) -> dict:
    with zipfile.ZipFile(path) as archive:
        return {n: archive.read(n) for n in archive.namelist()}


def write_archive(path, members: dict, compression=zipfile.ZIP_DEFLATED) -> None:
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def refused_quickly(path, match, load=load_model):
    """Loading `path` raises a ValueError naming it and matching `match`, fast and small."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(ValueError, match=match) as err:
            load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - start < SECONDS
    assert peak < PEAK_BYTES
    assert str(path) in str(err.value)
    return str(err.value)


def npy_bytes(shape, dtype, data: bytes) -> bytes:
    """An .npy member whose header declares `shape` but which holds only `data`."""
    buffer = io.BytesIO()
    header = {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": tuple(shape)}
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue() + data


def npz_bytes(members: dict, compression=zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    write_archive(buffer, members, compression)
    return buffer.getvalue()


def test_a_config_of_100_mb_whitespace_is_refused_before_reading_it(tmp_path):
    path = saved_model(tmp_path)
    members = members_of(path)
    bomb = tmp_path / "bomb.keras"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            if name != "config.json":
                archive.writestr(name, data)
        with archive.open("config.json", "w", force_zip64=True) as config:
            config.write(members["config.json"])  # still valid JSON: whitespace may follow
            spaces = b" " * (1 << 20)
            for _ in range(100):
                config.write(spaces)
    assert bomb.stat().st_size < 1 << 20
    message = refused_quickly(bomb, r"config\.json declares 10[0-9,]+ bytes")
    assert "refused before reading it" in message


def forge_declared_size(path, member: str, size: int) -> None:
    """Rewrite the central directory's uncompressed size of `member` (a zip bomb's lie)."""
    data = bytearray(path.read_bytes())
    at = data.index(b"PK\x01\x02")
    while True:
        name_length = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46 : at + 46 + name_length] == member.encode():
            struct.pack_into("<I", data, at + 24, size)
            break
        at = data.index(b"PK\x01\x02", at + 4)
    path.write_bytes(bytes(data))


def test_a_forged_uncompressed_size_is_refused_before_reading(tmp_path):
    path = saved_model(tmp_path)
    forge_declared_size(path, "model.weights.npz", 3_000_000_000)
    message = refused_quickly(path, r"members declare 3,000,[0-9,]+ bytes uncompressed")
    assert "zip bomb" in message


def test_nested_compression_is_refused_before_decompressing(tmp_path):
    path = saved_model(tmp_path)
    members = members_of(path)
    zeros = {"names": np.array(["x"]), "w0000": np.zeros(5_000_000, "float32")}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **zeros)  # 20 MB of zeros, compressed twice
    members["model.weights.npz"] = buffer.getvalue()
    write_archive(path, members)
    assert path.stat().st_size < 100_000
    refused_quickly(path, r"model\.weights\.npz: its members declare 20,000,[0-9,]+ bytes")


@pytest.mark.parametrize(
    "shape, dtype",
    [((100_000, 100_000), "float32"), ((10**10, 2), "float64"), ((-4, 2), "float32")],
)
def test_npy_headers_declaring_huge_or_negative_shapes_are_refused(tmp_path, shape, dtype):
    path = saved_model(tmp_path)
    members = members_of(path)
    hostile = npy_bytes(shape, dtype, b"\0" * 40)
    members["model.weights.npz"] = npz_bytes(
        {"names.npy": npy_bytes((0,), "<U1", b""), "w0000.npy": hostile}
    )
    write_archive(path, members)
    pattern = r"model\.weights\.npz: w0000\.npy declares an array of shape .* but holds 40 bytes"
    assert "refused before allocating" in refused_quickly(path, pattern)
    weights = tmp_path / "hostile.weights.npz"
    weights.write_bytes(members["model.weights.npz"])
    model = Sequential([Input(shape=(6,)), Dense(8)])
    refused_quickly(weights, r"w0000\.npy declares an array of shape", model.load_weights)


def test_a_config_declaring_a_billion_units_is_refused_before_allocating(tmp_path):
    path = saved_model(tmp_path)
    members = members_of(path)
    config = json.loads(members["config.json"])
    config["config"]["layers"][1]["config"]["units"] = 10**9
    members["config.json"] = json.dumps(config).encode()
    write_archive(path, members)
    pattern = r"weight 'dense/kernel' of shape \(6, 1000000000\) \(24,000,000,000 bytes\)"
    refused_quickly(path, pattern)


def test_a_corrupt_optimizer_state_fails_at_load_naming_the_member(tmp_path):
    path = saved_model(tmp_path)
    members = members_of(path)
    members["optimizer.npz"] = b"PK\x03\x04 not really a zip"
    write_archive(path, members)
    refused_quickly(path, r"optimizer\.npz is corrupt")
    wrong = [np.zeros(()), np.zeros(()), np.zeros((2, 2), "float32")]  # a state of other shapes
    buffer = io.BytesIO()
    np.savez(
        buffer, names=np.array(["a", "b", "c"]), **{f"w{i:04d}": a for i, a in enumerate(wrong)}
    )
    members["optimizer.npz"] = buffer.getvalue()
    write_archive(path, members)
    refused_quickly(path, r"optimizer\.npz: Adam: the saved state has 3 arrays")
    assert load_model(path, compile=False).predict(np.ones((1, 6)), verbose=0).shape == (1, 3)
