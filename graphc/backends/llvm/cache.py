"""On-disk cache of compiled object code, so a program compiled once loads in milliseconds.

An entry is the object file that `TargetMachine.emit_object` produced for one LLVM module, keyed
by the SHA-256 of everything that decides its bytes: the IR text, the host CPU name and feature
string, the llvmlite and LLVM versions, and a format tag of this file.

Layout of an entry file `<key>.o`:  MAGIC (8 bytes) | payload length (8 bytes, little endian) |
SHA-256 of the key (32 bytes) | SHA-256 of that key digest followed by the payload (32 bytes) |
payload.  A reader checks all of them before handing the bytes to the JIT linker, because a
truncated or corrupt object file would crash the process inside LLVM instead of raising, and an
entry swapped with another key's (whole and checksummed, but other code) would run the wrong
code on our buffers; such an entry is reported as a miss and rewritten by the caller.

Environment:
  GRAPHC_CACHE_DIR   where entries live (default: $GRAPHC_HOME/cache, i.e. ~/.graphc/cache)
  GRAPHC_CACHE=0     turn the cache off (no reads, no writes)

Public API (used by jit.py and the `graphc cache` CLI):
  cache_dir() -> pathlib.Path
  cache_key(ir_text, cpu, features, options="") -> str
  load(key) -> bytes | None
  store(key, payload) -> None
  cache_size() -> (files, bytes)
  clear_cache() -> int   (number of entries removed)
"""

from __future__ import annotations

import hashlib
import os
import struct
import tempfile
import warnings
from pathlib import Path

import llvmlite
import llvmlite.binding as llvm

from graphc.files import graphc_home

MAGIC = b"GRAPHCO2"
_HEADER = struct.Struct("<8sQ32s32s")
_FORMAT_TAG = "graphc-object-cache-v1"
_SUFFIX = ".o"


def enabled() -> bool:
    """False when GRAPHC_CACHE is set to 0/off/false/no."""
    return os.environ.get("GRAPHC_CACHE", "1").strip().lower() not in ("0", "off", "false", "no")


def cache_dir() -> Path:
    """The directory holding cache entries (it may not exist yet)."""
    explicit = os.environ.get("GRAPHC_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    return graphc_home() / "cache"


def cache_key(ir_text: str, cpu: str, features: str, options: str = "") -> str:
    """Hex SHA-256 naming the object code that `ir_text` compiles to on this host. `options`
    names non-default compile settings (e.g. jit's optimization level); empty for the defaults,
    which keeps the keys of existing entries."""
    h = hashlib.sha256()
    llvm_version = ".".join(map(str, llvm.llvm_version_info))
    parts = (_FORMAT_TAG, cpu, features, llvmlite.__version__, llvm_version, ir_text)
    for part in parts + ((options,) if options else ()):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


def _entry_path(key: str) -> Path:
    return cache_dir() / (key + _SUFFIX)


def _key_digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def _digest(key_digest: bytes, payload: bytes) -> bytes:
    """Checksum that ties the payload to its key: a swapped entry fails it."""
    return hashlib.sha256(key_digest + payload).digest()


def load(key: str) -> bytes | None:
    """The payload stored under `key`, or None if absent, unreadable, truncated, corrupt or
    written for another key."""
    if not enabled():
        return None
    try:
        blob = _entry_path(key).read_bytes()
    except OSError:
        return None
    if len(blob) < _HEADER.size:
        return None
    magic, length, key_digest, digest = _HEADER.unpack_from(blob)
    payload = blob[_HEADER.size:]
    if magic != MAGIC or length != len(payload) or key_digest != _key_digest(key):
        return None
    if _digest(key_digest, payload) != digest:
        return None
    return payload


def store(key: str, payload: bytes) -> None:
    """Write an entry atomically (temp file + rename); a failure only warns (the cache is
    optional)."""
    if not enabled():
        return
    directory = cache_dir()
    key_digest = _key_digest(key)
    header = _HEADER.pack(MAGIC, len(payload), key_digest, _digest(key_digest, payload))
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=_SUFFIX, dir=directory)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(header + payload)
            os.replace(tmp, _entry_path(key))
        except BaseException:
            _remove_quietly(Path(tmp))
            raise
    except OSError as err:
        warnings.warn(f"graphc: could not write the compile cache in {directory}: {err}",
                      RuntimeWarning, stacklevel=2)


def _entries() -> list[Path]:
    try:
        return [p for p in cache_dir().iterdir() if p.suffix == _SUFFIX and p.is_file()]
    except OSError:
        return []


def cache_size() -> tuple[int, int]:
    """(number of entries, total bytes) currently in the cache directory."""
    files = total = 0
    for path in _entries():
        try:
            total += path.stat().st_size
            files += 1
        except OSError:
            pass
    return files, total


def clear_cache() -> int:
    """Delete every entry (and stale temp files); returns how many entries were removed."""
    removed = 0
    for path in _entries():
        if _remove_quietly(path) and not path.name.startswith(".tmp-"):
            removed += 1
    return removed


def _remove_quietly(path: Path) -> bool:
    try:
        path.unlink()
        return True
    except OSError:
        return False
