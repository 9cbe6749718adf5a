"""A module compiled as parts in forked processes runs as the whole module compiled here does,
caches as one payload, and reports a part that fails to compile."""

import os
import signal
import time

import numpy as np
import pytest

import graphc as gc
from graphc.backends.llvm import cache, jit, parallel_compile
from graphc.backends.llvm.emit import generate_units
from graphc.backends.llvm.parallel_compile import CONTAINER, compile_parts, pack, unpack


def mlp_step(seed=0, lr=0.1):
    rng = np.random.default_rng(seed)
    x, y = gc.placeholder((None, 33), name="x"), gc.placeholder((None, 7), name="y")
    w1 = gc.shared(rng.normal(size=(33, 17)).astype("float32"), name="w1")
    w2 = gc.shared(rng.normal(size=(17, 7)).astype("float32"), name="w2")
    out = gc.softmax(gc.dot(gc.relu(gc.dot(x, w1)), w2))
    loss = gc.mean(gc.sum((out - y) ** 2, axis=1))
    updates = [(w, w - lr * g) for w, g in zip((w1, w2), gc.grad(loss, [w1, w2]))]
    data = rng.normal(size=(257, 33)).astype("float32"), rng.random((257, 7)).astype("float32")
    return [x, y], loss, updates, (w1, w2), data


def train(processes, monkeypatch, tmp_path, split_from=0):
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("GRAPHC_COMPILE_PROCESSES", str(processes))
    monkeypatch.setattr(parallel_compile, "MIN_SPLIT_CHARS", split_from)
    inputs, loss, updates, weights, (x, y) = mlp_step()
    step = gc.function(inputs, loss, updates=updates)
    losses = [float(step(x[:n], y[:n])) for n in (1, 7, 33, 257)]
    return losses, [w.get_value() for w in weights], step


@pytest.mark.parametrize("threads", [1, 2])
def test_parts_compiled_apart_train_exactly_as_the_whole_module(threads, monkeypatch, tmp_path):
    monkeypatch.setenv("GRAPHC_NUM_THREADS", str(threads))
    whole = train(1, monkeypatch, tmp_path / "whole", split_from=10**9)  # never split
    parts = train(2, monkeypatch, tmp_path / "parts")
    assert parts[0] == whole[0]
    for a, b in zip(parts[1], whole[1]):
        np.testing.assert_array_equal(a, b)


def test_a_split_module_is_cached_as_one_payload_of_its_parts(monkeypatch, tmp_path):
    losses, _, _ = train(2, monkeypatch, tmp_path)
    payloads = [cache.load(path.stem) for path in tmp_path.glob("*.o")]
    packed = [p for p in payloads if p is not None and p.startswith(CONTAINER)]
    assert packed, "the step's module was not compiled in parts"
    singles = {p for p in payloads if p is not None and not p.startswith(CONTAINER)}
    # one object per kernel (the parts were once one per process), each also cached alone
    assert all(len(unpack(p)) > 2 and set(unpack(p)) <= singles for p in packed)
    again, _, step = train(2, monkeypatch, tmp_path)  # from the disk cache: parts load, link
    assert "cache" in step.pipeline.seconds and again == losses



def emitted_units(monkeypatch, tmp_path):
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path))  # compiled here, not loaded
    inputs, loss, updates, _, _ = mlp_step()
    return generate_units(gc.function(inputs, loss, updates=updates).executable.program)


def test_parts_link_only_through_the_kernels_the_entry_calls(monkeypatch, tmp_path):
    units, names = emitted_units(monkeypatch, tmp_path)
    assert len(units.parts(1)) == 1 and units.parts(1)[0] == units.text()
    first, second = units.parts(2)
    for name in set(names):
        defined = [f'define void @"{name}"' in part for part in (first, second)]
        assert sum(defined) <= 1
        assert f'define internal void @"{name}"' not in first + second
    assert 'define void @"graphc_step"' in first + second


def test_pack_keeps_a_single_object_as_it_is_and_refuses_a_cut_payload():
    assert pack([b"\x7fELF one"]) == b"\x7fELF one"
    assert unpack(b"\x7fELF one") == [b"\x7fELF one"]
    objects = [b"a" * 5, b"", b"bc" * 100]
    assert unpack(pack(objects)) == objects
    with pytest.raises(ValueError, match="wrong length"):
        unpack(pack(objects)[:-1])


def test_a_part_failing_in_its_process_names_the_module_and_the_error():
    def compile_one(text):
        if text == "bad":
            raise ValueError("no such instruction")
        return text.encode()

    assert compile_parts(["a", "b", "c"], compile_one, "m") == [b"a", b"b", b"c"]
    assert compile_parts([], compile_one, "m") == []
    with pytest.raises(RuntimeError, match="module 'm' failed: ValueError: no such instruction"):
        compile_parts(["a", "bad"], compile_one, "m")


def test_a_part_whose_process_dies_is_an_error_not_a_hang():
    def compile_one(text):
        if text == "die":
            os._exit(3)
        return b""

    with pytest.raises(RuntimeError, match="ended with status 3"):
        compile_parts(["a", "die"], compile_one, "m")


@pytest.mark.parametrize("raw", ["0", "two", "-1"])
def test_the_process_count_must_be_a_positive_integer(raw, monkeypatch):
    monkeypatch.setenv("GRAPHC_COMPILE_PROCESSES", raw)
    with pytest.raises(ValueError, match="GRAPHC_COMPILE_PROCESSES"):
        parallel_compile.processes()


def test_debug_dumps_compile_the_whole_module(monkeypatch, tmp_path, capfd):
    monkeypatch.setenv("GRAPHC_DEBUG_DIR", str(tmp_path / "dumps"))
    text = 'define void @"f"() {\nentry:\n  ret void\n}\n'
    parts = [text, 'define void @"g"() {\nentry:\n  ret void\n}\n']
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path / "cache"))
    compiled = jit.compile_ir(text, "dumped", debug=2, parts=parts)
    assert compiled.optimized_ir is not None and (tmp_path / "dumps" / "dumped.ll").exists()


def test_a_part_failing_here_still_waits_for_every_child():
    def compile_one(text):
        if text == "bad":
            raise ValueError("no such instruction")
        return text.encode()

    for _ in range(3):
        with pytest.raises(ValueError, match="no such instruction"):
            compile_parts(["bad", "ok", "ok"], compile_one, "m")
    time.sleep(0.2)  # children left unwaited would have ended by now
    try:  # ... and be reaped here
        leftover, _ = os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:  # no child at all
        leftover = 0
    assert leftover == 0


def test_children_compile_with_sigchld_ignored():
    previous = signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # as daemons run: no status kept
    try:
        assert compile_parts(["a", "b", "c"], lambda t: t.encode() * 3, "m") == \
            [b"aaa", b"bbb", b"ccc"]
    finally:
        signal.signal(signal.SIGCHLD, previous)
