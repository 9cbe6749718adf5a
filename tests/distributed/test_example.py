"""examples/mnist_mpi.py runs on 2 ranks in its smoke mode: rank 0 alone prints and saves."""

import os
import subprocess
import sys

from graphc.backends.llvm import cache
from tests.distributed.launch import ROOT, check, require_mpi


def test_mnist_mpi_example_on_two_ranks(tmp_path):
    require_mpi()
    # a fresh home for datasets, but the suite's compile cache: a kernel compiles once per run
    env = dict(os.environ, PYTHONPATH=str(ROOT), GRAPHC_HOME=str(tmp_path / "home"),
               GRAPHC_CACHE_DIR=str(cache.cache_dir()), GRAPHC_OFFLINE="1",
               GRAPHC_NUM_THREADS="1")
    command = ["mpiexec", "-n", "2", sys.executable, str(ROOT / "examples" / "mnist_mpi.py"),
               "--smoke"]
    out = check(subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                               timeout=240))
    assert out.count("Epoch 1/1") == 1 and "trained on 2 rank(s)" in out
    assert (tmp_path / "out" / "mnist_mpi.zip").exists()
