"""Fixtures of the tutorial tests: offline MNIST shrunk to N_TRAIN/N_TEST digits, the
backend each tutorial runs on, and a temporary working directory for tutorials that save."""

import pytest

import frontend

from ..conftest import BACKENDS
from .helpers import N_TEST, N_TRAIN


@pytest.fixture(scope="module", autouse=True)
def offline(tmp_path_factory):
    """load_data() without the network (a hanging one must not stall the tests) and without
    touching ~/.graphc: it returns the packaged 5k-digit sample."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRAPHC_OFFLINE", "1")
        patch.setenv("GRAPHC_HOME", str(tmp_path_factory.mktemp("graphc_home")))
        yield


@pytest.fixture(scope="module")
def data(offline):
    """`mnist.load_data()`, shrunk to 500 training and 200 test digits."""
    from frontend.datasets import mnist

    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    return (x_train[:N_TRAIN], y_train[:N_TRAIN]), (x_test[:N_TEST], y_test[:N_TEST])


@pytest.fixture(params=BACKENDS)
def backend(request):
    """Run the tutorial's unchanged compile() call on this graphc backend."""
    frontend.backend.set_default_backend(request.param)
    frontend.utils.set_random_seed(1)
    return request.param


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Tutorials save to the working directory: make that a fresh temporary one."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
