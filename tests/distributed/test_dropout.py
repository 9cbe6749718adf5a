"""Dropout, SpatialDropout, Gaussian noise and LSTM dropout under DataParallel on `mpiexec -n
2` draw the masks one process draws for the same global batch (each rank its rows' share of
the global draw), so both train to the same weights, also with uneven shards."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import graphc as gc
from frontend import seeding
from tests.distributed.launch import ROOT, SCRIPTS, check, mpiexec

BACKENDS = ["llvm", "numpy"]


def final_weights(out: str) -> dict:
    return dict(zip(BACKENDS, json.loads(out.strip().splitlines()[-1])))


@pytest.fixture(scope="module")
def one_process() -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, str(SCRIPTS / "dropout_run.py"), *BACKENDS],
                          env=env, capture_output=True, text=True, timeout=400, cwd=ROOT)
    return final_weights(check(done))


def test_two_ranks_train_with_the_masks_of_one_process(one_process):
    two_ranks = final_weights(check(mpiexec("dropout_run.py", *BACKENDS, timeout=400)))
    for backend in BACKENDS:
        assert not np.allclose(one_process[backend][:24], 0)  # the first kernel trained
        np.testing.assert_allclose(two_ranks[backend], one_process[backend], rtol=1e-5,
                                   atol=1e-6, err_msg=backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("rows, first", [(1, 0), (7, 3), (33, 20)])
def test_a_shard_draws_its_rows_of_the_global_draw(backend, rows, first):
    x = gc.placeholder((None, None, 3), "float32")
    key = gc.constant(np.int64(seeding.seed_key(4)))
    draw = gc.function([x], seeding.uniform_rows(key, x), backend=backend)
    xs = np.zeros((first + rows, 5, 3), "float32")
    try:
        seeding.set_first_row(0)
        whole = draw(xs)
        seeding.set_first_row(first)
        np.testing.assert_array_equal(draw(xs[first:]), whole[first:])
    finally:
        seeding.set_first_row(0)
