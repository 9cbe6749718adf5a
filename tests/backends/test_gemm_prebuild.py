"""`graphc cache prebuild`: the standard GEMM variants compiled into the disk cache once, so a
model's first compile on the machine compiles only its own kernels; a damaged entry is built
again; a process then loads the prebuilt code (the variants a step calls in one engine) and
trains as the NumPy interpreter does."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from graphc.backends.llvm import cache, gemm, gemm_library, objects
from graphc.cli import main
from tests.backends.test_kernel_objects import damage_entry

ROOT = Path(__file__).resolve().parents[2]
SMALL = (("float64", True, False, False, "linear", False),)  # the cheapest variant to build
MLP_STEP = (("float32", False, False, False, "linear", False),  # the variants mlp_step calls
            ("float32", False, True, False, "linear", False),
            ("float32", True, False, False, "linear", False))

STEP = """
import json, sys
import numpy as np
import graphc as gc
from graphc.backends.llvm import gemm_library
from tests.backends.test_parallel_compile import mlp_step

def never(name):
    raise AssertionError(f"compiled GEMM variant {name}, which was prebuilt")

gemm_library._variant_object = never
losses = {}
for backend in ("llvm", "numpy"):
    inputs, loss, updates, _, (x, y) = mlp_step()
    step = gc.function(inputs, loss, updates=updates, backend=backend)
    losses[backend] = [float(step(x[:n], y[:n])) for n in (1, 7, 33, 257)]
engines = {id(module) for module in gemm_library._LOADED.values()}
print(json.dumps({"losses": losses, "variants": len(gemm_library._LOADED),
                  "engines": len(engines)}))
"""


@pytest.fixture
def folder(monkeypatch, tmp_path):
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("GRAPHC_CACHE", raising=False)
    return tmp_path


def entry_of(variant) -> Path:
    name = gemm.gemm_name(*variant)
    return cache.cache_dir() / (objects.object_key(gemm_library.object_key(name)) + ".o")


def test_prebuild_compiles_once_and_the_code_loads(folder):
    name = gemm.gemm_name(*SMALL[0])
    assert gemm_library.prebuild(SMALL) == ([name], [])
    assert gemm_library.prebuild(SMALL) == ([], [name])
    loaded = objects.load(gemm_library.object_key(name), name)
    assert loaded is not None and loaded.address(name)


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_a_damaged_library_entry_is_built_again(folder, damage):
    gemm_library.prebuild(SMALL)
    damage_entry(entry_of(SMALL[0]), damage)
    name = gemm.gemm_name(*SMALL[0])
    assert gemm_library.prebuild(SMALL) == ([name], [])  # a miss, not a crash
    assert objects.load(gemm_library.object_key(name), name) is not None


def test_the_command_prebuilds_the_standard_variants(folder, monkeypatch, capsys):
    monkeypatch.setattr(gemm_library, "STANDARD", SMALL)
    assert main(["cache", "prebuild"]) == 0
    assert "compiled 1 variants, 0 already cached" in capsys.readouterr().out
    assert entry_of(SMALL[0]).is_file()
    monkeypatch.setenv("GRAPHC_CACHE", "0")
    assert main(["cache", "prebuild"]) == 1
    assert "GRAPHC_CACHE=0" in capsys.readouterr().err


def test_a_model_on_a_prebuilt_machine_compiles_no_gemm_and_trains_right(folder):
    gemm_library.prebuild(MLP_STEP)
    env = dict(os.environ, PYTHONPATH=str(ROOT), GRAPHC_CACHE_DIR=str(folder))
    done = subprocess.run([sys.executable, "-c", STEP], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["losses"]["llvm"] == pytest.approx(found["losses"]["numpy"], rel=1e-5)
    assert (found["variants"], found["engines"]) == (3, 1)  # loaded together, in one engine
