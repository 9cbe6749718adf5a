"""examples/mnist_mlp.py --int8 (smoke mode): the trained MLP quantized, evaluated, reloaded."""

import os
import re
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "mnist_mlp.py"


def test_mnist_mlp_int8_smoke(tmp_path):
    env = {**os.environ, "GRAPHC_HOME": str(tmp_path / "home"), "GRAPHC_OFFLINE": "1",
           "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, str(EXAMPLE), "--smoke", "--int8"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    found = re.search(r"int8 test accuracy (\d\.\d+) \(([-+]\d+\.\d+) points", done.stdout)
    assert found, done.stdout[-2000:]
    assert abs(float(found.group(2))) <= 2.0  # 100 smoke test digits: one digit is 1 point
    assert (tmp_path / "out" / "mnist_mlp_int8.zip").exists()
