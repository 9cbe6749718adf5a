"""A rank that stalls or dies ends the run with an error instead of a hang; models that differ
across ranks are refused naming the rank and the layer; BackupAndRestore resumes a killed
distributed run; only rank 0 prints."""

import json
import os
import subprocess
import sys
import time

import numpy as np

from tests.distributed.launch import ROOT, SCRIPTS, check, mpiexec


def test_a_stalled_rank_makes_the_others_time_out_with_a_clear_error():
    start = time.monotonic()
    result = mpiexec("faults.py", "stall", env={"GRAPHC_COLLECTIVE_TIMEOUT": "3"}, timeout=100)
    assert result.returncode != 0
    assert time.monotonic() - start < 90
    assert "rank 0 of 2: an allreduce did not complete within 3 s" in result.stderr
    assert "CollectiveTimeout" in result.stderr


def test_a_killed_rank_ends_the_run():
    start = time.monotonic()
    result = mpiexec("faults.py", "kill", timeout=100)
    assert result.returncode != 0
    assert time.monotonic() - start < 90
    assert "Killed (signal 9)" in result.stdout + result.stderr


def test_different_models_are_refused_naming_the_rank_and_the_layer():
    result = mpiexec("faults.py", "mismatch", timeout=100)
    assert result.returncode != 0
    assert ("DataParallel: rank 1 built a different model than rank 0: layer 0 is 'dense' "
            "(weights: dense/kernel (4, 9), dense/bias (9,)) on rank 1 but 'dense' (weights: "
            "dense/kernel (4, 8), dense/bias (8,)) on rank 0") in result.stderr


def test_a_batch_smaller_than_the_ranks_is_refused_clearly():
    result = mpiexec("faults.py", "tiny", timeout=100)
    assert result.returncode != 0
    assert "fit: a batch of 1 samples cannot be shared by 2 ranks" in result.stderr


def test_a_custom_train_step_is_refused_clearly():
    result = mpiexec("faults.py", "custom", timeout=100)
    assert result.returncode != 0
    assert "DataParallel averages the gradients of the built-in train_step" in result.stderr


def test_backup_and_restore_resumes_a_killed_distributed_run(tmp_path):
    backup = tmp_path / "backup"
    killed = mpiexec("faults.py", "backup", backup, 1)
    assert killed.returncode != 0 and (backup / "latest.npz").exists()
    resumed = check(mpiexec("faults.py", "backup", backup, 0))
    assert resumed.count("Epoch 3/4") == 1 and "Epoch 1/4" not in resumed  # rank 0 alone prints
    got = json.loads(resumed.strip().splitlines()[-1])
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    whole = subprocess.run([sys.executable, str(SCRIPTS / "faults.py"), "backup",
                            str(tmp_path / "one"), "0"], env=env, capture_output=True, text=True,
                           timeout=240, cwd=ROOT)
    want = json.loads(check(whole).strip().splitlines()[-1])
    assert len(got["history"]["loss"]) == 2  # epochs 3 and 4 only
    np.testing.assert_allclose(got["weights"], want["weights"], rtol=1e-4, atol=2e-6)
    np.testing.assert_allclose(got["history"]["loss"], want["history"]["loss"][2:], rtol=1e-4)
