"""The compile cache as a whole: its folder follows GRAPHC_HOME, and program-cache entries
swapped on disk are recompiled, never run (a later process must not crash on them)."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import graphc as gc
from graphc.backends.llvm import cache

ROOT = Path(__file__).resolve().parents[2]
PICKLE, ELF = b"\x80", b"\x7fELF"


def test_cache_folder_follows_graphc_home_unless_graphc_cache_dir_is_set(tmp_path, monkeypatch):
    monkeypatch.delenv("GRAPHC_CACHE_DIR", raising=False)
    monkeypatch.setenv("GRAPHC_HOME", str(tmp_path / "home"))
    assert cache.cache_dir() == tmp_path / "home" / "cache"
    monkeypatch.delenv("GRAPHC_HOME")
    assert cache.cache_dir() == Path.home() / ".graphc" / "cache"
    monkeypatch.setenv("GRAPHC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert cache.cache_dir() == tmp_path / "elsewhere"


def run_functions(env, *names):
    """Build and check the named functions (see `build`) in a fresh process."""
    code = (
        "import sys, numpy as np\n"
        "import tests.backends.test_compile_cache as t\n"
        "for which in sys.argv[1:]:\n"
        "    np.testing.assert_allclose(t.build(which)(t.XS), t.build(which, 'numpy')(t.XS),\n"
        "                               rtol=1e-5, atol=1e-6)\n"
        "    print(which, 'ok')\n"
    )
    return subprocess.run([sys.executable, "-c", code, *names], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


XS = np.arange(30, dtype="f4").reshape(5, 6) / 7


def build(which, backend="llvm"):
    """Function "a" or "b": different structures, buffers and kernels."""
    x = gc.placeholder((None, 6), "float32", name="x")
    if which == "a":
        W = gc.shared(np.linspace(-1, 1, 24, dtype="f4").reshape(6, 4), name="W")
        return gc.function([x], gc.softmax(gc.relu(x @ W)), backend=backend)
    return gc.function([x], gc.sum(gc.exp(x * 0.5), axis=0) - gc.max(x, axis=0),
                       backend=backend)


def entries_by_kind(paths):
    """{pickle or ELF magic: [entry files]}: program descriptions and object code."""
    kinds = {}
    for path in sorted(paths):
        payload = path.read_bytes()[cache._HEADER.size:]
        kinds.setdefault(payload[:1] if payload[:1] == PICKLE else payload[:4], []).append(path)
    return kinds


def test_swapped_program_cache_entries_are_recompiled_not_run(tmp_path):
    env = dict(os.environ, GRAPHC_CACHE_DIR=str(tmp_path), PYTHONPATH=str(ROOT))
    env.pop("GRAPHC_CACHE", None)
    assert run_functions(env, "a").returncode == 0
    of_a = set(tmp_path.iterdir())
    assert run_functions(env, "b").returncode == 0
    a_kinds = entries_by_kind(of_a)
    b_kinds = entries_by_kind(set(tmp_path.iterdir()) - of_a)
    swapped = 0
    for kind in (PICKLE, ELF):  # descriptions with descriptions, object code with object code
        for mine, theirs in zip(a_kinds.get(kind, []), b_kinds.get(kind, [])):
            blobs = mine.read_bytes(), theirs.read_bytes()
            mine.write_bytes(blobs[1])
            theirs.write_bytes(blobs[0])
            swapped += 1
    assert swapped >= 2
    for _ in range(2):  # the first run recompiles and rewrites, the second loads
        done = run_functions(env, "a", "b")
        assert done.returncode == 0, done.stderr[-3000:]
        assert done.stdout.split() == ["a", "ok", "b", "ok"]
