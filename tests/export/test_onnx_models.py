"""Frontend models exported to ONNX: onnxruntime's outputs equal `predict` to 1e-5 at batch sizes
1 and 7 (the exported batch size is dynamic), for every layer family ONNX can express."""

import numpy as np
import pytest

import frontend.layers as L
from frontend.models import Model, Sequential
from tests.export.onnx_checks import assert_model_matches_predict

BATCHES = [1, 7]
ACTIVATIONS = ["relu", "sigmoid", "tanh", "softmax", "elu", "selu", "softplus", "softsign",
               "gelu", "hard_sigmoid", "swish", "silu", "linear", "exponential", "leaky_relu",
               "relu6", "mish", "log_softmax", "hard_silu"]


def floats(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


@pytest.mark.parametrize("batch", BATCHES)
def test_mlp_with_every_activation(batch, tmp_path):
    inputs = L.Input((5,))
    branches = [L.Dense(3, activation=a)(inputs) for a in ACTIVATIONS]
    hidden = L.Dense(8, activation="relu")(L.Concatenate()(branches))
    model = Model(inputs, L.Dense(4, activation="softmax")(hidden))
    assert_model_matches_predict(model, [floats(batch, 5)], tmp_path)


@pytest.mark.parametrize("batch", BATCHES)
def test_cnn_2d(batch, tmp_path):
    model = Sequential([
        L.Input((9, 9, 3)),
        L.Conv2D(4, 3, padding="same", strides=2, activation="relu"),
        L.BatchNormalization(),
        L.ZeroPadding2D(1),
        L.MaxPooling2D(),
        L.Conv2DTranspose(3, 3, strides=2, padding="same"),
        L.DepthwiseConv2D(3, depth_multiplier=2),
        L.SeparableConv2D(2, 3, padding="same", dilation_rate=1),
        L.AveragePooling2D(padding="same"),
        L.UpSampling2D(2),
        L.Cropping2D(1),
        L.GlobalMaxPooling2D(),
        L.Dense(3, activation="softmax"),
    ])
    set_batch_statistics(model)
    assert_model_matches_predict(model, [floats(batch, 9, 9, 3)], tmp_path)


@pytest.mark.parametrize("batch", BATCHES)
def test_cnn_1d(batch, tmp_path):
    model = Sequential([
        L.Input((12, 2)),
        L.Conv1D(4, 3, dilation_rate=2, padding="causal", activation="tanh"),
        L.Conv1DTranspose(3, 2, strides=2),
        L.DepthwiseConv1D(3),
        L.SeparableConv1D(3, 2, padding="same"),
        L.MaxPooling1D(2),
        L.AveragePooling1D(2, padding="same"),
        L.ZeroPadding1D(1),
        L.Cropping1D((1, 0)),
        L.UpSampling1D(2),
        L.GlobalAveragePooling1D(),
    ])
    assert_model_matches_predict(model, [floats(batch, 12, 2)], tmp_path)


def set_batch_statistics(model):
    """Moving statistics away from 0 and 1, so the exported BatchNormalization has work."""
    statistics = [w for w in model.weights if "moving_" in w.name]
    assert statistics
    for k, weight in enumerate(statistics):
        value = floats(*weight.shape, seed=k)
        weight.assign(np.abs(value) + 0.5 if "variance" in weight.name else value)


@pytest.mark.parametrize("batch", BATCHES)
def test_recurrent_layers(batch, tmp_path):
    inputs = L.Input((6, 3))
    x = L.LSTM(4, return_sequences=True)(inputs)
    x = L.GRU(3, return_sequences=True, go_backwards=True)(x)
    x = L.Bidirectional(L.LSTM(2, return_sequences=True))(x)
    x = L.Bidirectional(L.GRU(2), merge_mode="sum")(x)
    model = Model(inputs, x)
    assert_model_matches_predict(model, [floats(batch, 6, 3)], tmp_path)


@pytest.mark.parametrize("batch", BATCHES)
def test_recurrent_states_and_simple_rnn(batch, tmp_path):
    inputs = L.Input((5, 2))
    sequence, h, c = L.LSTM(3, return_sequences=True, return_state=True)(inputs)
    relu = L.SimpleRNN(2, activation="relu", return_sequences=True)(sequence)
    linear = L.Bidirectional(L.SimpleRNN(2, activation="linear"))(relu)
    model = Model(inputs, [linear, h, c])
    assert_model_matches_predict(model, [floats(batch, 5, 2)], tmp_path)


def transformer_block(causal: bool) -> Model:
    inputs = L.Input((6, 8))
    attended = L.MultiHeadAttention(2, 4)(inputs, inputs, use_causal_mask=causal)
    x = L.LayerNormalization()(L.Add()([inputs, attended]))
    feed = L.Dense(8)(L.Dense(16, activation="gelu")(x))
    outputs = L.LayerNormalization(epsilon=1e-5)(L.Add()([x, feed]))
    return Model(inputs, L.Dense(3, activation="softmax")(L.GlobalAveragePooling1D()(outputs)))


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("opset", [None, 16])  # 16: LayerNormalization written out
def test_transformer_block(batch, opset, tmp_path):
    model = transformer_block(causal=batch == 7)
    assert_model_matches_predict(model, [floats(batch, 6, 8)], tmp_path, opset=opset)


@pytest.mark.parametrize("batch", BATCHES)
def test_multi_input_functional_model(batch, tmp_path):
    a, b = L.Input((4,), name="a"), L.Input((4,), name="b")
    merged = [L.Add()([a, b]), L.Subtract()([a, b]), L.Multiply()([a, b]), L.Average()([a, b]),
              L.Maximum()([a, b]), L.Minimum()([a, b]), L.Dot(axes=1)([a, b])]
    joined = L.Concatenate()(merged)
    model = Model([a, b], [L.Dense(2)(joined), L.Dense(1, activation="sigmoid")(joined)])
    assert_model_matches_predict(model, [floats(batch, 4), floats(batch, 4, seed=1)], tmp_path)


@pytest.mark.parametrize("batch", BATCHES)
def test_embedding_and_reshape_family(batch, tmp_path):
    inputs = L.Input((6,), dtype="int32")
    x = L.Embedding(10, 3)(inputs)
    x = L.Permute((2, 1))(L.Reshape((3, 6))(L.Flatten()(x)))
    x = L.RepeatVector(2)(L.Flatten()(x))
    x = L.TimeDistributed(L.Dense(2))(x)
    model = Model(inputs, L.Rescaling(0.5, offset=1.0)(x))
    tokens = np.random.default_rng(0).integers(0, 10, (batch, 6)).astype("int32")
    assert_model_matches_predict(model, [tokens], tmp_path)
