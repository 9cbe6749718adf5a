"""Issue 12 item 4: the generic RNN(cell) with SimpleRNNCell/LSTMCell/GRUCell,
StackedRNNCells and a user-written cell; non-default activations, GRU(reset_after=False) and
recurrent_dropout (the unrolled cell, `layer.fused` False); stateful=True with
reset_states(); go_backwards; unroll. Values against a NumPy transcription of Keras 3's
equations on both backends, gradients against finite differences, save/load, plot_model."""

import numpy as np
import pytest

import graphc as gc
from frontend import layers, optimizers
from frontend.layers import Layer
from frontend.models import Model, Sequential, load_model
from frontend.utils import plot_model
from tests.frontend.conftest import BACKENDS, llvm_available
from tests.frontend.layer_gradients import check_layer_gradients

RNG = np.random.default_rng(12)

ACT = {
    "tanh": np.tanh,
    "sigmoid": lambda a: 1 / (1 + np.exp(-a)),
    "hard_sigmoid": lambda a: np.clip(a / 6 + 0.5, 0, 1),
    "relu": lambda a: np.maximum(a, 0),
    "linear": lambda a: a,
}


# ---- NumPy transcriptions of one step (Keras 3), weights as get_weights() returns them -------


def simple_step(x, states, weights, act="tanh", **_):
    W, U, b = weights
    return [ACT[act](x @ W + b + states[0] @ U)]


def lstm_step(x, states, weights, act="tanh", rec="sigmoid", **_):
    (W, U, b), (h, c) = weights, states
    i, f, g, o = np.split(x @ W + b + h @ U, 4, axis=-1)
    c = ACT[rec](f) * c + ACT[rec](i) * ACT[act](g)
    return [ACT[rec](o) * ACT[act](c), c]


def gru_step(x, states, weights, act="tanh", rec="sigmoid", reset_after=True):
    (W, U, b), h = weights, states[0]
    u = h.shape[1]
    xz, xr, xh = np.split(x @ W + (b[0] if reset_after else b), 3, axis=-1)
    rz, rr, rh = np.split(h @ U + (b[1] if reset_after else 0), 3, axis=-1)
    z, r = ACT[rec](xz + rz), ACT[rec](xr + rr)
    candidate = r * rh if reset_after else (r * h) @ U[:, 2 * u :]
    return [z * h + (1 - z) * ACT[act](xh + candidate)]


def run_reference(step, x, sizes, go_backwards=False):
    """(every output, final states) of `step` over x (batch, time, features)."""
    states = [np.zeros((x.shape[0], s)) for s in sizes]
    outputs = []
    for t in range(x.shape[1]) if not go_backwards else reversed(range(x.shape[1])):
        states = step(x[:, t], states)
        outputs.append(states[0])
    return np.stack(outputs, 1), states


def data(*shape):
    return RNG.standard_normal(shape).astype("float32")


def randomize(layer):
    layer.set_weights([RNG.standard_normal(w.shape) * 0.5 for w in layer.weights])
    return [w.astype("float64") for w in layer.get_weights()]


class MinimalRNNCell(Layer):
    """The Keras guide's user-written cell: h_t = tanh(x_t W + h_{t-1} U)."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units, self.state_size = units, units

    def build(self, input_shape):
        self.kernel = self.add_weight((input_shape[-1], self.units), name="kernel")
        self.recurrent_kernel = self.add_weight((self.units, self.units), name="recurrent_kernel")

    def call(self, inputs, states):
        h = gc.tanh(gc.matmul(inputs, self.kernel) + gc.matmul(states[0], self.recurrent_kernel))
        return h, [h]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def minimal_step(x, states, weights):
    W, U = weights
    return [np.tanh(x @ W + states[0] @ U)]


def stacked_step(x, states, weights):
    h1 = lstm_step(x, states[:2], weights[:3])
    h2 = gru_step(h1[0], states[2:], weights[3:], reset_after=False)
    return [h2[0], *h1, *h2]  # the output first, then the cells' states in order


# name: (make the layer, the reference step given weights, state sizes, fused?)
CASES = {
    "lstm_relu_hard_sigmoid": (
        lambda: layers.LSTM(4, activation="relu", recurrent_activation="hard_sigmoid"),
        lambda w: lambda x, s: lstm_step(x, s, w, "relu", "hard_sigmoid"),
        [4, 4],
        False,
    ),
    "gru_reset_before": (
        lambda: layers.GRU(3, reset_after=False),
        lambda w: lambda x, s: gru_step(x, s, w, reset_after=False),
        [3],
        False,
    ),
    "gru_linear_backwards": (
        lambda: layers.GRU(3, activation="linear", go_backwards=True),
        lambda w: lambda x, s: gru_step(x, s, w, "linear"),
        [3],
        False,
    ),
    "simple_rnn_fused": (
        lambda: layers.SimpleRNN(3, activation="relu"),
        lambda w: lambda x, s: simple_step(x, s, w, "relu"),
        [3],
        True,
    ),
    "rnn_simple_cell": (
        lambda: layers.RNN(layers.SimpleRNNCell(3, activation="sigmoid"), unroll=True),
        lambda w: lambda x, s: simple_step(x, s, w, "sigmoid"),
        [3],
        None,
    ),
    "rnn_lstm_cell": (
        lambda: layers.RNN(layers.LSTMCell(3)),
        lambda w: lambda x, s: lstm_step(x, s, w),
        [3, 3],
        None,
    ),
    "rnn_gru_cell_backwards": (
        lambda: layers.RNN(layers.GRUCell(2), go_backwards=True),
        lambda w: lambda x, s: gru_step(x, s, w),
        [2],
        None,
    ),
    "rnn_stacked": (
        lambda: layers.RNN([layers.LSTMCell(3), layers.GRUCell(2, reset_after=False)]),
        lambda w: lambda x, s: stacked_step(x, s, w)[1:],
        [3, 3, 2],
        None,
    ),
    "rnn_user_cell": (
        lambda: layers.RNN(MinimalRNNCell(3)),
        lambda w: lambda x, s: minimal_step(x, s, w),
        [3],
        None,
    ),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_values_match_keras_equations(case, backend):
    make, reference, sizes, fused = CASES[case]
    inputs = layers.Input(shape=(5, 4))
    layer = make()
    model = Model(inputs, layer(inputs))
    weights = randomize(layer)
    if fused is not None:
        assert layer.fused is fused
    x = data(2, 5, 4)
    model.compile(loss="mse", backend=backend)
    sequence, states = run_reference(reference(weights), x.astype("float64"), sizes,
                                     go_backwards=layer.go_backwards)
    expected = states[2] if case == "rnn_stacked" else sequence[:, -1]
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_return_sequences_and_state_of_a_stacked_rnn(backend):
    layer = layers.RNN([layers.LSTMCell(3), layers.GRUCell(2, reset_after=False)],
                       return_sequences=True, return_state=True)
    x = data(2, 4, 3)
    node = gc.placeholder((None, 4, 3), "float32", name="x")
    outputs = layer(node)
    weights = randomize(layer)
    got = gc.function([node], outputs, backend=backend)(x)
    states = [np.zeros((2, n)) for n in (3, 3, 2)]
    sequence = []
    for t in range(4):
        output, *states = stacked_step(x[:, t].astype("float64"), states, weights)
        sequence.append(output)
    for a, e in zip(got, [np.stack(sequence, 1), *states]):
        np.testing.assert_allclose(a, e, rtol=2e-5, atol=2e-6)


# ---- gradients of the unrolled cells ---------------------------------------------------------


GRADIENT_CASES = {
    "lstm_hard_sigmoid": lambda: layers.LSTM(
        2, recurrent_activation="hard_sigmoid", return_sequences=True, dtype="float64"
    ),
    "gru_reset_before": lambda: layers.GRU(2, reset_after=False, dtype="float64"),
    "rnn_stacked": lambda: layers.RNN(
        [layers.SimpleRNNCell(2, dtype="float64"), layers.GRUCell(2, dtype="float64")],
        dtype="float64",
    ),
    "rnn_user_cell": lambda: layers.RNN(MinimalRNNCell(2, dtype="float64"), dtype="float64"),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", sorted(GRADIENT_CASES))
def test_unrolled_gradients_match_finite_differences(case, backend):
    check_layer_gradients(GRADIENT_CASES[case](), RNG.standard_normal((2, 3, 2)), backend, RNG)


# ---- recurrent dropout -----------------------------------------------------------------------


def test_recurrent_dropout_runs_the_cell_only_while_training():
    x = data(3, 5, 2)
    dropped = layers.LSTM(4, recurrent_dropout=0.5, seed=7)
    plain = layers.LSTM(4)
    dropped(x), plain(x)
    plain.set_weights(dropped.get_weights())
    assert not dropped.fused and plain.fused
    np.testing.assert_allclose(dropped(x), plain(x), rtol=1e-5, atol=1e-6)
    assert not np.allclose(dropped(x, training=True), plain(x))
    twice = [dropped(x, training=True) for _ in range(2)]
    np.testing.assert_array_equal(*twice)  # one mask per step counter: repeatable


@pytest.mark.parametrize("backend", BACKENDS)
def test_recurrent_dropout_gradients_and_backends_agree(backend):
    layer = layers.GRU(2, dropout=0.3, recurrent_dropout=0.4, seed=3, dtype="float64")
    x = RNG.standard_normal((3, 3, 2))
    check_layer_gradients(layer, x, backend, RNG, training=True)
    if llvm_available():
        node = gc.placeholder((None, 3, 2), "float64", name="x")
        out = layer(node, training=True)
        values = [gc.function([node], out, backend=b)(x) for b in ("numpy", "llvm")]
        np.testing.assert_allclose(*values, rtol=1e-10)


def tanh(x):  # a user's activation that merely shares a built-in's name
    return gc.tanh(x) * 0.5


def test_a_user_activation_named_like_a_builtin_is_not_fused():
    layer = layers.SimpleRNN(3, activation=tanh)
    x = data(2, 4, 2)
    layer(x)
    weights = randomize(layer)
    assert not layer.fused

    def step(v, states):
        return [0.5 * np.tanh(simple_step(v, states, weights, "linear")[0])]

    expected, _ = run_reference(step, x.astype("float64"), [3])
    np.testing.assert_allclose(layer(x), expected[:, -1], rtol=2e-5, atol=2e-6)


# ---- stateful --------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("make", [
    lambda: layers.LSTM(3, stateful=True, return_sequences=True),
    lambda: layers.RNN(layers.GRUCell(3, reset_after=False), stateful=True),
])  # fmt: skip
def test_stateful_carries_states_across_batches_until_reset(make, backend):
    inputs = layers.Input(batch_shape=(2, 4, 3))
    layer = make()
    model = Model(inputs, layer(inputs))
    model.compile(loss="mse", backend=backend)
    x1, x2 = data(2, 4, 3), data(2, 4, 3)
    first, second = model.predict(x1, verbose=0), model.predict(x2, verbose=0)
    twin_config = {**layer.get_config(), "stateful": False, "name": "twin"}
    twin = type(layer).from_config(twin_config)
    twin(x1)
    twin.set_weights(layer.get_weights())
    whole = twin(np.concatenate([x1, x2], axis=1))
    expected = whole[:, 4:] if layer.return_sequences else whole
    np.testing.assert_allclose(second, expected, rtol=1e-5, atol=1e-6)
    layer.reset_states()
    np.testing.assert_allclose(model.predict(x1, verbose=0), first, rtol=1e-6)


def test_stateful_fit_updates_states_and_needs_a_batch_size():
    inputs = layers.Input(batch_shape=(2, 3, 2))
    layer = layers.SimpleRNN(2, stateful=True)
    model = Model(inputs, layer(inputs))
    model.compile(optimizer="sgd", loss="mse")
    model.fit(data(4, 3, 2), data(4, 2), batch_size=2, epochs=1, verbose=0, shuffle=False)
    assert np.abs(layer.state_variables[0].get_value()).sum() > 0
    layer.reset_states()
    assert not layer.state_variables[0].get_value().any()
    x, y = data(2, 3, 2), data(2, 2)
    first, second = model.evaluate(x, y, verbose=0), model.evaluate(x, y, verbose=0)
    assert first != second  # evaluate carries the states too, as Keras
    layer.reset_states()
    assert model.evaluate(x, y, verbose=0) == first
    with pytest.raises(ValueError, match="SimpleRNN '.*': stateful=True .* fixed batch size"):
        layers.SimpleRNN(2, stateful=True)(layers.Input(shape=(3, 2)))


# ---- what is refused, config round trips, plot_model -----------------------------------------


def test_unrolling_needs_a_known_time_axis():
    with pytest.raises(ValueError, match=r"LSTM '.*' has options the fused kernel lacks "
                       r"\(activation='relu'.*known number of time steps"):
        layers.LSTM(2, activation="relu")(layers.Input(shape=(None, 3)))
    with pytest.raises(ValueError, match="RNN '.*' runs its cell once per time step"):
        layers.RNN(MinimalRNNCell(2))(layers.Input(shape=(None, 3)))
    assert layers.LSTM(2)(layers.Input(shape=(None, 3))).shape == (None, 2)  # fused: any length
    with pytest.raises(ValueError, match="RNN: `cell` must be a Layer with a `state_size`"):
        layers.RNN(layers.Dense(3))
    with pytest.raises(ValueError, match="RNN '.*' takes 2 initial state"):
        layers.RNN(layers.LSTMCell(2))(data(1, 2, 3), initial_state=[data(1, 2)])


@pytest.mark.parametrize("case", sorted(CASES))
def test_save_load_and_plot(case, tmp_path):
    make = CASES[case][0]
    inputs = layers.Input(shape=(3, 2))
    layer = make()
    model = Model(inputs, layer(inputs))
    randomize(layer)
    model.save(tmp_path / "m.zip")
    loaded = load_model(tmp_path / "m.zip", custom_objects={"MinimalRNNCell": MinimalRNNCell})
    x = data(2, 3, 2)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert loaded.layers[-1].get_config() == layer.get_config()
    drawn = plot_model(model, to_file=str(tmp_path / "m.dot"))
    with open(drawn) as picture:
        assert layer.name in picture.read()


def test_bidirectional_wraps_a_generic_rnn():
    x = data(2, 4, 3)
    layer = layers.Bidirectional(layers.RNN(layers.GRUCell(2, reset_after=False)))
    assert layer(x).shape == (2, 4)
    clone = layers.deserialize(layers.serialize(layer))
    clone(x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone(x), layer(x))


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_model_with_unrolled_cells_and_noise_trains(backend):
    """fit end to end: loss falls with recurrent_dropout, a hard_sigmoid LSTM, GaussianNoise."""
    x = data(32, 5, 3)
    y = x.sum(axis=(1, 2))[:, None] * 0.2
    model = Sequential([
        layers.Input(shape=(5, 3)),
        layers.GaussianNoise(0.05, seed=1),
        layers.LSTM(6, recurrent_activation="hard_sigmoid", recurrent_dropout=0.1, seed=2),
        layers.Dense(1),
    ])  # fmt: skip
    model.compile(optimizer=optimizers.Adam(learning_rate=0.03), loss="mse", backend=backend)
    history = model.fit(x, y, batch_size=8, epochs=10, verbose=0)
    assert history.history["loss"][-1] < 0.7 * history.history["loss"][0]


def test_stateful_bidirectional_keeps_both_directions_states():
    inputs = layers.Input(batch_shape=(2, 3, 2))
    wrapper = layers.Bidirectional(layers.GRU(2, stateful=True, reset_after=False))
    model = Model(inputs, wrapper(inputs))
    x = data(2, 3, 2)
    first = model.predict(x, verbose=0)
    assert not np.allclose(model.predict(x, verbose=0), first)
    wrapper.forward_layer.reset_states()
    wrapper.backward_layer.reset_states()
    np.testing.assert_allclose(model.predict(x, verbose=0), first, rtol=1e-6)
