"""Object code saved under a key of our own choosing, so code can be loaded from the disk cache
without first generating its LLVM IR (jit.compile_ir keys its cache by the IR text, which for
a GEMM variant or a whole function takes longer to produce than to load).

`remember(key, ir_text)` copies the object that jit.compile_ir cached for `ir_text` to `key`;
`load(key, name)` returns that code as a jit.CompiledModule, or None. Keys are hashed with the
host CPU, its features, the llvmlite/LLVM versions and `source_digest()`: the sources of the
passes and the backend, so an edited emitter never reuses stale code.
"""

from __future__ import annotations

import functools
import hashlib
import time
from pathlib import Path

from graphc.backends.llvm import cache, jit, threads

PACKAGES = ("graphc/backends/llvm", "graphc/ops", "passes")


@functools.cache
def source_digest() -> str:
    root = Path(__file__).resolve().parents[3]
    h = hashlib.sha256()
    for package in PACKAGES:
        for path in sorted((root / package).glob("*.py")):
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


def load(key: str, name: str):
    """The code remembered under `key` (its external symbols must be registered), or None."""
    payload = cache.load(object_key(key))
    if payload is None:
        return None
    threads.ensure_runtime()  # the code may call graphc_barrier
    start = time.perf_counter()
    try:
        with jit._LOCK:  # jit's engine loader: one LLVM context user at a time
            engine = jit._engine_from_object(payload)
    except Exception:  # noqa: BLE001 - an unloadable entry is a miss, never a crash
        return None
    return jit.CompiledModule(name, engine, time.perf_counter() - start, True, None)
