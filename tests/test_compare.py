"""graphc.compare: interpreted vs compiled, per output, update and kernel."""

import numpy as np

import graphc as gc


def small_training_step():
    x = gc.placeholder((None, 6), name="x")
    y = gc.placeholder((None, 3), name="y")
    W = gc.shared(np.random.default_rng(0).standard_normal((6, 3)).astype("f4"), name="W")
    loss = -gc.mean(gc.sum(y * gc.log_softmax(gc.tanh(x @ W)), axis=1))
    return [x, y], loss, [(W, W - 0.1 * gc.grad(loss, W))], W


def data():
    rng = np.random.default_rng(1)
    return rng.standard_normal((5, 6)).astype("f4"), np.eye(3, dtype="f4")[[0, 1, 2, 0, 1]]


def test_compare_reports_outputs_updates_and_kernels():
    ins, loss, updates, W = small_training_step()
    before = W.get_value()
    report = gc.compare(ins, loss, updates=updates, args=list(data()))
    assert report.ok() and report.worst < 1e-4
    assert [a.name for a in report.outputs] == ["output 0"]
    assert [a.name for a in report.updates] == ["update W"]
    assert len(report.kernels) >= 2 and all(k.ops for k in report.kernels)
    assert report.times["numpy"] > 0 and report.times["llvm"] > 0
    np.testing.assert_array_equal(W.get_value(), before)  # shared state is left as it was
    table = report.table()
    assert "[kernels]" in table and "max rel" in table and "time per call" in table


def test_compare_takes_a_function_of_either_backend():
    ins, loss, updates, _ = small_training_step()
    for backend in ("numpy", "llvm"):
        f = gc.function(ins, [loss, gc.argmax(ins[0], axis=1)], updates=updates,
                        backend=backend)
        report = gc.compare(f, *data())
        assert report.ok() and len(report.outputs) == 2


def test_compare_counts_mismatches():
    from graphc.compare import agreement

    a = agreement("x", np.array([1.0, 2.0, 3.5]), np.array([1.0, 2.0, 3.0]), rtol=1e-6)
    assert a.mismatches == 1 and a.max_abs == 0.5 and np.isclose(a.max_rel, 0.5 / 3)
    assert agreement("i", np.array([1, 2]), np.array([1, 3])).mismatches == 1
    nan = agreement("n", np.array([np.nan, 1.0]), np.array([np.nan, 1.0]))
    assert nan.mismatches == 0 and nan.max_abs == 0


def test_compare_points_at_the_kernel_that_is_wrong(monkeypatch):
    from graphc.backends.llvm.emitters import EMITTERS, Emitter

    monkeypatch.setenv("GRAPHC_CACHE", "0")  # this broken code must not reach the cache
    monkeypatch.setitem(EMITTERS, "tanh", Emitter("tanh", "scalar", lambda ctx, n, args: args[0]))
    x = gc.placeholder((None, 4), name="x")
    W = gc.shared(np.ones((4, 4), "f4"), name="W")
    h = gc.tanh(x @ W * 0.1)  # tanh cannot go into the GEMM epilogue here (the scale comes first)
    report = gc.compare([x], [gc.sum(h * h), gc.exp(x).sum()], args=[np.ones((3, 4), "f4")])
    assert not report.ok()
    bad = [k for k in report.kernels if k.mismatches]
    assert bad and all("tanh" in k.ops for k in bad)
    assert report.outputs[1].mismatches == 0
