"""The LLVM backend as a whole: one native call per step, run-time batch sizes without
recompiling, Theano-style in-place updates, an MLP training step against the interpreter,
and hypothesis-generated graphs (values and gradients) in float32 and float64."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given
from hypothesis import strategies as st

import graphc as gc
from graphc.backends.llvm import guards, jit, threads
from tests.fuzz.profiles import examples

# float64 agrees with NumPy to rounding (a few ulp per op); float32 to ~1e-5 relative after a
# few dozen ops (reassociated sums, 1-2 ulp exp/log/tanh); gradients chain more ops.
TOL = {"float64": dict(rtol=1e-10, atol=1e-10), "float32": dict(rtol=2e-4, atol=2e-5)}


def both(inputs, outputs, updates_llvm=None, updates_numpy=None):
    return (gc.function(inputs, outputs, updates=updates_llvm),
            gc.function(inputs, outputs, updates=updates_numpy, backend="numpy"))


# ---- the MLP training step -------------------------------------------------------------------


def mlp_step(dtype, sizes=(784, 500, 500, 10), seed=0):
    """784-500-500-10 ReLU MLP, softmax cross-entropy, Adam: returns (function, params)."""
    rng = np.random.default_rng(seed)
    x = gc.placeholder((None, sizes[0]), dtype, name="x")
    y = gc.placeholder((None, sizes[-1]), dtype, name="y")
    params, h = [], x
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        W = gc.shared((rng.standard_normal((a, b)) * np.sqrt(2 / a)).astype(dtype), name=f"W{i}")
        bias = gc.shared(np.zeros(b, dtype), name=f"b{i}")
        params += [W, bias]
        h = h @ W + bias
        h = gc.relu(h) if i < len(sizes) - 2 else h
    loss = -gc.mean(gc.sum(y * gc.log_softmax(h), axis=1))
    t = gc.shared(np.array(0, dtype), name="t")
    t1 = t + 1
    lr_t = 1e-3 * gc.sqrt(1 - 0.999**t1) / (1 - 0.9**t1)
    updates = [(t, t1)]
    for p, g in zip(params, gc.grad(loss, params)):
        m = gc.shared(np.zeros(p.get_value().shape, dtype))
        v = gc.shared(np.zeros(p.get_value().shape, dtype))
        m1, v1 = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
        updates += [(m, m1), (v, v1), (p, p - lr_t * m1 / (gc.sqrt(v1) + 1e-7))]
    return [x, y], loss, updates, params


def batch(rng, n, dtype, sizes=(784, 10)):
    xs = rng.standard_normal((n, sizes[0])).astype(dtype)
    ys = np.eye(sizes[1], dtype=dtype)[rng.integers(0, sizes[1], n)]
    return xs, ys


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_mlp_training_step_matches_the_interpreter(dtype):
    sizes = (784, 500, 500, 10) if dtype == "float32" else (50, 40, 30, 10)
    ins, loss, updates, params = mlp_step(dtype, sizes)
    fl = gc.function(ins, loss, updates=updates)
    ins2, loss2, updates2, params2 = mlp_step(dtype, sizes)
    fn = gc.function(ins2, loss2, updates=updates2, backend="numpy")
    rng = np.random.default_rng(1)
    for n in (100, 100, 37):  # the last, smaller batch runs the same code
        xs, ys = batch(rng, n, dtype, (sizes[0], sizes[-1]))
        np.testing.assert_allclose(fl(xs, ys), fn(xs, ys), **TOL[dtype])
        for p, q in zip(params, params2):
            np.testing.assert_allclose(p.get_value(), q.get_value(), **TOL[dtype])
    kinds = [k.kind for k in fl.kernels]
    assert kinds.count("dense") == 8  # 3 forward layers, 3 weight and 2 input gradients


def test_smaller_batch_does_not_recompile(monkeypatch):
    x = gc.placeholder((None, 8), name="x")
    W = gc.shared(np.ones((8, 3), np.float32))
    f = gc.function([x], gc.softmax(x @ W))
    calls = []
    monkeypatch.setattr(jit, "compile_ir", lambda *a, **k: calls.append(a))
    for n in (64, 5, 64, 1):
        xs = np.random.default_rng(n).standard_normal((n, 8)).astype(np.float32)
        np.testing.assert_allclose(f(xs), softmax(xs @ W.get_value()), rtol=1e-5)
    assert calls == []


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_one_native_call_per_function_call(monkeypatch):
    x = gc.placeholder((None, 4), name="x")
    f = gc.function([x], [gc.exp(x).sum(), gc.argmax(x, axis=1), x @ np.ones((4, 2), "f4")])
    calls = []
    real = threads.parallel_run
    monkeypatch.setattr(threads, "parallel_run", lambda *a: (calls.append(a), real(*a)))
    f(np.ones((3, 4), np.float32))
    assert len(calls) == 1


@pytest.mark.skipif(guards.enabled(), reason="GRAPHC_CHECK_BOUNDS gives each buffer its own bytes")
def test_intermediates_share_an_aligned_arena():
    x = gc.placeholder((None, 64), name="x")
    h = x
    for _ in range(6):  # a chain of non-fusable steps: each intermediate dies soon
        h = gc.softmax(h @ np.eye(64, dtype="f4"))
    f = gc.function([x], h)
    f(np.ones((32, 64), np.float32))
    ex = f.executable
    temps = [b for b in ex.program.buffers if b.kind == "temp"]
    total = sum(b.count(ex.values, 2) * 4 for b in temps)
    assert len(temps) >= 5 and ex.arena_bytes < total
    assert ex.arena.ctypes.data % 64 == 0
    assert all(int(ex.args[2 + b.slot]) % 64 == 0 for b in temps)


# ---- updates -----------------------------------------------------------------------------------


def shared_pair(values):
    return [gc.shared(np.array(v, np.float32)) for v in values]


def run_updates(make):
    """make() -> (inputs, outputs, updates, shared); run both backends, return their states."""
    results = []
    for backend in ("llvm", "numpy"):
        ins, outs, updates, shared = make()
        f = gc.function(ins, outs, updates=updates, backend=backend)
        out = f(*[np.arange(3, dtype=np.float32)] * len(ins))
        results.append((out, [s.get_value() for s in shared]))
    return results


@pytest.mark.parametrize("case", ["swap", "chain", "twice", "read_after", "output", "matmul"])
def test_updates_are_computed_from_old_values(case):
    def make():
        a, b = shared_pair([[1, 2, 3], [10, 20, 30]])
        W = gc.shared(np.arange(9, dtype=np.float32).reshape(3, 3) / 10)
        if case == "swap":
            return [], [a + 0], [(a, b), (b, a)], [a, b]
        if case == "chain":  # b's new value reads a's new value (as Adam's m)
            a1 = a * 2
            return [], [a1.sum()], [(a, a1), (b, b + a1)], [a, b]
        if case == "twice":  # one value stored into two variables
            s = a + b
            return [], [s], [(a, s), (b, s)], [a, b]
        if case == "read_after":  # old a is read by a kernel that runs after a's update exists
            return [], [gc.sum(a * b)], [(a, a + 1), (b, gc.softmax(b * a))], [a, b]
        if case == "output":
            x = gc.placeholder((3,), name="x")
            return [x], [a * x, a * x], [(a, a * x)], [a]
        return [], [W.sum()], [(W, W - 0.1 * (W @ W.T))], [W]  # the GEMM reads all of W

    (out_l, state_l), (out_n, state_n) = run_updates(make)
    for got, want in zip(out_l + state_l, out_n + state_n):
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_in_place_updates_keep_shared_buffers():
    W = gc.shared(np.ones((16, 16), np.float32))  # small ones (<= 64 elements) are copied
    address = W.storage.value.ctypes.data
    f = gc.function([], [], updates=[(W, W * 0.5 + 1)])
    f()
    f()
    assert W.storage.value.ctypes.data == address
    np.testing.assert_allclose(W.get_value(), 1.75)
    assert f.executable.program.inplace  # written in place, not copied
    W.set_value(np.zeros((16, 16), np.float32))  # set_value copies in place: the code sees it
    f()
    np.testing.assert_allclose(W.get_value(), 1.0)


# ---- errors ----------------------------------------------------------------------------------


def test_mismatched_run_time_sizes_name_the_op():
    x = gc.placeholder((None, 3), name="x")
    y = gc.placeholder((None, 3), name="y")
    f = gc.function([x, y], x + y)
    with pytest.raises(ValueError, match="add"):
        f(np.ones((4, 3), np.float32), np.ones((5, 3), np.float32))


def test_run_time_sizes_of_one_broadcast_as_in_numpy():
    """Two None sizes meeting in an op are compiled as one size (so loops fuse and vectorize);
    a call where one of them is 1 runs a program compiled for that size 1 (graphc/size_one.py)."""
    x = gc.placeholder((None, 3), name="x")
    y = gc.placeholder((None, 3), name="y")
    f = gc.function([x, y], x * y)
    np.testing.assert_allclose(f(np.ones((4, 3), "f4"), np.full((4, 3), 2, "f4")), 2)
    np.testing.assert_allclose(f(np.ones((4, 3), np.float32), np.full((1, 3), 3, "f4")),
                               np.full((4, 3), 3))


def test_take_out_of_range_raises():
    x = gc.placeholder((5, 2), name="x")
    i = gc.placeholder((None,), "int64", name="i")
    f = gc.function([x, i], gc.take(x, i))
    np.testing.assert_array_equal(f(np.eye(5, 2, dtype="f4"), [4, -1]), np.eye(5, 2)[[4, -1]])
    with pytest.raises(IndexError, match="take"):
        f(np.eye(5, 2, dtype="f4"), [5])


# ---- random graphs -----------------------------------------------------------------------------

UNARY = ["exp", "tanh", "sigmoid", "relu", "softplus", "square", "abs", "neg", "elu", "gelu"]
BINARY = ["add", "sub", "mul", "maximum", "minimum"]


@st.composite
def random_graph(draw):
    """A small random expression over two (None, 6) inputs and a (6,) weight, with
    broadcasts, reductions, matmul and softmax; returns (build function, seed)."""
    steps = draw(st.lists(st.tuples(st.sampled_from(
        ["unary", "binary", "bias", "row_sum", "softmax", "matmul", "mean"]),
        st.sampled_from(UNARY), st.sampled_from(BINARY), st.integers(0, 10)),
        min_size=1, max_size=6))
    return steps, draw(st.integers(0, 2**16))


def build(steps, dtype):
    x = gc.placeholder((None, 6), dtype, name="x")
    y = gc.placeholder((None, 6), dtype, name="y")
    w = gc.placeholder((6,), dtype, name="w")
    pool = [x, y]
    for kind, unary, binary, pick in steps:
        a, b = pool[pick % len(pool)], pool[(pick // 2) % len(pool)]
        if kind == "unary":
            node = getattr(gc, unary)(a)
        elif kind == "binary":
            node = getattr(gc, binary)(a, b)
        elif kind == "bias":
            node = a * w + w
        elif kind == "row_sum":
            node = a - gc.sum(a, axis=1, keepdims=True) * 0.25
        elif kind == "softmax":
            node = gc.softmax(a)
        elif kind == "mean":
            node = a * gc.mean(a * a)
        else:
            mixer = gc.reshape(w, (6, 1)) * np.ones((1, 6), dtype) + np.eye(6, dtype=dtype)
            node = gc.matmul(a, mixer)
        pool.append(node)
    cost = gc.sum(pool[-1] * pool[-1]) * 0.1 + gc.mean(pool[-1])
    return [x, y, w], [pool[-1], cost] + list(gc.grad(cost, [x, y, w], disconnected="zeros"))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@examples(12, suppress_health_check=[HealthCheck.too_slow])
@given(graph=random_graph())
def test_random_graphs_and_gradients_match(dtype, graph):
    steps, seed = graph
    ins, outs = build(steps, dtype)
    fl = gc.function(ins, outs)
    fn = gc.function(ins, outs, backend="numpy")
    rng = np.random.default_rng(seed)
    vals = [rng.standard_normal((7, 6)), rng.standard_normal((7, 6)), rng.standard_normal(6)]
    vals = [v.astype(dtype) for v in vals]
    for got, want in zip(fl(*vals), fn(*vals)):
        scale = max(1.0, float(np.max(np.abs(want))))  # float32 error grows with magnitude
        np.testing.assert_allclose(got, want, rtol=TOL[dtype]["rtol"],
                                   atol=TOL[dtype]["atol"] * scale)


# ---- the program cache ---------------------------------------------------------------------


def test_a_function_of_the_same_structure_loads_from_the_disk_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path))

    def make():
        x = gc.placeholder((None, 5), name="x")
        W = gc.shared(np.full((5, 3), 0.5, np.float32), name="W")
        loss = gc.mean(gc.softmax(gc.relu(x @ W + 1.0)) * x[:, :3])
        return gc.function([x], loss, updates=[(W, W - 0.1 * gc.grad(loss, W))]), W

    first, W1 = make()
    second, W2 = make()
    assert "cache" not in first.pipeline.seconds and "cache" in second.pipeline.seconds
    xs = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    np.testing.assert_allclose(first(xs), second(xs), rtol=1e-6)
    np.testing.assert_allclose(W1.get_value(), W2.get_value(), rtol=1e-6)
    assert [k.name for k in first.kernels] == [k.name for k in second.kernels]
    assert second.graph("fused").count("kernel") == first.graph("fused").count("kernel")
    assert gc.compare(second, xs).ok()  # recompiled without the cache for kernel detail
