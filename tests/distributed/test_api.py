"""frontend.distribution on one process (no mpiexec): Keras 3's names, clear refusals, fit
unchanged; and graphc and the frontend import without mpi4py."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import frontend as keras
from frontend import distribution
from tests.distributed.launch import ROOT


@pytest.fixture(autouse=True)
def no_distribution_after():
    yield
    distribution.set_distribution(None)


def test_one_process_has_one_device_and_no_distribution_by_default():
    assert distribution.list_devices() == ["cpu:0"]
    assert distribution.list_devices("cpu") == ["cpu:0"]
    assert distribution.distribution() is None
    data_parallel = distribution.DataParallel(devices=["cpu:0"])
    distribution.set_distribution(data_parallel)
    assert distribution.distribution() is data_parallel
    assert (data_parallel.num_processes, data_parallel.process_id) == (1, 0)


@pytest.mark.parametrize("kwargs, message", [
    ({"devices": ["cpu:0", "cpu:1"]}, r"devices must be all MPI ranks \['cpu:0'\]"),
    ({"device_mesh": "mesh"}, r"Received: device_mesh='mesh'"),
    ({"auto_shard_dataset": False}, r"auto_shard_dataset must be True"),
    ({"gradient_buckets": 0}, r"gradient_buckets must be a positive integer.*=0"),
])
def test_data_parallel_refuses_what_it_cannot_do(kwargs, message):
    with pytest.raises(ValueError, match=message):
        distribution.DataParallel(**kwargs)


def test_bad_arguments_name_what_was_received():
    with pytest.raises(ValueError, match=r"device_type='gpu'"):
        distribution.list_devices("gpu")
    with pytest.raises(TypeError, match=r"set_distribution expects a DataParallel.*'tpu'"):
        distribution.set_distribution("tpu")


def fit_weights(data_parallel: bool) -> list:
    distribution.set_distribution(distribution.DataParallel() if data_parallel else None)
    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile("adam", "mse", backend="numpy")
    x = np.random.default_rng(0).normal(size=(33, 3)).astype("float32")
    model.fit(x, x[:, :2], batch_size=7, epochs=2, verbose=0)
    return model.get_weights()


def test_one_process_with_data_parallel_trains_unchanged():
    for got, want in zip(fit_weights(True), fit_weights(False)):
        np.testing.assert_array_equal(got, want)


def test_graphc_and_the_frontend_import_and_train_without_mpi4py():
    code = textwrap.dedent("""
        import sys
        sys.modules["mpi4py"] = None  # any import of it fails
        import numpy as np, graphc as gc, frontend as keras
        from frontend import distribution
        distribution.set_distribution(distribution.DataParallel())
        x = gc.placeholder((2,))
        f = gc.function([x], gc.allreduce(x * 2.0, op="mean"))
        assert f(np.ones(2, "f")).tolist() == [2.0, 2.0]
        print("ok")
    """)
    env = {k: v for k, v in os.environ.items() if k not in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE")}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.stdout.strip() == "ok", result.stderr
