"""Shared fixtures: a fresh naming session and seed per test, small synthetic data."""

import numpy as np
import pytest

import frontend as keras


@pytest.fixture(autouse=True)
def fresh_session():
    keras.backend.clear_session()
    keras.utils.set_random_seed(1234)
    previous = keras.backend.default_backend()
    keras.backend.set_default_backend("numpy")  # uncompiled models predict with the interpreter
    yield
    keras.backend.set_default_backend(previous)
    keras.backend.clear_session()  # later test modules see fresh layer names


def llvm_available() -> bool:
    try:
        import graphc.backends.llvm as llvm
    except ImportError:
        return False
    return hasattr(llvm, "compile")


BACKENDS = [
    "numpy",
    pytest.param(
        "llvm",
        marks=pytest.mark.skipif(
            not llvm_available(), reason="graphc.backends.llvm cannot be imported yet"
        ),
    ),
]


def digits_like(n=300, features=784, classes=10, seed=0):
    """Synthetic 'MNIST-like' data: class-dependent means plus noise, in [0, 1]."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    centers = rng.random((classes, features))
    x = np.clip(centers[labels] + 0.3 * rng.standard_normal((n, features)), 0, 1)
    return x.astype("float32"), labels
