"""The expanded-graph cache: a function compiled before in another process skips the passes
(grad, simplify, expand), computes what a fresh compile computes bit for bit, and an entry that
does not describe the passes' graph is a miss."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import graphc as gc
from graphc.backends.llvm import expand_for_llvm, expanded_cache, program_cache
from graphc.ir import Graph
from passes.manager import run_pipeline

ROOT = Path(__file__).resolve().parents[2]

STEP = """
import json, sys, numpy as np, graphc as gc
from tests.backends.test_expanded_cache import training_step
rng = np.random.default_rng(1)
xs, ys = rng.standard_normal((7, 5), dtype="f4"), rng.standard_normal((7, 3), dtype="f4")
results = []
for lr in (0.1, float(sys.argv[1])):  # the second: new code calling the GEMMs the first loaded
    step, weights = training_step(lr)
    losses = [float(step(xs, ys)) for _ in range(3)]
    results.append({"seconds": sorted(step.pipeline.seconds),
                    "losses": [l.hex() for l in losses],
                    "weights": [w.get_value().tobytes().hex() for w in weights]})
print(json.dumps(results))
"""


def training_step(lr=0.1):
    """A small two-layer training step: gradients, shared updates, GEMMs and a softmax."""
    x = gc.placeholder((None, 5), "float32", name="x")
    y = gc.placeholder((None, 3), "float32", name="y")
    w1 = gc.shared(np.linspace(-1, 1, 35, dtype="f4").reshape(5, 7), name="w1")
    w2 = gc.shared(np.linspace(1, -1, 21, dtype="f4").reshape(7, 3), name="w2")
    logits = gc.relu(x @ w1) @ w2
    loss = gc.mean((gc.softmax(logits) - y) ** 2)
    updates = [(w, w - lr * gc.grad(loss, w)) for w in (w1, w2)]
    return gc.function([x, y], loss, updates=updates), (w1, w2)


def run_steps(env, second_lr):
    done = subprocess.run([sys.executable, "-c", STEP, str(second_lr)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_warm_compile_skips_the_passes_and_computes_the_same_bits(tmp_path):
    env = dict(os.environ, GRAPHC_CACHE_DIR=str(tmp_path), PYTHONPATH=str(ROOT))
    fresh = run_steps(dict(env, GRAPHC_CACHE="0"), 0.2)
    env.pop("GRAPHC_CACHE", None)
    cold, warm = run_steps(env, 0.3), run_steps(env, 0.2)
    passes = {"grad", "optimized", "expanded", "emit"}
    assert passes <= set(cold[0]["seconds"])
    assert "cache" in warm[0]["seconds"] and not passes & set(warm[0]["seconds"])
    assert "emit" in warm[1]["seconds"]  # new code, linked to the GEMMs loaded with the first
    for result, reference in ((cold[0], fresh[0]), (warm[0], fresh[0]), (warm[1], fresh[1])):
        assert (result["losses"], result["weights"]) == (reference["losses"], reference["weights"])


def test_a_hit_still_gives_every_stage_on_request(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("GRAPHC_CACHE", raising=False)
    first, _ = training_step()
    second, _ = training_step()
    assert "cache" in second.pipeline.seconds and "grad" not in second.pipeline.seconds
    assert second.stages == first.stages
    for stage in ("grad", "optimized", "expanded"):
        assert program_cache.fingerprint(second.graph(stage))[0] == \
            program_cache.fingerprint(first.graph(stage))[0]


def small_run(scale):
    x = gc.placeholder((None, 4), "float32", name="x")
    w = gc.shared(np.ones((4, 2), "f4"), name="w")
    return run_pipeline(Graph((x,), (gc.sum(gc.exp(x @ w * scale)),)), lazy=True)


def test_an_entry_for_another_graph_is_a_miss(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("GRAPHC_CACHE", raising=False)
    mine, other = small_run(2.0), small_run(3.0)
    key = expanded_cache.shortcut_key(mine, expand_for_llvm)
    assert key is not None and key != expanded_cache.shortcut_key(other, expand_for_llvm)
    other_expanded = expand_for_llvm(other.last)
    other_key, _ = program_cache.fingerprint(other_expanded)
    expanded_cache.store(key, other.stages["raw"], other_expanded, other_key)
    assert expanded_cache.load(key, mine.stages["raw"]) is None  # rebuilt, not the stored graph
    mine_expanded = expand_for_llvm(mine.last)
    expanded_cache.store(key, mine.stages["raw"], mine_expanded, "not its key")
    assert expanded_cache.load(key, mine.stages["raw"]) is None
    expanded_cache.store(key, mine.stages["raw"], mine_expanded,
                         program_cache.fingerprint(mine_expanded)[0])
    found_key, nodes, graph = expanded_cache.load(key, mine.stages["raw"])
    assert found_key == program_cache.fingerprint(mine_expanded)[0]
    assert graph.inputs == mine.stages["raw"].inputs  # the user's own placeholder


def test_no_shortcut_once_a_pass_has_run():
    run = small_run(2.0)
    assert expanded_cache.shortcut_key(run, expand_for_llvm) is not None
    run.last  # noqa: B018 - computes the deferred stages
    assert expanded_cache.shortcut_key(run, expand_for_llvm) is None


def test_a_lazy_pipeline_computes_what_an_eager_one_does():
    lazy = small_run(2.0)
    eager = run_pipeline(lazy.stages["raw"])
    assert list(lazy.stages) == list(eager.stages) == ["raw", "grad", "optimized"]
    assert "grad" not in lazy.seconds
    assert program_cache.fingerprint(lazy.stages["optimized"])[0] == \
        program_cache.fingerprint(eager.stages["optimized"])[0]
    assert {"grad", "optimized"} <= set(lazy.seconds)


def test_only_attributes_whose_repr_tells_their_value_make_a_key():
    assert expanded_cache.plain((1, "same", 2.5, None, (True, -3)))
    assert not expanded_cache.plain(np.zeros(2000))  # its repr elides the middle
    assert not expanded_cache.plain((1, np.float32(0.5)))
