"""gc.allreduce: the program split into compiled phases around the reduction, on one process
(the reduction is the identity) and under mpiexec -n 2."""

import json

import numpy as np
import pytest

import graphc as gc
from graphc.distributed.split import split
from passes.autodiff import differentiate
from tests.distributed.launch import check, mpiexec
from tests.distributed.scripts.theano_loop import train


def linear_model():
    W = gc.shared(np.arange(6, dtype=np.float32).reshape(3, 2) / 10, name="W")
    x = gc.placeholder((None, 3), name="x")
    return W, x, gc.sum(gc.tanh(gc.matmul(x, W)))


@pytest.mark.parametrize("backend", ["llvm", "numpy"])
def test_one_rank_allreduce_is_the_identity(backend):
    W, x, loss = linear_model()
    data = np.random.default_rng(1).normal(size=(7, 3)).astype(np.float32)
    plain = gc.function([x], [loss, gc.grad(loss, W)], backend=backend)(data)
    reduced = gc.allreduce(gc.grad(loss, W), op="sum")
    phased = gc.function([x], [loss, reduced], backend=backend)
    assert len(phased.phases) == 2
    for got, want in zip(phased(data), plain):
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_updates_are_stored_once_from_the_reduced_values():
    W, x, loss = linear_model()
    before = W.get_value()
    g = gc.allreduce(gc.grad(loss, W))
    step = gc.function([x], loss, updates=[(W, W - 0.5 * g)], backend="numpy")
    data = np.ones((1, 3), np.float32)
    want = before - 0.5 * gc.function([x], gc.grad(loss, W), backend="numpy")(data)
    step(data)
    np.testing.assert_allclose(W.get_value(), want, rtol=1e-6)


def test_gradient_through_an_allreduce_is_reduced_again():
    W, x, _ = linear_model()
    loss = gc.sum(gc.allreduce(gc.matmul(x, W), op="mean") ** 2)
    phases = split(differentiate(gc.Graph((x,), (gc.grad(loss, W),))))
    assert len(phases) == 3  # forward, its reduction, backward, the gradient's reduction
    data = np.ones((2, 3), np.float32)
    got = gc.function([x], gc.grad(loss, W), backend="numpy")(data)
    want = data.T @ (2 * data @ W.get_value())
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_no_node_is_computed_in_two_phases():
    W, x, loss = linear_model()
    step = gc.function([x], loss, updates=[(W, W - gc.allreduce(gc.grad(loss, W)))],
                       backend="numpy")
    counts = [p.graph.count("tanh") + p.graph.count("matmul") for p in step.phases]
    assert counts[1] == 0 and counts[0] >= 2  # the forward and the backward, in phase 0 only


def test_an_unknown_reduction_names_the_argument():
    with pytest.raises(ValueError, match=r"gc.allreduce: op must be one of .*op='max'"):
        gc.allreduce(gc.placeholder((2,)), op="max")


def test_integers_are_refused():
    with pytest.raises(gc.DtypeError, match="allreduce"):
        gc.allreduce(gc.placeholder((2,), dtype="int64"))


@pytest.mark.parametrize("backend", ["llvm", "numpy"])
def test_two_ranks_with_half_batches_equal_one_process(backend):
    out = check(mpiexec("theano_loop.py", backend))
    two_ranks = np.array(json.loads(out.strip().splitlines()[-1]))
    np.testing.assert_allclose(two_ranks, train(backend, 0, 1).ravel(), rtol=1e-5, atol=1e-6)


def three_layers():
    rng = np.random.default_rng(4)
    params = [gc.shared(rng.normal(size=shape).astype("f"), name=f"W{k}")
              for k, shape in enumerate([(5, 6), (6, 4), (4, 1)])]
    x = gc.placeholder((None, 5), name="x")
    h = x
    for W in params:
        h = gc.tanh(gc.matmul(h, W))
    return params, x, gc.sum(h)


@pytest.mark.parametrize("backend", ["llvm", "numpy"])
def test_buckets_reduce_the_last_layers_first_without_computing_twice(backend):
    params, x, loss = three_layers()
    grads = gc.grad(loss, params)
    plain = gc.function([x], grads, backend=backend)
    bucketed = gc.function(
        [x], [gc.allreduce(g, bucket=b) for g, b in zip(grads, [1, 0, 0])], backend=backend)
    assert len(bucketed.phases) == 3  # bucket 0, bucket 1 (W0's gradient), the outputs
    assert [len(p.reductions) for p in bucketed.phases] == [2, 1, 0]
    tanh_counts = [p.graph.count("tanh") for p in bucketed.phases]
    assert tanh_counts[0] == 3 and tanh_counts[1:] == [0, 0]  # the forward runs once
    data = np.random.default_rng(5).normal(size=(7, 5)).astype("f")
    for got, want in zip(bucketed(data), plain(data)):
        np.testing.assert_allclose(got, want, rtol=1e-5)


def test_bad_buckets_and_nested_reductions_are_refused():
    x = gc.placeholder((2,))
    with pytest.raises(ValueError, match=r"bucket must be a non-negative integer.*bucket=-1"):
        gc.allreduce(x, bucket=-1)
    with pytest.raises(ValueError, match="its input is an allreduce already"):
        gc.allreduce(gc.allreduce(x))
