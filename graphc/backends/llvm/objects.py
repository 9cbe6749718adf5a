"""Object code saved under a key of our own choosing, so code can be loaded from the disk cache
without first generating its LLVM IR (jit.compile_ir keys its cache by the IR text, which for
a GEMM variant or a whole function takes longer to produce than to load).

`remember(key, ir_text)` copies the object that jit.compile_ir cached for `ir_text` to `key`
(`store(key, payload)` saves object code made elsewhere);
`load(key, name)` returns that code as a jit.CompiledModule, or None (`payload(key)`: the
bytes). Keys are hashed with the host CPU, its features, the llvmlite/LLVM versions and
`source_digest()`: the sources of graphc's core, the passes and the backend, so an edited
emitter never reuses stale code.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from graphc.backends.llvm import cache, jit, mcjit, threads
from graphc.files import atomic_write

PACKAGES = ("graphc", "graphc/backends/llvm", "graphc/ops", "passes")  # graphc: ir.py
DIGEST_MEMO = "sources.digest"  # "<stamp of the files> <digest of their contents>"


def source_files() -> list[Path]:
    root = Path(__file__).resolve().parents[3]
    return [path for package in PACKAGES for path in sorted((root / package).glob("*.py"))]


@functools.cache
def source_digest() -> str:
    """SHA-256 of the sources' names and contents, remembered in the cache folder beside a
    digest of their names, sizes, modification times and inodes: reading and hashing ~600 KB
    of source took a third of a warm start, a stat of each file takes ~1 ms."""
    files = source_files()
    stamp = hashlib.sha256(repr([(p.name, s.st_size, s.st_mtime_ns, s.st_ino)
                                 for p in files for s in [p.stat()]]).encode()).hexdigest()
    memo = cache.cache_dir() / DIGEST_MEMO
    if cache.enabled():
        try:
            known_stamp, _, digest = memo.read_text().partition(" ")
            if known_stamp == stamp and len(digest) == 64:
                return digest
        except OSError:  # not remembered yet (or unreadable): hash the sources
            pass
    digest = contents_digest(files)
    if cache.enabled():
        try:
            memo.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(memo, lambda f: f.write(f"{stamp} {digest}".encode()))
        except OSError:  # a read-only cache folder: hashed again next time
            pass
    return digest


def contents_digest(files) -> str:
    h = hashlib.sha256()
    for path in files:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def object_key(key: str) -> str:
    cpu, features = jit.host_cpu()
    return cache.cache_key(f"graphc-named-object\0{source_digest()}\0{key}", cpu, features)


def remember(key: str, ir_text: str, options: str = "") -> None:
    """`options`: jit.options_tag of the settings the IR was compiled with."""
    cpu, features = jit.host_cpu()
    payload = cache.load(cache.cache_key(ir_text, cpu, features, options))
    if payload is not None:
        cache.store(object_key(key), payload)


def store(key: str, payload: bytes) -> None:
    """Object code saved under `key` (what `load` reads)."""
    cache.store(object_key(key), payload)


def payload(key: str) -> bytes | None:
    """The object code remembered under `key` (not loaded), or None."""
    return cache.load(object_key(key))


def load(key: str, name: str):
    """The code remembered under `key` (its external symbols must be registered), or None."""
    payload = cache.load(object_key(key))
    if payload is None:
        return None
    threads.ensure_runtime()  # the code may call graphc_barrier
    try:
        return mcjit.load_object(payload, name)
    except Exception:  # noqa: BLE001 - an unloadable entry is a miss, never a crash
        return None
