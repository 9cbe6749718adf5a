"""examples/mnist_mlp.py --mixed-bfloat16 trains, saves and reloads in its smoke mode (mnist_cnn.py
with --mixed-bfloat16 --int8: tests/test_examples.py)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("example", ["mnist_mlp.py"])
def test_the_mnist_examples_run_with_mixed_bfloat16(tmp_path, example):
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / example), "--smoke", "--mixed-bfloat16",
         "--out", str(tmp_path)], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "the reloaded model predicts the same" in done.stdout
