"""gc.function: inputs are checked, outputs returned, updates applied Theano-style."""

import io

import numpy as np
import pytest

import graphc as gc


def test_updates_are_computed_from_old_values_then_applied():
    a = gc.shared(np.array(1.0, "float32"), name="a")
    b = gc.shared(np.array(10.0, "float32"), name="b")
    swap = gc.function([], [a + b], updates=[(a, b), (b, a)], backend="numpy")
    assert swap()[0] == 11.0
    assert a.get_value() == 10.0 and b.get_value() == 1.0


def test_single_output_is_returned_bare_list_as_list():
    x = gc.vector("x")
    assert isinstance(gc.function([x], x * 2, backend="numpy")(np.ones(2)), np.ndarray)
    assert isinstance(gc.function([x], [x * 2], backend="numpy")(np.ones(2)), list)


def test_wrong_argument_count_names_the_inputs():
    x, y = gc.vector("x"), gc.vector("y")
    f = gc.function([x, y], x + y, backend="numpy")
    with pytest.raises(TypeError, match=r"expects 2 arguments \(x, y\), got 1"):
        f(np.ones(2))


def test_wrong_shape_names_the_input():
    x = gc.placeholder((None, 3), name="x")
    f = gc.function([x], x * 2, backend="numpy")
    with pytest.raises(
        ValueError, match=r"input 0 \('x'\): expected shape \(None, 3\), got \(2, 4\)"
    ):
        f(np.ones((2, 4)))


def test_uncastable_dtype_names_the_input():
    i = gc.vector("labels", dtype="int64")
    f = gc.function([i], i + 1, backend="numpy")
    with pytest.raises(TypeError, match=r"labels.*float64 to int64"):
        f(np.ones(2))
    with pytest.raises(TypeError, match="labels"):
        f(np.array(["a", "b"]))


def test_float64_data_is_cast_to_a_float32_input_and_nan_is_not_an_error():
    x = gc.vector("x")
    out = gc.function([x], x + 1, backend="numpy")(np.array([np.nan, 1.0]))
    assert out.dtype == np.float32 and np.isnan(out[0]) and out[1] == 2


def test_update_must_match_the_variable():
    w = gc.shared(np.zeros(3, "float32"), name="w")
    with pytest.raises(ValueError, match=r"update of 'w'"):
        gc.function([], [], updates=[(w, gc.placeholder((4,)))], backend="numpy")


def test_unknown_backend_and_missing_input():
    x, y = gc.vector("x"), gc.vector("y")
    with pytest.raises(ValueError, match="backend"):
        gc.function([x], x, backend="cuda")
    with pytest.raises(gc.GraphError, match="placeholder 'y'.*not among the function's inputs"):
        gc.function([x], x + y, backend="numpy")


def test_stages_are_kept_and_printed():
    x = gc.placeholder((None, 3), name="x")
    w = gc.shared(np.ones((3, 2), "float32"), name="w")
    cost = gc.mean(gc.log(gc.softmax(x @ w)))
    f = gc.function([x], cost, updates=[(w, w - 0.1 * gc.grad(cost, w))], backend="numpy")
    assert f.stages[:3] == ["raw", "grad", "optimized"]
    assert f.graph("raw").count("grad") == 1 and f.graph("grad").count("grad") == 0
    assert f.graph("optimized").count("log_softmax") == 1  # stabilised
    text = gc.debugprint(f, file=io.StringIO())
    for stage in ("raw", "grad", "optimized"):
        assert f"=== stage {stage}" in text
    with pytest.raises(KeyError, match="stages are"):
        f.graph("nope")


def test_logistic_regression_learns_with_updates():
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((400, 5)).astype("float32")
    true_w = np.array([1.5, -2.0, 0.5, 0.0, 1.0], "float32")
    ys = (xs @ true_w + 0.1 * rng.standard_normal(400) > 0).astype("float32")
    x, y = gc.matrix("x"), gc.vector("y")
    w = gc.shared(np.zeros(5, "float32"), name="w")
    b = gc.shared(np.float32(0.0), name="b")
    p = gc.sigmoid(gc.dot(x, w) + b)
    cost = -gc.mean(y * gc.log(p) + (1 - y) * gc.log(1 - p))
    gw, gb = gc.grad(cost, [w, b])
    train = gc.function(
        [x, y], cost, updates=[(w, w - 0.5 * gw), (b, b - 0.5 * gb)], backend="numpy"
    )
    first = train(xs, ys)
    for _ in range(200):
        last = train(xs, ys)
    accuracy = np.mean((xs @ w.get_value() + b.get_value() > 0) == ys)
    assert last < first / 3 and accuracy > 0.95
