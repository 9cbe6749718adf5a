"""Reverse-mode autodiff: fan-out, broadcasting, integer and non-differentiable paths,
disconnected costs, one sweep per cost, gradients of gradients."""

import numpy as np
import pytest

import graphc as gc
from graphc.testing import numeric_gradient, relative_error
from passes import differentiate


def grad_values(cost, wrt, inputs, *args):
    return gc.function(inputs, gc.grad(cost, wrt), backend="numpy")(*args)


def test_fan_out_sums_contributions():
    x = gc.placeholder((3,), "float64")
    y = gc.sum(x * x + gc.exp(x) * x)
    xv = np.array([0.1, -0.5, 2.0])
    np.testing.assert_allclose(grad_values(y, x, [x], xv), 2 * xv + np.exp(xv) * (1 + xv))


def test_broadcast_operand_gets_reduced_gradient():
    x = gc.placeholder((None, 4), "float64")
    b = gc.shared(np.zeros((1, 4)), name="b")
    c = gc.shared(np.float64(0.0), name="c")
    cost = gc.sum((x + b) * 2 + c)
    gb, gcv = grad_values(cost, [b, c], [x], np.ones((5, 4)))
    np.testing.assert_allclose(gb, np.full((1, 4), 10.0))
    assert gcv == 20.0


def test_integer_inputs_and_argmax_paths_carry_no_gradient():
    x = gc.placeholder((4, 3), "float64")
    labels = gc.placeholder((4,), "int64")
    picked = gc.sum(gc.one_hot(labels, 3, "float64") * x)
    hard = gc.cast(gc.argmax(x, axis=1), "float64")
    cost = picked + gc.sum(hard)
    xv = np.random.default_rng(0).standard_normal((4, 3))
    lv = np.array([0, 2, 1, 2])
    np.testing.assert_allclose(grad_values(cost, x, [x, labels], xv, lv), np.eye(3)[lv])


def test_disconnected_cost_is_a_clear_error_or_zeros():
    x, w = gc.vector("x"), gc.shared(np.ones(3, "float32"), name="w")
    cost = gc.sum(x * 2)
    with pytest.raises(gc.GraphError, match="does not depend on w"):
        gc.grad(cost, w)
    zero = gc.function([x], gc.grad(cost, w, disconnected="zeros"), backend="numpy")
    np.testing.assert_array_equal(zero(np.ones(3)), np.zeros(3))


def test_cost_must_be_a_scalar():
    x = gc.vector("x")
    with pytest.raises(gc.ShapeError, match="scalar"):
        gc.grad(x * 2, x)


def test_one_backward_sweep_serves_every_wrt():
    x = gc.placeholder((None, 3))
    w1 = gc.shared(np.ones((3, 3), "float32"), name="w1")
    w2 = gc.shared(np.ones((3, 1), "float32"), name="w2")
    cost = gc.mean(gc.tanh(x @ w1) @ w2)
    raw = gc.Graph((x,), tuple(gc.grad(cost, [w1, w2])))
    expanded = differentiate(raw)
    assert expanded.count("grad") == 0
    # The shared backward chain (tanh's gradient) is built once, not once per wrt.
    assert expanded.count("tanh") == 1


def test_gradient_of_a_gradient():
    x = gc.placeholder((3,), "float64")
    g = gc.grad(gc.sum(x**3), x)
    h = gc.grad(gc.sum(g), x)  # d/dx sum(3x^2) = 6x
    xv = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(gc.function([x], h, backend="numpy")(xv), 6 * xv)


def test_mlp_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    x = gc.placeholder((None, 5), "float64")
    y = gc.placeholder((None,), "int64")
    w1 = gc.shared(rng.standard_normal((5, 4)) * 0.5, name="w1")
    w2 = gc.shared(rng.standard_normal((4, 3)) * 0.5, name="w2")
    logits = gc.relu(x @ w1) @ w2
    cost = -gc.mean(gc.sum(gc.one_hot(y, 3, "float64") * gc.log_softmax(logits), axis=1))
    xv, yv = rng.standard_normal((6, 5)), rng.integers(0, 3, 6)
    g1 = gc.function([x, y], gc.grad(cost, w1), backend="numpy")(xv, yv)
    f = gc.function([x, y], cost, backend="numpy")

    def loss(values):
        w1.set_value(values[0])
        return float(f(xv, yv))

    start = w1.get_value()
    assert relative_error(g1, numeric_gradient(loss, [start.copy()], 0)) < 1e-6
