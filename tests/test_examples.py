"""Every script in examples/ runs in its smoke mode (tiny data, one epoch) and exits 0."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from graphc.backends.llvm import cache
from graphc.viz import dot_program

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# Files an example writes into ./out (the examples' default output folder).
WRITES = {
    "mnist_mlp.py": {
        "model.png",
        "train_step_fused.svg",
        "train_step_kernels.svg",
        "mnist_mlp.zip",
    },
    "compare_backends.py": {"compare_kernels.svg"},
}


# _common.py is the scripts' shared scaffolding, not a script
SCRIPTS = sorted(p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith("_"))


def run_smoke(script, tmp_path, *flags):
    # offline: the examples use the packaged digits without waiting on a network that may hang;
    # a fresh home for datasets, but the suite's compile cache: a kernel compiles once per run
    env = {
        **os.environ,
        "GRAPHC_HOME": str(tmp_path / "home"),
        "GRAPHC_CACHE_DIR": str(cache.cache_dir()),
        "GRAPHC_OFFLINE": "1",
        "MPLBACKEND": "Agg",
    }
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), "--smoke", *flags],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_runs_in_smoke_mode(script, tmp_path):
    done = run_smoke(script, tmp_path)
    assert done.returncode == 0, f"{script} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    written = {p.name for p in (tmp_path / "out").glob("*")}
    if WRITES.get(script) and dot_program() is None:
        pytest.skip("graphviz's `dot` is not on PATH: the example drew .dot text, not pictures")
    assert WRITES.get(script, set()) <= written
    if script == "mnist_mlp.py":  # the training curves need the optional matplotlib
        assert "training.png" in written or "matplotlib" in done.stdout


def test_mnist_cnn_trains_mixed_bfloat16_then_quantizes_to_int8(tmp_path):
    done = run_smoke("mnist_cnn.py", tmp_path, "--mixed-bfloat16", "--int8")
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert "int8 test accuracy" in done.stdout
    assert "stay float32: Conv2D 'conv2d'" in done.stderr  # the 3x3x1 convolution
    assert {"mnist_cnn_int8.zip"} <= {p.name for p in (tmp_path / "out").glob("*")}
