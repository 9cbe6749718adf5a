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


def one_process(*args) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, str(SCRIPTS / "fit_run.py"), *map(str, args)],
                            env=env, capture_output=True, text=True, timeout=240, cwd=ROOT)
    return json.loads(check(result).strip().splitlines()[-1])


def two_ranks(*args) -> dict:
    return json.loads(check(mpiexec("fit_run.py", *args)).strip().splitlines()[-1])


def assert_same_training(got: dict, want: dict) -> None:
    np.testing.assert_allclose(got["weights"], want["weights"], rtol=1e-4, atol=2e-6)
    for key in ("evaluate", "train_on_batch"):
        np.testing.assert_allclose(got[key], want[key], rtol=1e-4, atol=1e-6, err_msg=key)
    assert got["history"].keys() == want["history"].keys()
    for key, values in want["history"].items():
        np.testing.assert_allclose(got["history"][key], values, rtol=1e-4, atol=1e-6, err_msg=key)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam", "rmsprop"])
def test_two_ranks_train_like_one_process(optimizer):
    args = (optimizer, "llvm", 22, 88)
    assert_same_training(two_ranks(*args), one_process(*args))


@pytest.mark.parametrize("batch_size, samples", [(21, 70), (16, 35)])
def test_uneven_shards_are_weighed_by_their_samples(batch_size, samples):
    args = ("adam", "numpy", batch_size, samples)  # odd batches; last batches of 7 and 3
    assert_same_training(two_ranks(*args), one_process(*args))


def test_gradients_reduced_in_buckets_train_the_same():
    args = ("momentum", "llvm", 22, 88)
    assert_same_training(two_ranks(*args, 3), one_process(*args))
