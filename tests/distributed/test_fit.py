"""fit (then evaluate and train_on_batch) under DataParallel on `mpiexec -n 2` trains the
model one process trains with the same global batch: same weights (to float tolerance), same
history (metrics combined from summed states), for each optimizer family; uneven shards are
weighed exactly."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.distributed.launch import ROOT, SCRIPTS, check, mpiexec

# [optimizer, backend, global batch, samples, gradient buckets]: one launch runs them all
RUNS = {
    "sgd": ["sgd", "llvm", 22, 88, 1],
    "momentum": ["momentum", "llvm", 22, 88, 1],
    "adam": ["adam", "llvm", 22, 88, 1],
    "rmsprop": ["rmsprop", "llvm", 22, 88, 1],
    # shares that differ by one: batches of 21 (52 training samples: 21, 21, 10) and a last
    # batch of 11 (27 training samples: 16, 11)
    "uneven 21": ["adam", "numpy", 21, 70, 1],
    "uneven 16": ["adam", "numpy", 16, 36, 1],
    "3 buckets": ["momentum", "llvm", 22, 88, 3],
}


def by_run(out: str) -> dict:
    return dict(zip(RUNS, json.loads(out.strip().splitlines()[-1])))


@pytest.fixture(scope="module")
def one_process() -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    command = [sys.executable, str(SCRIPTS / "fit_run.py"), json.dumps(list(RUNS.values()))]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=400, cwd=ROOT)
    return by_run(check(done))


@pytest.fixture(scope="module")
def two_ranks() -> dict:
    return by_run(check(mpiexec("fit_run.py", json.dumps(list(RUNS.values())), timeout=400)))


@pytest.mark.parametrize("run", list(RUNS))
def test_two_ranks_train_like_one_process(run, one_process, two_ranks):
    # one process first: it compiles each kernel once into the cache the two ranks then read
    got, want = two_ranks[run], one_process[run]
    np.testing.assert_allclose(got["weights"], want["weights"], rtol=1e-4, atol=2e-6)
    for key in ("evaluate", "train_on_batch"):
        np.testing.assert_allclose(got[key], want[key], rtol=1e-4, atol=1e-6, err_msg=key)
    assert got["history"].keys() == want["history"].keys()
    for key, values in want["history"].items():
        np.testing.assert_allclose(got["history"][key], values, rtol=1e-4, atol=1e-6, err_msg=key)
