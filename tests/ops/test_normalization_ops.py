"""gc.layer_norm beyond its op-table cases: many rows split across threads, an unknown batch
size, rows of very different scales, and its gradient through a compiled training graph."""

import numpy as np
import pytest

import graphc as gc
from tests.frontend.conftest import BACKENDS
from tests.frontend.layer_checks import assert_gradients_match

RNG = np.random.default_rng(6)


def reference(x, epsilon):
    centered = x - x.mean(-1, keepdims=True)
    return centered / np.sqrt((centered**2).mean(-1, keepdims=True) + epsilon)


@pytest.mark.parametrize("backend", BACKENDS)
def test_many_rows_of_different_scales(backend):
    x = RNG.standard_normal((64, 33, 40)) * np.logspace(-3, 3, 33)[None, :, None]
    x = (x + 10.0).astype("float32")  # an offset the variance must not see
    xs = gc.placeholder((None, 33, 40))
    got = gc.function([xs], gc.layer_norm(xs, 1e-5), backend=backend)(x)
    np.testing.assert_allclose(got, reference(x.astype("float64"), 1e-5), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradient_against_finite_differences(backend):
    x = RNG.standard_normal((4, 6))
    assert_gradients_match(backend, lambda v: gc.layer_norm(v, 1e-3) * 2.0, [x])


def test_refuses_integers_and_scalars():
    with pytest.raises(gc.DtypeError):
        gc.layer_norm(gc.placeholder((2, 3), "int32"))
    with pytest.raises(gc.ShapeError, match="scalar"):
        gc.layer_norm(gc.placeholder(()))
