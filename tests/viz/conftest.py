import numpy as np
import pytest

import frontend.backend
import graphc as gc


@pytest.fixture
def no_dot(monkeypatch, tmp_path):
    """A PATH on which graphviz's `dot` cannot be found."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


@pytest.fixture
def train_step():
    """A two-layer training step (numpy backend): loss output, SGD updates of W1, b1, W2."""
    rng = np.random.default_rng(0)
    x, y = gc.matrix("x"), gc.matrix("y")
    w1 = gc.shared(rng.normal(size=(4, 8)).astype("float32"), name="W1")
    b1 = gc.shared(np.zeros(8, "float32"), name="b1")
    w2 = gc.shared(rng.normal(size=(8, 3)).astype("float32"), name="W2")
    probs = gc.softmax(gc.relu(x @ w1 + b1) @ w2)
    loss = -gc.mean(gc.sum(y * gc.log(probs), axis=1))
    params = [w1, b1, w2]
    grads = gc.grad(loss, params)
    updates = [(w, w - 0.1 * g) for w, g in zip(params, grads)]
    return gc.function([x, y], loss, updates=updates, backend="numpy", name="train_step")


@pytest.fixture(autouse=True)
def fresh_layer_names():
    """Each test names its layers from 'dense' again, and leaves no names to later modules."""
    frontend.backend.clear_session()
    yield
    frontend.backend.clear_session()
