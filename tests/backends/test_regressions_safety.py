"""Regression tests of issue 10 (safety of the compiled backend): each reproducer of the
issue, run on both backends."""

import threading

import numpy as np
import pytest

import graphc as gc

BACKENDS = ["numpy", "llvm"]


# -- defect 9: two functions updating one shared variable from two threads ---------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_two_functions_updating_one_variable_from_two_threads_lose_no_update(backend):
    counter = gc.shared(np.zeros((), "f8"), name="counter")
    adders = [gc.function([], [], updates=[(counter, counter + 1.0)], backend=backend)
              for _ in range(2)]
    calls = 300

    def work(f):
        for _ in range(calls):
            f()

    threads = [threading.Thread(target=work, args=(f,)) for f in adders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counter.get_value() == 2 * calls


def test_functions_locking_overlapping_variables_in_opposite_orders_do_not_deadlock():
    a = gc.shared(np.zeros(100, "f8"), name="a")
    b = gc.shared(np.zeros(100, "f8"), name="b")
    a_then_b = gc.function([], [], updates=[(a, a + 1.0), (b, b + 1.0)])
    b_then_a = gc.function([], [], updates=[(b, b + 1.0), (a, a + 1.0)])
    calls = 200

    def work(f):
        for _ in range(calls):
            f()

    threads = [threading.Thread(target=work, args=(f,), daemon=True)
               for f in (a_then_b, b_then_a)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "deadlock"
    for var in (a, b):
        np.testing.assert_array_equal(var.get_value(), np.full(100, 2 * calls))


# -- defect 11: max/argmax over an empty axis; narrowing integer inputs ---------------------

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("op", ["max", "min", "argmax", "argmin"])
def test_reductions_without_identity_over_an_empty_axis_raise(backend, op):
    a = gc.placeholder((None, 4), name="a")
    f = gc.function([a], getattr(gc, op)(a, axis=0), backend=backend)
    with pytest.raises(ValueError, match=rf"{op} over an empty axis.*\(0, 4\).*test_regressions"):
        f(np.ones((0, 4), "f4"))
    assert f(np.ones((2, 4), "f4")).shape == (4,)  # the failed call left nothing behind


@pytest.mark.parametrize("op", ["max", "argmin"])
def test_a_static_empty_axis_is_refused_when_the_graph_is_built(op):
    a = gc.placeholder((None, 0), name="a")
    with pytest.raises(ValueError, match=rf"{op} over an empty axis.*test_regressions"):
        getattr(gc, op)(a, axis=1)


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_over_an_empty_run_time_axis_is_the_same_error_on_both_backends(op):
    a = gc.placeholder((None, None), name="a")
    for backend in BACKENDS:
        f = gc.function([a], getattr(gc, op)(a, axis=1) * 2.0, backend=backend)
        with pytest.raises(ValueError, match=r"empty axis.*\(2, 0\).*test_regressions"):
            f(np.ones((2, 0), "f4"))
        assert f(np.ones((0, 3), "f4")).shape == (0, 3)


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_arrays_whose_reduced_axes_are_not_empty_reduce_to_empty(backend):
    a = gc.placeholder((None, 4), name="a")
    f = gc.function([a], [gc.max(a, axis=1), gc.argmin(a, axis=1), gc.sum(a, axis=0)],
                    backend=backend)
    biggest, smallest_at, total = f(np.ones((0, 4), "f4"))
    assert biggest.shape == smallest_at.shape == (0,)
    np.testing.assert_array_equal(total, np.zeros(4))


@pytest.mark.parametrize("backend", BACKENDS)
def test_int64_values_that_do_not_fit_an_int32_input_raise(backend):
    i = gc.placeholder((3,), dtype="int32", name="ids")
    f = gc.function([i], i + 1, backend=backend)
    with pytest.raises(OverflowError, match=r"input 0 \('ids'\).*1099511627781.*int32"):
        f(np.array([2**40 + 5, 1, 2], "int64"))
    with pytest.raises(OverflowError, match="-2147483649"):
        f(np.array([-(2**31) - 1, 1, 2], "int64"))
    np.testing.assert_array_equal(f(np.array([2**31 - 2, -(2**31), 0], "int64")),
                                  [2**31 - 1, -(2**31) + 1, 1])


@pytest.mark.parametrize("backend", BACKENDS)
def test_narrowing_casts_follow_numpy_same_kind(backend):
    n = gc.placeholder((2,), dtype="int64", name="n")
    f = gc.function([n], n + 1, backend=backend)
    with pytest.raises(OverflowError, match="9223372036854775809"):
        f(np.array([2**63 + 1, 3], "uint64"))
    np.testing.assert_array_equal(f(np.array([5, 3], "uint64")), [6, 4])
    x = gc.placeholder((2,), dtype="int32", name="x")
    with pytest.raises(TypeError, match="float64 to int32"):
        gc.function([x], x * 2, backend=backend)(np.array([1.5, 2.0]))
    y = gc.placeholder((2,), dtype="float32", name="y")  # float64 -> float32 is same kind
    np.testing.assert_array_equal(gc.function([y], y * 2, backend=backend)(np.array([1.5, 2.0])),
                                  [3.0, 4.0])


# -- defect 5: compiler crashes -------------------------------------------------------------

def on_both_backends(inputs, output, *arrays):
    """The output on both backends (they must agree)."""
    results = [gc.function(inputs, output, backend=b)(*arrays) for b in BACKENDS]
    np.testing.assert_allclose(results[1], results[0], rtol=1e-12, atol=1e-12)
    return results[0]


def test_gradient_through_an_index_of_a_size_1_vector_compiles():
    """A size-1 value recomputed in a scalar loop (was an AssertionError in passes/views.py)."""
    x = gc.placeholder((1,), dtype="float64")
    g = gc.grad(gc.sum(gc.relu((x * 2.0)[0])), x)
    np.testing.assert_array_equal(on_both_backends([x], g, np.array([0.5])), [2.0])
    np.testing.assert_array_equal(on_both_backends([x], g, np.array([-0.5])), [0.0])


def test_gradient_through_a_reshaped_slice_of_a_concatenation_compiles():
    """A value that must be copied out of a strided view, read by a later loop (was a
    KeyError in passes/fuse_groups.py)."""
    a = gc.placeholder((None, 4), dtype="float64")
    b = gc.placeholder((None, 5), dtype="float64")
    joined = gc.concatenate([a, gc.reshape(b * 2.0, (-1, 5))], axis=1)
    g = gc.grad(gc.sum(gc.sin(joined)), b)
    rng = np.random.default_rng(0)
    a_value, b_value = rng.normal(size=(3, 4)), rng.normal(size=(3, 5))
    np.testing.assert_allclose(on_both_backends([a, b], g, a_value, b_value),
                               2.0 * np.cos(2.0 * b_value), rtol=1e-12)


# -- defect 1: a kernel writing an update in place must not feed new values to old readers --

ROWS, COLS = 12, 16  # more than 64 elements: the update may be written in place


def issue_gradient_step(W, x):
    gx, gW = gc.grad(gc.sum(x * W), [x, W])
    return gx, W - gW


# name -> (W, x) -> (output, new value of W); x has shape (COLS,)
OLD_VALUE_READERS = {
    "issue reproducer": issue_gradient_step,
    "same kernel, read after the store": lambda W, x: ((W * 2.0) * W, W * 2.0),
    "same kernel, another output": lambda W, x: (gc.tanh(W + x) + W, W + x),
    "same kernel, reduction after the store": lambda W, x: (gc.sum((W * 2.0) * W, axis=0),
                                                             W * 2.0),
    "same kernel, sums of old and new": lambda W, x: (
        gc.sum(W, axis=0) + gc.sum(W - 0.5 * x, axis=0), W - 0.5 * x),
    "later kernel": lambda W, x: (gc.tanh(W) @ gc.reshape(x, (COLS, 1)), W * 0.5),
    "view of the variable": lambda W, x: (W.T * 1.0, W + 1.0),
    "reversed view in the update": lambda W, x: (gc.sum(W), W[::-1] + x),
    "transposed view, same kernel": lambda W, x: (
        gc.reshape(W.T, (ROWS, COLS)) + W, W * 3.0),
    "reduction of it": lambda W, x: (gc.max(W, axis=1), W - gc.mean(W, axis=0, keepdims=True)),
    "softmax of it": lambda W, x: (gc.softmax(W), W + x),
    "reduction into the variable": lambda W, x: (
        W * 1.0, gc.reshape(gc.sum(W, axis=0), (1, COLS)) + W * 0.0),
    "reduction accumulating into the variable": lambda W, x: (
        gc.sum(W), gc.sum(gc.reshape(W, (1, ROWS, COLS)) * np.full((2, 1, 1), 0.75), axis=0)),
    "the variable itself": lambda W, x: (W, W * 2.0),
    "momentum pair": lambda W, x: (gc.sum(W * x), W - 0.1 * (W * x)),
}


@pytest.mark.parametrize("case, shape", [(c, (ROWS, COLS)) for c in sorted(OLD_VALUE_READERS)]
                         + [(c, (2, 3)) for c in ("issue reproducer", "momentum pair")])
def test_updates_written_in_place_are_not_read_as_old_values(case, shape):
    """llvm equals the interpreter: outputs, and the variable after two calls (a (2, 3)
    variable is copied at the end instead of written in place)."""
    start = np.arange(np.prod(shape), dtype="f8").reshape(shape) / 10.0
    x_value = np.linspace(-1.0, 1.0, shape[1])
    results = []
    for backend in BACKENDS:
        W = gc.shared(start.copy(), name="W")
        x = gc.placeholder((shape[1],), dtype="float64", name="x")
        output, new_value = OLD_VALUE_READERS[case](W, x)
        f = gc.function([x], output, updates=[(W, new_value)], backend=backend)
        results.append([np.array(f(x_value)), np.array(f(x_value)), W.get_value()])
    for llvm_value, reference in zip(results[1], results[0]):
        np.testing.assert_allclose(llvm_value, reference, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_issue_reproducer_gradient_is_computed_from_the_old_weights(backend):
    x = gc.placeholder((3,))
    W = gc.shared(np.ones((2, 3), "f4"))
    gx, gW = gc.grad(gc.sum(x * W), [x, W])
    out = gc.function([x], gx, updates=[(W, W - gW)], backend=backend)(np.full(3, 5, "f4"))
    np.testing.assert_array_equal(out, [2, 2, 2])
    np.testing.assert_array_equal(W.get_value(), np.full((2, 3), -4))


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_variable_that_is_updated_but_never_read_compiles(backend):
    """Its update target is not among the graph's nodes (was a KeyError in the program
    cache's fingerprint)."""
    x = gc.placeholder((100,), dtype="float64")
    last = gc.shared(np.zeros(100), name="last")
    f = gc.function([x], gc.sum(x), updates=[(last, x * 2.0)], backend=backend)
    assert f(np.arange(100.0)) == 4950.0
    np.testing.assert_array_equal(last.get_value(), np.arange(100.0) * 2.0)


def test_two_updates_in_one_kernel_each_read_the_other_variables_old_value():
    results = []
    for backend in BACKENDS:
        W = gc.shared(np.linspace(0.0, 1.0, ROWS * COLS).reshape(ROWS, COLS), name="W")
        V = gc.shared(np.linspace(2.0, 3.0, ROWS * COLS).reshape(ROWS, COLS), name="V")
        f = gc.function([], [], updates=[(W, W + V), (V, V - W * 2.0)], backend=backend)
        f()
        f()
        results.append((W.get_value(), V.get_value()))
    for llvm_value, reference in zip(results[1], results[0]):
        np.testing.assert_allclose(llvm_value, reference, rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_output_equal_to_an_update_of_a_variable_that_is_never_read(backend):
    """The output is copied from the variable written in place, which no node reads (was a
    KeyError when the run-time shapes were computed)."""
    x = gc.placeholder((100,), dtype="float64")
    last = gc.shared(np.zeros(100), name="last")
    doubled = x * 2.0
    f = gc.function([x], doubled, updates=[(last, doubled)], backend=backend)
    np.testing.assert_array_equal(f(np.arange(100.0)), np.arange(100.0) * 2.0)
    np.testing.assert_array_equal(last.get_value(), np.arange(100.0) * 2.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_old_value_recomputed_in_the_pass_that_stores_the_new_one(backend):
    """V * W is not stored: loop_kernel.py computes it in the pass of the output that needs
    it, after the new W (which needs a mean first) is stored there."""
    W = gc.shared(np.linspace(-1.0, 1.0, 90).reshape(9, 10), name="W")
    V = gc.shared(np.linspace(2.0, -2.0, 90).reshape(9, 10), name="V")
    x = gc.placeholder((9, 10), dtype="float64", name="x")
    new_W = x + gc.mean(x, axis=0, keepdims=True)
    f = gc.function([x], (V * W) * new_W, updates=[(W, new_W)], backend=backend)
    x_value = np.cos(np.arange(90.0)).reshape(9, 10)
    expected_W = x_value + x_value.mean(axis=0, keepdims=True)
    np.testing.assert_allclose(f(x_value), (V.get_value() * np.linspace(-1.0, 1.0, 90).reshape(
        9, 10)) * expected_W, rtol=1e-12)
    np.testing.assert_allclose(W.get_value(), expected_W, rtol=1e-12)
