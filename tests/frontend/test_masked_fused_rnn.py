"""SimpleRNN, LSTM and GRU under a mask run their fused kernels: the same values and gradients
as the cell unrolled by RNN(cell) on the same weights (initial states held through masked
first steps, outputs zero until a step runs), a graph whose size does not grow with the
number of steps, unknown sequence lengths, and gradients against finite differences."""

import numpy as np
import pytest

import graphc as gc
from frontend import layers
from graphc.ir import toposort
from tests.frontend.conftest import BACKENDS
from tests.frontend.layer_gradients import check_layer_gradients

RNG = np.random.default_rng(33)
CELLS = {"SimpleRNN": layers.SimpleRNNCell, "LSTM": layers.LSTMCell, "GRU": layers.GRUCell}


def masked_pair(kind, units, go_backwards=False):
    """(fused layer, unrolled RNN(cell)) sharing their weights."""
    fused = getattr(layers, kind)(units, return_sequences=True, return_state=True,
                                  go_backwards=go_backwards)
    unrolled = layers.RNN(CELLS[kind](units), return_sequences=True, return_state=True,
                          go_backwards=go_backwards)
    return fused, unrolled


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", sorted(CELLS))
@pytest.mark.parametrize("go_backwards", [False, True])
def test_fused_equals_unrolled_with_initial_states_and_masked_starts(kind, backend,
                                                                     go_backwards):
    units, states = 4, 2 if kind == "LSTM" else 1
    x = gc.placeholder((5, 6, 3), "float32")
    initial = [gc.placeholder((5, units), "float32") for _ in range(states)]
    mask = gc.placeholder((5, 6), "bool")
    fused, unrolled = masked_pair(kind, units, go_backwards)
    got = fused(x, initial_state=initial, mask=mask)
    unrolled.build((5, 6, 3))
    unrolled.set_weights([w * 0 + v for w, v in zip(unrolled.get_weights(), fused.get_weights())])
    want = unrolled(x, initial_state=initial, mask=mask)
    assert fused.fused
    keep = RNG.random((5, 6)) > 0.4
    keep[0], keep[1, :3], keep[2] = False, False, True  # never, late start, always
    arrays = [RNG.standard_normal((5, 6, 3)).astype("float32"),
              *[RNG.standard_normal((5, units)).astype("float32") for _ in initial], keep]
    inputs = [x, *initial, mask]
    fused_grads, unrolled_grads = (gc.grad(sum(gc.sum(o * o) for o in outs), [x, *initial])
                                   for outs in (got, want))
    run = gc.function(inputs, [*got, *fused_grads, *want, *unrolled_grads],
                      backend=backend)(*arrays)
    count = len(got) + len(fused_grads)
    for a, b in zip(run[:count], run[count:]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    assert np.all(run[0][0] == 0)  # a row that never runs outputs zeros ...
    np.testing.assert_array_equal(run[1][0], arrays[1][0])  # ... and keeps its initial state


def graph_size(steps):
    x = gc.placeholder((None, steps, 3), "float32")
    out = layers.LSTM(4)(x, mask=gc.placeholder((None, steps), "bool"))
    return len(toposort([gc.grad(gc.sum(out), x)]))


def test_the_graph_does_not_grow_with_the_number_of_steps():
    assert graph_size(5) == graph_size(60)


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_unknown_number_of_steps_runs_under_a_mask(backend):
    tokens = gc.placeholder((None, None), "int32")
    out = layers.GRU(3)(layers.Embedding(6, 2, mask_zero=True)(tokens))
    f = gc.function([tokens], out, backend=backend)
    padded = f(np.array([[1, 2, 0, 0]], "int32"))
    np.testing.assert_allclose(padded, f(np.array([[1, 2]], "int32")), rtol=1e-6, atol=1e-7)


class _Masked(layers.Layer):
    """A recurrent layer given a fixed mask (a mask made from x would flip under finite
    differences)."""

    def __init__(self, kind, keep, **kwargs):
        super().__init__(dtype="float64", **kwargs)
        self.keep = keep
        self.rnn = getattr(layers, kind)(3, return_sequences=True, dtype="float64")

    def call(self, inputs):
        return self.rnn(inputs, mask=gc.constant(self.keep))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["SimpleRNN", "GRU"])
def test_masked_gradients_match_finite_differences(kind, backend):
    keep = np.array([[False, True, False, True], [True, True, False, False]])
    check_layer_gradients(_Masked(kind, keep), RNG.standard_normal((2, 4, 2)), backend, RNG)
