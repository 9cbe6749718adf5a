"""Random small graphs with updates (issue 10, defect 1): outputs and new values read the
variables through elementwise ops, reductions, views and gradients, in the kernel that writes
a new value or in others; the llvm backend, which writes updates in place when it can, must
equal the interpreter."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import graphc as gc

ROWS, COLS = 9, 10  # 90 elements: large enough to be written in place


def random_expression(rng, leaves, depth):
    if depth == 0 or rng.random() < 0.25:
        return leaves[rng.integers(len(leaves))]
    a = random_expression(rng, leaves, depth - 1)
    choice = rng.integers(12)
    if choice in (1, 2):
        b = random_expression(rng, leaves, depth - 1)
        return a + b if choice == 1 else a * b
    return UNARY[choice](a)


UNARY = {
    0: lambda a: a * 1.5,
    3: lambda a: a - gc.sum(a, axis=0, keepdims=True),
    4: lambda a: a + gc.max(a, axis=1, keepdims=True),
    5: lambda a: a[::-1],
    6: lambda a: a[:, ::-1],
    7: gc.tanh,
    8: lambda a: a + gc.reshape(gc.sum(a), (1, 1)),
    9: lambda a: gc.reshape(gc.reshape(a, (COLS, ROWS)), (ROWS, COLS)) * 0.5,
    10: lambda a: gc.exp(a * 0.1),
    11: lambda a: a + gc.mean(a, axis=0, keepdims=True),
}


def run(seed, backend):
    """Outputs of one call and the variables after it, for the graph of `seed` (a second
    call would compare round-off amplified by some graphs)."""
    rng = np.random.default_rng(seed)
    W = gc.shared(np.linspace(-1.0, 1.0, ROWS * COLS).reshape(ROWS, COLS), name="W")
    V = gc.shared(np.linspace(2.0, -2.0, ROWS * COLS).reshape(ROWS, COLS), name="V")
    x = gc.placeholder((ROWS, COLS), dtype="float64", name="x")
    leaves = [W, V, x, W, W]
    outputs = [random_expression(rng, leaves, 3) for _ in range(rng.integers(1, 3))]
    updates = [(W, random_expression(rng, leaves + outputs, 3))]
    if rng.random() < 0.5:
        updates.append((V, random_expression(rng, leaves + outputs, 3)))
    if rng.random() < 0.3:  # a gradient step whose loss also reads W
        updates[0] = (W, W - 0.1 * gc.grad(gc.sum(gc.tanh(outputs[0] * W)), W))
    new_values = [expression for _, expression in updates]
    mixed = random_expression(rng, new_values + new_values + leaves, 2)
    outputs.append(mixed * leaves[rng.integers(2)])  # old values read next to new ones
    f = gc.function([x], outputs, updates=updates, backend=backend)
    x_value = np.cos(np.arange(ROWS * COLS)).reshape(ROWS, COLS)
    return [np.array(v) for v in f(x_value)] + [W.get_value(), V.get_value()]


@settings(max_examples=20)
@given(st.integers(0, 2**32 - 1))
def test_random_updates_match_the_interpreter(seed):
    for got, want in zip(run(seed, "llvm"), run(seed, "numpy")):
        np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9)  # sums reassociate
