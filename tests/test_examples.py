"""Every script in examples/ runs in its smoke mode (tiny data, one epoch) and exits 0."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

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


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_runs_in_smoke_mode(script, tmp_path):
    # offline: the examples use the packaged digits without waiting on a network that may hang
    env = {
        **os.environ,
        "GRAPHC_HOME": str(tmp_path / "home"),
        "GRAPHC_OFFLINE": "1",
        "MPLBACKEND": "Agg",
    }
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script), "--smoke"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"{script} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    written = {p.name for p in (tmp_path / "out").glob("*")}
    if WRITES.get(script) and dot_program() is None:
        pytest.skip("graphviz's `dot` is not on PATH: the example drew .dot text, not pictures")
    assert WRITES.get(script, set()) <= written
    if script == "mnist_mlp.py":  # the training curves need the optional matplotlib
        assert "training.png" in written or "matplotlib" in done.stdout
