"""Each kernel of a split module is cached under its own IR's key: new code recompiles only the
kernels it changed, and a damaged kernel entry is compiled again, never loaded or fatal; the
parts to compile are pulled by the compiling processes from one queue."""

import fcntl
import os
import time

import numpy as np
import pytest

import graphc as gc
from graphc.backends.llvm import cache, jit, mcjit, parallel_compile, part_aliases
from graphc.backends.llvm.emit import generate_units
from graphc.backends.llvm.parallel_compile import compile_pulled, unpack
from tests.backends.test_parallel_compile import mlp_step


def sgd_step(lr):
    inputs, loss, updates, _, _ = mlp_step(lr=lr)
    return inputs, loss, updates


def losses(step, seed=1):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(257, 33)).astype("float32"), rng.random((257, 7)).astype("float32")
    return [float(step(x[:n], y[:n])) for n in (1, 7, 33, 257)]


@pytest.fixture
def counted(monkeypatch, tmp_path):
    """A fresh cache, split modules, and the list of the parts compiled from here on."""
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("GRAPHC_CACHE", raising=False)
    monkeypatch.setattr(parallel_compile, "MIN_SPLIT_CHARS", 0)
    compiled, real = [], mcjit.object_code

    def counting(text, *args, **kwargs):
        compiled.append(text)
        return real(text, *args, **kwargs)

    monkeypatch.setattr(mcjit, "object_code", counting)
    return compiled


@pytest.mark.parametrize("threads", [1, 2])
def test_new_code_compiles_only_the_kernels_it_changed(threads, counted, monkeypatch):
    monkeypatch.setenv("GRAPHC_NUM_THREADS", str(threads))
    monkeypatch.setenv("GRAPHC_COMPILE_PROCESSES", "1")  # count the compiles in this process
    gc.function(*sgd_step(0.1))
    first = len(counted)
    step = gc.function(*sgd_step(0.1 + 1e-3))  # only the updates' kernels hold the rate
    again = len(counted) - first
    assert first > 2 and 0 < again < first - 1
    oracle = gc.function(*sgd_step(0.1 + 1e-3), backend="numpy")
    np.testing.assert_allclose(losses(step), losses(oracle), rtol=1e-5)


def split_module():
    inputs, loss, updates = sgd_step(0.1)
    units, _ = generate_units(gc.function(inputs, loss, updates=updates).executable.program)
    return units.text(), units.parts(len(units.units))


def damage_entry(entry, damage: str) -> None:
    """Flip a byte of the cache entry's payload, or cut the entry in half."""
    blob = bytearray(entry.read_bytes())
    if damage == "flip":
        blob[-7] ^= 0xFF
    else:
        del blob[len(blob) // 2:]
    entry.write_bytes(bytes(blob))


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_a_damaged_kernel_entry_is_compiled_again(damage, counted, tmp_path):
    text, parts = split_module()
    whole = jit.compile_ir(text + "; again\n", "m", parts=parts)  # a new whole-module key
    cpu, features = jit.host_cpu()
    damage_entry(cache.cache_dir() / (cache.cache_key(parts[0], cpu, features) + ".o"), damage)
    before = len(counted)
    rebuilt = jit.compile_ir(text + "; once more\n", "m", parts=parts)
    assert counted[before:] == [parts[0]]  # the others came from their entries
    assert not rebuilt.from_cache
    assert cache.load(cache.cache_key(parts[0], cpu, features)) is not None  # stored again
    assert set(unpack(cache.load(cache.cache_key(text + "; once more\n", cpu, features)))) == \
        set(unpack(cache.load(cache.cache_key(text + "; again\n", cpu, features))))
    assert whole.address("graphc_step") and rebuilt.address("graphc_step")


@pytest.mark.parametrize("threads", [1, 2])
def test_a_kernel_copying_another_compiles_as_a_thunk_and_trains_right(threads, counted,
                                                                        monkeypatch):
    monkeypatch.setenv("GRAPHC_NUM_THREADS", str(threads))
    step = gc.function(*sgd_step(0.1))  # the two weights' updates differ only by name
    thunks = [text for text in counted if "tail call" in text and "\ndefine " in text]
    assert len(thunks) == 1 and len(thunks[0]) < 1000
    oracle = gc.function(*sgd_step(0.1), backend="numpy")
    np.testing.assert_allclose(losses(step), losses(oracle), rtol=1e-5)


def test_a_copy_keeps_its_own_key_empty(counted):
    text, parts = split_module()
    copies = part_aliases.duplicates(parts, list(range(len(parts))))
    assert len(copies) == 1
    jit.compile_ir(text + "; apart\n", "m", parts=parts)
    cpu, features = jit.host_cpu()
    (copy, original), = copies.items()
    assert cache.load(cache.cache_key(parts[copy], cpu, features)) is None  # never the thunk
    thunk = part_aliases.thunk_ir(parts[copy], parts[original])
    assert cache.load(cache.cache_key(thunk, cpu, features)) is not None
    assert cache.load(cache.cache_key(parts[original], cpu, features)) is not None
    assert part_aliases.renamed_body('@g = global i32 0\ndefine void @"f"() {\n}\n') is None


def test_workers_pull_parts_from_one_queue(tmp_path):
    """The process holding the slow part waits until the other parts are compiled: only a
    worker taking parts as it goes (no split made ahead) gets through."""
    def compile_one(text):
        if text != "slow":
            (tmp_path / text).write_text(str(os.getpid()))
            return text.encode() * 2
        deadline = time.monotonic() + 20
        while len(list(tmp_path.iterdir())) < 3:
            assert time.monotonic() < deadline, "the other parts waited behind the slow one"
            time.sleep(0.01)
        return b"done"

    parts = ["slow", "a", "b", "c"]
    assert compile_pulled(parts, compile_one, "m", 2) == [b"done", b"aa", b"bb", b"cc"]
    assert compile_pulled(parts[1:], compile_one, "m", 1) == [b"aa", b"bb", b"cc"]
    assert compile_pulled([], compile_one, "m", 2) == []


def test_a_pulled_part_that_fails_names_the_module_and_every_worker_ends():
    def compile_one(text):
        if text == "bad":
            raise ValueError("no such instruction")
        return text.encode()

    with pytest.raises((RuntimeError, ValueError), match="no such instruction"):
        compile_pulled(["a", "bad", "c"], compile_one, "m", 2)
    try:  # every worker was waited for
        leftover, _ = os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:  # no child at all
        leftover = 0
    assert leftover == 0


def test_a_queue_longer_than_a_pipe_holds_compiles_here(monkeypatch):
    """A pipe capped at one page (where the system limits pipes) holds 512 positions: 600 items
    compile in this process instead of blocking on the full pipe."""
    real_pipe = os.pipe

    def one_page_pipe():
        read, write = real_pipe()
        fcntl.fcntl(write, fcntl.F_SETPIPE_SZ, 4096)
        return read, write

    monkeypatch.setattr(parallel_compile.os, "pipe", one_page_pipe)
    items = [f"part{k}" for k in range(600)]
    here = os.getpid()
    assert compile_pulled(items, lambda t: f"{t}@{os.getpid() == here}".encode(), "m", 2) == \
        [f"{t}@True".encode() for t in items]
