"""The Theano-style API: building nodes, operators, errors that name what and where."""

import os
import sys

import numpy as np
import pytest

import graphc as gc


def run(outputs, inputs=(), *args):
    return gc.function(list(inputs), outputs, backend="numpy")(*args)


def test_placeholder_shapes_and_shorthands():
    x = gc.placeholder((None, 784), name="x")
    assert x.shape == (None, 784) and x.dtype == "float32" and x.name == "x"
    assert gc.scalar("s").shape == ()
    assert gc.vector("v", dtype="int64").dtype == "int64"
    assert gc.matrix("m").shape == (None, None)


def test_nodes_are_immutable():
    x = gc.vector("x")
    with pytest.raises(AttributeError, match="immutable"):
        x.shape = (3,)


def test_node_records_the_users_call_site():
    x = gc.vector("x")
    y, line = gc.exp(x), sys._getframe().f_lineno
    assert y.site == f"{__file__}:{line}"


# Each expression is written once and built from nodes and from NumPy arrays alike.
OPERATOR_CASES = {
    "add": lambda a, b: a + b,
    "subtract": lambda a, b: a - b,
    "multiply": lambda a, b: a * b,
    "divide": lambda a, b: a / b,
    "power": lambda a, b: a**2,
    "negative": lambda a, b: -a,
    "abs": lambda a, b: abs(-a),
    "reflected_subtract": lambda a, b: 2 - a,
    "reflected_divide": lambda a, b: 1 / a,
    "transpose": lambda a, b: a.T,
    "index": lambda a, b: a[:, 1],
    "newaxis_and_reversed_slice": lambda a, b: a[None, ::-1],
    "sum": lambda a, b: a.sum(axis=1),
    "mean": lambda a, b: a.mean(),
    "max_keepdims": lambda a, b: a.max(axis=0, keepdims=True),
    "reshape": lambda a, b: a.reshape(3, 2),
    "matmul": lambda a, b: a @ a.T,
}


@pytest.mark.parametrize("expression", OPERATOR_CASES.values(), ids=list(OPERATOR_CASES))
def test_operators_match_numpy(expression):
    a = gc.placeholder((2, 3), "float64", name="a")
    b = gc.placeholder((3,), "float64", name="b")
    av, bv = np.arange(6.0).reshape(2, 3) + 1, np.array([1.0, 2.0, 4.0])
    [got] = run([expression(a, b)], [a, b], av, bv)
    np.testing.assert_allclose(got, expression(av, bv))


def test_comparisons_give_bool_and_equality_is_not_overloaded():
    x = gc.vector("x")
    assert (x < 1).dtype == "bool"
    assert gc.eq(x, 1).dtype == "bool"
    with pytest.raises(TypeError, match="truth value"):
        bool(x < 1)


def test_python_scalars_take_the_tensor_dtype():
    x = gc.vector("x", dtype="float64")
    assert (x * 2).dtype == "float64"
    i = gc.vector("i", dtype="int32")
    assert (i + 1).dtype == "int32"
    with pytest.raises(TypeError, match="float 0.5"):
        i * 0.5


def test_matmul_with_vectors_follows_numpy():
    x = gc.placeholder((4, 3), "float64")
    w = gc.placeholder((3,), "float64")
    xv, wv = np.random.default_rng(0).standard_normal((4, 3)), np.arange(3.0)
    np.testing.assert_allclose(run(gc.dot(x, w), [x, w], xv, wv), xv @ wv)
    np.testing.assert_allclose(run(gc.dot(w, w), [w], wv), wv @ wv)


def test_shape_error_names_op_shapes_dtypes_and_site():
    a, b = gc.placeholder((3, 4)), gc.placeholder((5,))
    with pytest.raises(gc.ShapeError) as err:
        a + b  # the error must point here
    message = str(err.value)
    assert "add" in message and "(3, 4) float32" in message and "(5,) float32" in message
    site_file = message.split("at ")[-1].rstrip(")").rsplit(":", 1)[0]
    # the package's own directory, not the text "graphc/": a clone is itself named graphc/
    package_dir = os.path.dirname(os.path.abspath(gc.__file__)) + os.sep
    assert "test_api.py:" in message and not os.path.abspath(site_file).startswith(package_dir)
    assert os.path.samefile(site_file, __file__)


def test_dtype_error_names_the_op():
    a = gc.placeholder((3,), "float32")
    b = gc.placeholder((3,), "float64")
    with pytest.raises(gc.DtypeError, match=r"mul: .*float32 and float64.*gc.cast"):
        a * b


def test_matmul_inner_dimension_error():
    with pytest.raises(gc.ShapeError, match=r"matmul: inner dimensions 4 and 5"):
        gc.placeholder((3, 4)) @ gc.placeholder((5, 2))


def test_unsupported_indexing_is_explained():
    with pytest.raises(IndexError, match="gc.take"):
        gc.vector("x")[[0, 1]]


def test_shared_get_and_set_value_in_place():
    w = gc.shared(np.zeros((2, 2), "float32"), name="w")
    buffer = w.storage.value
    w.set_value(np.ones((2, 2)))
    assert w.storage.value is buffer and buffer.ctypes.data % 64 == 0
    np.testing.assert_array_equal(w.get_value(), np.ones((2, 2)))
    with pytest.raises(ValueError, match="shape"):
        w.set_value(np.ones(3))


def test_constant_and_eval():
    c = gc.constant(1.5)
    assert c.dtype == "float32"
    x = gc.vector("x")
    np.testing.assert_allclose((x * c).eval({x: np.array([2.0, 4.0], "float32")}), [3.0, 6.0])


def test_random_uniform_is_a_pure_function_of_the_key():
    key, like = gc.scalar("key", dtype="int64"), gc.placeholder((1000,))
    f = gc.function([key, like], gc.random_uniform(key, like), backend="numpy")
    ones = np.ones(1000, "float32")
    a, b, c = f(7, ones), f(7, ones), f(8, ones)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.min() >= 0 and a.max() < 1 and abs(a.mean() - 0.5) < 0.05
