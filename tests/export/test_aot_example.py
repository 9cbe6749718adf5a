"""examples/c_inference/export_mnist.py end to end: train, export, compile the C program with
cc, classify the packaged test digits from C; C's accuracy equals Python's."""

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.export.aot_helpers import EXAMPLE, needs_cc

ROOT = Path(__file__).resolve().parents[2]


@needs_cc
def test_export_mnist_example_prints_the_same_accuracy_as_python(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), GRAPHC_OFFLINE="1")
    done = subprocess.run([sys.executable, str(EXAMPLE / "export_mnist.py"), "--epochs", "1",
                           "--out", str(tmp_path / "out"), "--threads", "1"], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    from_c = re.search(r"1000 digits, accuracy ([\d.]+)% \(predict [\d.]+ ms, 1 threads\)",
                       done.stdout)
    from_python = re.search(r"accuracy in Python: ([\d.]+)%", done.stdout)
    assert from_c and from_python, done.stdout
    assert from_c.group(1) == from_python.group(1)
    assert float(from_c.group(1)) > 70  # one epoch on 4,000 digits
    assert {"libmnist.so", "libmnist.a", "mnist.h", "README.md", "c_inference"} <= {
        p.name for p in (tmp_path / "out").iterdir()}
