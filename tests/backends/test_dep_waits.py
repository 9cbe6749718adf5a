"""Dependency-only waits between kernel calls (graphc/backends/llvm/dep_waits.py): which calls
each call waits for, arena reuse that needs no wait of its own, and results that stay exact on
any thread count."""

import hashlib

import numpy as np

import graphc as gc
from graphc.backends.llvm import dep_waits, emit, threads, wait_ir
from tests.backends.test_schedule import compiled_stages
from tests.backends.thread_runs import result_with_threads

SIZES = (33, 257, 7, 1)  # odd sizes; the last layer has one unit
BATCH = 7


def adam_mlp():
    """(inputs, loss, updates) of a ReLU MLP of SIZES trained by a hand-written Adam."""
    rng = np.random.default_rng(3)
    x = gc.placeholder((None, SIZES[0]), name="x")
    y = gc.placeholder((None, SIZES[-1]), name="y")
    params, h = [], x
    for k, (a, b) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        W = gc.shared((rng.standard_normal((a, b)) / np.sqrt(a)).astype("f4"), name=f"W{k}")
        c = gc.shared(np.zeros(b, "f4"), name=f"b{k}")
        params += [W, c]
        h = h @ W + c
        h = gc.relu(h) if k < len(SIZES) - 2 else h
    loss = gc.mean((h - y) ** 2)
    t = gc.shared(np.array(0, "f4"), name="t")
    t1 = t + 1
    updates = [(t, t1)]
    for p, g in zip(params, gc.grad(loss, params)):
        m = gc.shared(np.zeros(p.shape, "f4"))
        v = gc.shared(np.zeros(p.shape, "f4"))
        m1, v1 = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
        step = 0.01 * gc.sqrt(1 - 0.999 ** t1) / (1 - 0.9 ** t1)
        updates += [(m, m1), (v, v1), (p, p - step * m1 / (gc.sqrt(v1) + 1e-7))]
    return [x, y], loss, updates, params


def data():
    rng = np.random.default_rng(4)
    return (rng.standard_normal((BATCH, SIZES[0])).astype("f4"),
            rng.standard_normal((BATCH, SIZES[-1])).astype("f4"))


def trained(backend="llvm", steps=3):
    inputs, loss, updates, params = adam_mlp()
    f = gc.function(inputs, loss, updates=updates, backend=backend)
    x, y = data()
    losses = [float(np.asarray(f(x, y)).ravel()[0]) for _ in range(steps)]
    return f, losses, [p.attr("storage").value.copy() for p in params]


def trained_digest():
    """Losses and a digest of the trained parameters' bytes (run under a thread count)."""
    _, losses, values = trained()
    return losses, hashlib.sha1(b"".join(v.tobytes() for v in values)).hexdigest()


def mlp_program():
    inputs, loss, updates, _ = adam_mlp()
    return compiled_stages(inputs, [loss], updates)[1]


def test_waits_follow_only_the_buffers_a_call_shares():
    program = mlp_program()
    calls, waits = program.calls, dep_waits.waits_before(program.calls)
    hazard = dep_waits.hazards(calls)
    above = dep_waits.ancestors(hazard)
    for k, call in enumerate(calls):
        assert set(waits[k]) <= hazard[k]
        implied = 0
        for j in waits[k]:
            implied |= (1 << j) | above[j]
        assert all(implied >> j & 1 for j in hazard[k]), call.name  # nothing is left out
        for j, other in enumerate(calls[:k]):
            shares = {id(b) for b in other.pointers} & {id(b) for b in call.pointers}
            written = other.writes() | call.writes()
            assert (j in hazard[k]) == any(b in written for b in shares), (other.name, call.name)


def test_a_kernel_in_a_later_phase_need_not_follow_every_earlier_one():
    """A barrier per phase made every kernel follow all of the earlier phases (the first
    layer's weight gradient waited for the second layer's Adam); waits do not."""
    program = mlp_program()
    calls, n = program.calls, len(program.calls)
    above = dep_waits.ancestors(dep_waits.hazards(calls))
    unordered = [(calls[k].name, calls[u].name) for k in range(n) for u in range(k + 1, n)
                 if calls[u].phase > calls[k].phase and not above[u] >> k & 1]
    assert unordered


def test_arena_bytes_change_hands_only_between_ordered_calls():
    program = mlp_program()
    calls = program.calls
    above = dep_waits.ancestors(dep_waits.hazards(calls))
    users: dict = {}
    for k, call in enumerate(calls):
        for buf in call.pointers:
            users.setdefault(id(buf), (buf, []))[1].append(k)
    arena = [(b, ks) for b, ks in users.values() if b.kind in dep_waits.ARENA_KINDS]
    pairs = [(x, xs, ys) for x, xs in arena for y, ys in arena if x.last < y.first]
    assert pairs
    for _, xs, ys in pairs:  # every user of the later buffer follows every user of the earlier
        assert all(above[u] >> k & 1 for u in ys for k in xs)


def test_the_step_has_one_barrier_and_a_wait_per_dependency():
    program = mlp_program()
    text, _ = emit.generate(program)
    step = text[text.index(f'define void @"{emit.STEP}"'):]
    step = step[:step.index("\n}")]
    waits = dep_waits.waits_before(program.calls)
    assert step.count("graphc_barrier") == 1
    assert step.count(f'call void @"{wait_ir.WAIT}"') == sum(map(len, waits))
    assert step.count(f'call void @"{wait_ir.COUNT}"') == len(dep_waits.waited_for(waits))


def test_done_words_are_zero_between_runs():
    f, _, _ = trained()
    status = f.executable.status
    ncalls = len(f.kernels)
    assert len(status) == f.executable.program.status_words == 4 + 2 * ncalls
    assert not status[:-1].any()  # the last word: the spin limit's halvings, kept (the budget
    # word before it is zero: GRAPHC_SPIN_US is not set)
    assert 0 <= status[-1] <= wait_ir.MAX_HALVINGS


def test_results_are_bit_identical_on_the_other_thread_count_and_match_numpy():
    here = trained_digest()
    other = 1 if threads.num_threads() > 1 else 2
    assert result_with_threads("tests.backends.test_dep_waits", "trained_digest",
                               other) == list(here)
    _, losses, values = trained("numpy")
    _, mine, got = trained()
    np.testing.assert_allclose(mine, losses, rtol=2e-4, atol=1e-6)
    for a, b in zip(got, values):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)
