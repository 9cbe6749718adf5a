"""examples/mnist_mlp.py --mixed-bfloat16 trains, saves and reloads in its smoke mode."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_mnist_mlp_runs_with_mixed_bfloat16(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "mnist_mlp.py"), "--smoke", "--mixed-bfloat16",
         "--out", str(tmp_path)], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "the reloaded model predicts the same" in done.stdout
