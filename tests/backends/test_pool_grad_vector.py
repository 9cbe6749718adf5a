"""The max-pooling gradient vectorized along the channels (pool_grad_vector.py: static
geometry) against the NumPy interpreter: channel counts around the vector blocks (1, 7, 33,
257), ties (dy goes to the first tap holding the max), overlapping and padded windows, 1-D,
one and two threads."""

import numpy as np
import pytest

import graphc as gc
from graphc.backends.llvm import emit_pool

from .test_conv_direct import run_on_threads


@pytest.fixture(autouse=True)
def fresh_code(monkeypatch):
    monkeypatch.setenv("GRAPHC_CACHE", "0")


def check(shape, pool, strides=None, padding="valid", batches=(3, 1), ties=False):
    rank = len(shape) - 1
    x = gc.placeholder((None, *shape), "float64", name="x")
    y = (gc.max_pool1d if rank == 1 else gc.max_pool2d)(x, pool, strides, padding)
    r = gc.placeholder((None, *y.shape[1:]), "float64", name="r")
    outputs = [y, gc.grad(gc.sum(y * r), x)]
    llvm = gc.function([x, r], outputs)
    numpy = gc.function([x, r], outputs, backend="numpy")
    for batch in batches:
        rng = np.random.default_rng(batch)
        v = rng.standard_normal((batch, *shape))
        v = np.round(v) if ties else v  # many equal values: the first tap must win
        w = rng.standard_normal((batch, *y.shape[1:]))
        for got, want in zip(llvm(v, w), numpy(v, w)):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("channels", [1, 7, 33, 257])
def test_channel_counts(channels):
    check((5, 6, channels), 2)


def test_ties_go_to_the_first_tap():
    check((7, 7, 3), 2, ties=True)
    check((7, 7, 3), 3, strides=1, ties=True)


@pytest.mark.parametrize("pool,strides,padding", [(3, 1, "same"), ((2, 3), 2, "same"),
                                                   (3, 2, "valid")])
def test_overlapping_and_padded_windows(pool, strides, padding):
    check((7, 8, 5), pool, strides, padding, batches=(7, 1))


def test_one_dimensional():
    check((9, 4), 2)
    check((9, 4), 3, 1, "same", ties=True)


def test_the_vector_kernel_is_the_one_that_runs(monkeypatch):
    calls = []
    real = emit_pool.emit_max_pool_grad_vector
    monkeypatch.setattr(emit_pool, "emit_max_pool_grad_vector",
                        lambda kb, node: calls.append(node.op) or real(kb, node))
    check((4, 4, 2), 2, batches=(1,))
    assert calls == ["max_pool2d_grad"]


THREADS_CODE = """
from tests.backends.test_pool_grad_vector import check
check((7, 7, 33), 3, 1, "same", batches=(1, 7, 33), ties=True)
check((6, 6, 7), 2, batches=(1, 7, 33))
"""


@pytest.mark.parametrize("threads", ["1", "2"])
def test_one_and_two_threads(threads):
    run_on_threads(THREADS_CODE, threads)
