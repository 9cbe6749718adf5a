"""A fresh naming session per test (later test modules expect fresh layer names) and a seed."""

import pytest

import frontend as keras


@pytest.fixture(autouse=True)
def fresh_session():
    keras.backend.clear_session()
    keras.utils.set_random_seed(1234)
    yield
    keras.backend.clear_session()
