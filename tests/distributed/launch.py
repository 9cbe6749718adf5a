"""Running a script under `mpiexec -n 2` (oversubscribed on small machines), with a timeout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = Path(__file__).resolve().parent / "scripts"


def require_mpi() -> None:
    pytest.importorskip("mpi4py", reason="the mpi extra (mpi4py + mpich) is not installed")
    if shutil.which("mpiexec") is None:
        pytest.skip("mpiexec is not on PATH (pip install mpich)")


def mpiexec(script: str, *args, ranks: int = 2, timeout: float = 240, env=None):
    """Run tests/distributed/scripts/<script> on `ranks` ranks; the CompletedProcess."""
    require_mpi()
    environment = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1",
                       GRAPHC_NUM_THREADS="1", **(env or {}))
    command = ["mpiexec", "-n", str(ranks), sys.executable, str(SCRIPTS / script), *map(str, args)]
    return subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True,
                          timeout=timeout)


def check(result) -> str:
    assert result.returncode == 0, f"mpiexec failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout
