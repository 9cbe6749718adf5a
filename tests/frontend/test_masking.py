"""Masks (issue 12 item 3): Masking and Embedding(mask_zero=True) make them, layers pass them
on or drop them as Keras 3 does, RNNs keep their states at masked steps, Bidirectional and
GlobalAveragePooling1D honour them, and a masked sequence output's loss skips padded steps.
Values against NumPy references (tests/ops/test_recurrent_ops.py's Keras equations) on both
backends."""

import warnings

import numpy as np
import pytest

import graphc as gc
from frontend import layers
from frontend.layers.masks import get_keras_mask
from frontend.models import Model, Sequential
from tests.frontend.conftest import BACKENDS
from tests.frontend.layer_gradients import check_layer_gradients
from tests.ops.test_recurrent_ops import keras_gru, keras_lstm, keras_simple_rnn

RNG = np.random.default_rng(5)
PADDED = np.array([[3, 1, 4, 0, 0, 0], [5, 9, 2, 6, 5, 3], [5, 0, 0, 0, 0, 0]], "int32")


def data(*shape):
    return RNG.standard_normal(shape).astype("float32")


def run(outputs, inputs, values, backend):
    return gc.function(inputs, outputs, backend=backend)(*values)


def lengths(padded):
    return [int((row != 0).sum()) for row in padded]


# ---- making masks ----------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_masking_zeroes_and_masks_steps_whose_features_all_equal_mask_value(backend):
    x_value = data(2, 5, 3)
    x_value[0, 1] = -1.0
    x_value[1, 3:] = -1.0
    x_value[1, 0, 0] = -1.0  # one feature only: the step stays
    x = gc.placeholder((None, 5, 3), "float32")
    out = layers.Masking(mask_value=-1.0)(x)
    got, mask = run([out, get_keras_mask(out)], [x], [x_value], backend)
    expected_mask = (x_value != -1.0).any(-1)
    np.testing.assert_array_equal(mask, expected_mask)
    np.testing.assert_array_equal(got, x_value * expected_mask[..., None])


@pytest.mark.parametrize("backend", BACKENDS)
def test_embedding_mask_zero_masks_index_zero(backend):
    x = gc.placeholder((None, 6), "int32")
    out = layers.Embedding(10, 4, mask_zero=True)(x)
    (mask,) = run([get_keras_mask(out)], [x], [PADDED], backend)
    np.testing.assert_array_equal(mask, PADDED != 0)


def test_embedding_mask_zero_config_and_supports_masking():
    layer = layers.Embedding(10, 4, mask_zero=True)
    assert layer.supports_masking and layer.get_config()["mask_zero"] is True
    again = layers.Embedding.from_config(layer.get_config())
    assert again.mask_zero and again.supports_masking
    assert not layers.Embedding(10, 4).supports_masking
    assert layers.Embedding(10, 4).compute_mask(gc.placeholder((None, 3), "int32")) is None


def test_masking_config_round_trips():
    again = layers.deserialize(layers.serialize(layers.Masking(mask_value=2.5, name="pad")))
    assert isinstance(again, layers.Masking) and again.mask_value == 2.5 and again.name == "pad"


def test_masking_rejects_a_non_number():
    with pytest.raises(ValueError, match="Masking: `mask_value` must be a number.*'pad'"):
        layers.Masking(mask_value="pad")


# ---- propagation ---------------------------------------------------------------------------


def test_supporting_layers_pass_the_mask_and_others_drop_it_with_keras_warning():
    x = layers.Input(shape=(6,), dtype="int32")
    h = layers.Dropout(0.5)(layers.Activation("relu")(layers.Dense(3)(
        layers.Embedding(10, 4, mask_zero=True)(x))))
    assert h._keras_mask.shape == (None, 6) and h._keras_mask.dtype == "bool"
    with pytest.warns(UserWarning, match="'flatten'.*does not support masking"):
        flat = layers.Flatten(name="flatten")(h)
    assert get_keras_mask(flat.node) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no mask, no warning
        layers.Flatten()(layers.Dense(2)(layers.Input(shape=(3, 2))))


class _Scale(layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True  # Keras 3's way to pass the mask on unchanged

    def call(self, inputs):
        return inputs * 2.0


def test_a_user_layer_that_sets_supports_masking_passes_the_mask_on():
    x = layers.Input(shape=(6,), dtype="int32")
    embedded = layers.Embedding(10, 4, mask_zero=True)(x)
    assert _Scale()(embedded)._keras_mask is not None
    assert not layers.Flatten().supports_masking and layers.Dense(2).supports_masking


class _MaskedMean(layers.Layer):
    """A user layer that reads the mask in call and drops it (compute_mask -> None)."""

    def call(self, inputs, mask=None):
        self.received = mask
        weights = gc.expand_dims(gc.cast(mask, inputs.dtype), -1)
        return gc.sum(inputs * weights, axis=1) / gc.sum(weights, axis=1)

    def compute_mask(self, inputs, previous_mask):
        return None


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_user_layer_receives_the_mask_in_call_and_the_model_replays_it(backend):
    x = layers.Input(shape=(6,), dtype="int32")
    embedding = layers.Embedding(10, 4, mask_zero=True)
    pooled = _MaskedMean()(embedding(x))
    model = Model(x, pooled)
    model.compile(loss="mse", backend=backend)
    got = model.predict(PADDED, verbose=0)
    vectors = embedding.get_weights()[0][PADDED]
    expected = [vectors[i, :n].mean(0) for i, n in enumerate(lengths(PADDED))]
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    assert get_keras_mask(pooled.node) is None


class _TwoInputs(layers.Layer):
    """Keras 3's `<argument>_mask` rule, as attention layers read it."""

    def call(self, query, value, query_mask=None, value_mask=None):
        self.received = (query_mask, value_mask)
        return query + value

    def compute_mask(self, inputs, previous_mask):
        return None


def test_a_layer_of_several_inputs_receives_each_ones_mask_by_argument_name():
    query, value = gc.placeholder((None, 6), "int32"), gc.placeholder((None, 6), "int32")
    query_vectors = layers.Embedding(10, 4, mask_zero=True)(query)
    value_vectors = layers.Embedding(10, 4)(value)
    layer = _TwoInputs()
    layer(query_vectors, value_vectors)
    assert layer.received == (get_keras_mask(query_vectors), None)
    given = gc.placeholder((None, 6), "bool")
    layer(query_vectors, value=value_vectors, query_mask=given)
    assert layer.received[0] is given


@pytest.mark.parametrize("backend", BACKENDS)
def test_global_average_pooling_1d_averages_the_real_steps_only(backend):
    x = layers.Input(shape=(6,), dtype="int32")
    embedding = layers.Embedding(10, 4, mask_zero=True)
    pooled = layers.GlobalAveragePooling1D()(embedding(x))
    model = Model(x, pooled)
    model.compile(loss="mse", backend=backend)
    vectors = embedding.get_weights()[0][PADDED]
    expected = [vectors[i, :n].mean(0) for i, n in enumerate(lengths(PADDED))]
    np.testing.assert_allclose(model.predict(PADDED, verbose=0), expected, rtol=1e-5)
    assert get_keras_mask(pooled.node) is None


# ---- recurrent layers ------------------------------------------------------------------------


def reference(kind, x, weights, units):
    """Keras's equations on one sequence (batch of 1): (outputs, final states)."""
    zeros = np.zeros((1, units))
    x = x[None].astype("float64")
    if kind == "LSTM":
        seq, h, c = keras_lstm(x, *weights, zeros, zeros)
        return seq[0], [h[0], c[0]]
    if kind == "GRU":
        seq, h = keras_gru(x, *weights, zeros)
        return seq[0], [h[0]]
    seq, h = keras_simple_rnn(x, *weights, zeros, "tanh")
    return seq[0], [h[0]]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["LSTM", "GRU", "SimpleRNN"])
def test_rnn_under_a_mask_keeps_states_and_repeats_outputs_at_masked_steps(kind, backend):
    x_value = data(3, 6, 2)
    keep = np.ones((3, 6), bool)
    keep[0, 4:] = keep[1, 1] = keep[1, 3] = keep[2, 0] = False  # padding, also mid-sequence
    x_value[~keep] = 0.0
    x = gc.placeholder((None, 6, 2), "float32")
    layer = getattr(layers, kind)(3, return_sequences=True, return_state=True)
    seq, *states = layer(layers.Masking()(x))
    layer.set_weights([data(*w.shape) * 0.5 for w in layer.weights])
    got_seq, *got_states = run([seq, *states], [x], [x_value], backend)
    weights = [w.astype("float64") for w in layer.get_weights()]
    for i in range(3):
        outs, finals = reference(kind, x_value[i][keep[i]], weights, 3)
        carried = np.zeros((6, 3))  # previous output repeated, zeros before the first step
        positions = np.flatnonzero(keep[i])
        for t in range(6):
            earlier = positions[positions <= t]
            carried[t] = outs[len(earlier) - 1] if len(earlier) else 0.0
        np.testing.assert_allclose(got_seq[i], carried, rtol=2e-5, atol=2e-6)
        for got, expected in zip(got_states, finals):
            np.testing.assert_allclose(got[i], expected, rtol=2e-5, atol=2e-6)
    assert get_keras_mask(seq) is not None and all(get_keras_mask(s) is None for s in states)


@pytest.mark.parametrize("backend", BACKENDS)
def test_imdb_like_padded_batch_matches_each_sequence_alone(backend):
    """Embedding(mask_zero=True) + LSTM on right-padded reviews: each review's prediction is
    the one it gets alone, unpadded (also go_backwards, which starts at the last real word)."""
    x = layers.Input(shape=(6,), dtype="int32")
    embedded = layers.Embedding(10, 4, mask_zero=True)(x)
    forwards = layers.LSTM(5)(embedded)
    backwards = layers.LSTM(5, go_backwards=True)(embedded)
    out = layers.Dense(1, activation="sigmoid")(layers.Concatenate()([forwards, backwards]))
    model = Model(x, out)
    model.compile(optimizer="adam", loss="binary_crossentropy", backend=backend)
    got = model.predict(PADDED, verbose=0)
    for i, n in enumerate(lengths(PADDED)):
        alone = Model(x_alone := layers.Input(shape=(n,), dtype="int32"),
                      rebuilt_on(model, x_alone))
        np.testing.assert_allclose(got[i], alone.predict(PADDED[i : i + 1, :n], verbose=0)[0],
                                   rtol=1e-5, atol=1e-6)
    model.fit(PADDED, np.array([1, 0, 1], "float32"), epochs=1, verbose=0)


def rebuilt_on(model, x):
    """The same layers (shared weights) applied to an input of another length."""
    embedding, forwards, backwards, concat, dense = model.layers[1:]
    embedded = embedding(x)
    return dense(concat([forwards(embedded), backwards(embedded)]))


@pytest.mark.parametrize("backend", BACKENDS)
def test_bidirectional_under_a_mask_zeroes_padded_steps_both_ways(backend):
    x = gc.placeholder((None, 6), "int32")
    embedding = layers.Embedding(10, 2, mask_zero=True)
    bi = layers.Bidirectional(layers.GRU(3, return_sequences=True), merge_mode=None)
    y_fw, y_bw = bi(embedding(x))
    bi.set_weights([data(*w.shape) * 0.5 for w in bi.weights])
    got_fw, got_bw = run([y_fw, y_bw], [x], [PADDED], backend)
    vectors = embedding.get_weights()[0][PADDED]
    fw_weights = [w.astype("float64") for w in bi.forward_layer.get_weights()]
    bw_weights = [w.astype("float64") for w in bi.backward_layer.get_weights()]
    for i, n in enumerate(lengths(PADDED)):
        fw, _ = reference("GRU", vectors[i, :n], fw_weights, 3)
        bw, _ = reference("GRU", vectors[i, :n][::-1], bw_weights, 3)
        np.testing.assert_allclose(got_fw[i, :n], fw, rtol=2e-5, atol=2e-6)
        np.testing.assert_allclose(got_bw[i, :n], bw[::-1], rtol=2e-5, atol=2e-6)
        np.testing.assert_array_equal(got_fw[i, n:], 0.0)
        np.testing.assert_array_equal(got_bw[i, n:], 0.0)
    assert get_keras_mask(y_fw) is not None and get_keras_mask(y_bw) is not None


class _MaskedLSTM(layers.Layer):
    """An LSTM given a fixed mask (a mask made from x would flip under finite differences)."""

    def __init__(self, keep, **kwargs):
        super().__init__(dtype="float64", **kwargs)
        self.keep = keep
        self.lstm = layers.LSTM(3, return_sequences=True, dtype="float64")

    def call(self, inputs):
        return self.lstm(inputs, mask=gc.constant(self.keep))


@pytest.mark.parametrize("backend", BACKENDS)
def test_masked_lstm_gradients_match_finite_differences(backend):
    keep = np.array([[True, True, False, False], [True, False, True, True]])
    check_layer_gradients(_MaskedLSTM(keep), RNG.standard_normal((2, 4, 2)), backend, RNG)


def test_a_mask_of_the_wrong_shape_is_refused_naming_the_layer():
    x = gc.placeholder((None, 5, 2), "float32")
    with pytest.raises(ValueError, match=r"'lstm_shape'.*\(None, 5\).*\(None, 3\)"):
        layers.LSTM(2, name="lstm_shape")(x, mask=gc.placeholder((None, 3), "bool"))


def test_an_unrolled_masked_rnn_needs_a_known_number_of_steps():
    x = layers.Input(shape=(None,), dtype="int32")
    embedded = layers.Embedding(5, 2, mask_zero=True)(x)
    assert layers.LSTM(2)(embedded).shape == (None, 2)  # the fused kernel takes the mask
    with pytest.raises(ValueError, match="'lstm_masked'.*under a mask.*known number of time"):
        layers.LSTM(2, recurrent_dropout=0.1, name="lstm_masked")(embedded)


# ---- masked losses ---------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_loss_of_a_masked_sequence_output_skips_the_padded_steps(backend):
    model = Sequential([
        layers.Input(shape=(6,), dtype="int32"),
        layers.Embedding(10, 4, mask_zero=True),
        layers.LSTM(4, return_sequences=True),
        layers.TimeDistributed(layers.Dense(3)),
    ])
    model.compile(optimizer="sgd", loss="mse", backend=backend)
    targets = data(3, 6, 3)
    per_step = ((model.predict(PADDED, verbose=0) - targets) ** 2).mean(-1)
    expected = per_step[PADDED != 0].mean()
    np.testing.assert_allclose(model.evaluate(PADDED, targets, verbose=0), expected, rtol=1e-5)
    start = model.get_weights()
    model.fit(PADDED, targets, epochs=1, batch_size=3, verbose=0)
    trained = model.get_weights()
    changed = targets.copy()
    changed[PADDED == 0] = 100.0  # targets under the mask do not matter
    model.set_weights(start)
    model.fit(PADDED, changed, epochs=1, batch_size=3, verbose=0)
    for a, b in zip(trained, model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_global_max_pooling_1d_ignores_the_mask_as_keras_3():
    x = layers.Input(shape=(6,), dtype="int32")
    with pytest.warns(UserWarning, match="does not support masking"):
        pooled = layers.GlobalMaxPooling1D()(layers.Embedding(10, 4, mask_zero=True)(x))
    assert pooled._keras_mask is None


@pytest.mark.parametrize(
    "make",
    [
        lambda: layers.BatchNormalization(),
        lambda: layers.LayerNormalization(),
        lambda: layers.RMSNormalization(),
        lambda: layers.UnitNormalization(),
        lambda: layers.ReLU(),
        lambda: layers.LeakyReLU(),
        lambda: layers.ELU(),
        lambda: layers.PReLU(),
        lambda: layers.GaussianNoise(0.1),
        lambda: layers.GaussianDropout(0.1),
        lambda: layers.Rescaling(0.5),
        lambda: layers.Identity(),
    ],
)
def test_elementwise_and_normalizing_layers_pass_the_mask_on(make):
    """As Keras 3: these layers support masking, so an LSTM after them still sees the padding."""
    tokens = layers.Input((5,), dtype="int32")
    embedded = layers.Embedding(10, 4, mask_zero=True)(tokens)
    out = make()(embedded)
    assert out._keras_mask is not None


@pytest.mark.parametrize("backend", BACKENDS)
def test_compiled_metrics_count_only_the_real_steps(backend):
    """As Keras: the output's mask weighs the metrics too, not only the loss (found by review)."""
    x = np.array([[3, 1, 4, 0, 0, 0], [5, 9, 2, 6, 5, 3], [5, 0, 0, 0, 0, 0]], "int32")
    y = np.zeros((3, 6), "int32")
    model = Sequential([
        layers.Input((6,)),
        layers.Embedding(10, 4, mask_zero=True),
        layers.LSTM(5, return_sequences=True),
        layers.Dense(3, activation="softmax"),
    ])
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"], backend=backend)
    result = model.evaluate(x, y, verbose=0, return_dict=True)
    hits = model.predict(x, verbose=0).argmax(-1) == y
    np.testing.assert_allclose(result["accuracy"], hits[x != 0].mean(), rtol=1e-6)
