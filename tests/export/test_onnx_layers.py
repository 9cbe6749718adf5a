"""More frontend layers through ONNX: normalizations, activation layers, attention layers,
EinsumDense, CategoryEncoding, inference-time no-ops, a masked LSTM, GRU with
reset_after=False, TimeDistributed and Lambda; each equals `predict` at batch sizes 1 and 7."""

import numpy as np
import pytest

import frontend.layers as L
from frontend.models import Model
from tests.export.onnx_checks import assert_model_matches_predict

FLOATS = {
    "GroupNormalization": (lambda i: L.GroupNormalization(2)(i), (5, 4)),
    "RMSNormalization": (lambda i: L.RMSNormalization()(i), (5, 4)),
    "UnitNormalization": (lambda i: L.UnitNormalization()(i), (5, 4)),
    "Normalization": (lambda i: L.Normalization(mean=1.0, variance=2.0)(i), (4,)),
    "PReLU": (lambda i: L.PReLU()(i), (4,)),
    "LeakyReLU": (lambda i: L.LeakyReLU(0.2)(i), (4,)),
    "ELU": (lambda i: L.ELU(0.5)(i), (4,)),
    "ReLU": (lambda i: L.ReLU(max_value=1.0, negative_slope=0.1, threshold=0.2)(i), (4,)),
    "Softmax": (lambda i: L.Softmax(axis=1)(i), (3, 4)),
    "Attention": (lambda i: L.Attention(use_scale=True)([i, i]), (3, 4)),
    "AdditiveAttention": (lambda i: L.AdditiveAttention()([i, i]), (3, 4)),
    "EinsumDense": (lambda i: L.EinsumDense("abc,cd->abd", (3, 2), bias_axes="d")(i), (3, 4)),
    "noise and dropout": (
        lambda i: L.SpatialDropout1D(0.3)(L.GaussianNoise(0.2)(L.GaussianDropout(0.1)(
            L.Dropout(0.5)(i)))), (3, 4)),
    "GlobalMaxPooling1D": (lambda i: L.GlobalMaxPooling1D()(i), (5, 2)),
    "GlobalAveragePooling2D": (lambda i: L.GlobalAveragePooling2D()(i), (3, 4, 2)),
    "Masking + LSTM": (lambda i: L.LSTM(3)(L.Masking(0.0)(i)), (3, 4)),
    "GRU reset_after=False": (lambda i: L.GRU(3, reset_after=False)(i), (3, 4)),
    "LSTM relu": (lambda i: L.LSTM(3, activation="relu")(i), (3, 4)),
    "TimeDistributed Conv1D": (lambda i: L.TimeDistributed(L.Conv1D(2, 2))(i), (3, 4, 2)),
    "Lambda": (lambda i: L.Lambda(lambda t: t * 2 - 1)(i), (3, 4)),
    "dilated Conv2DTranspose": (lambda i: L.Conv2DTranspose(2, 3, dilation_rate=2)(i), (5, 6, 2)),
}
INTEGERS = {
    "CategoryEncoding": (lambda i: L.CategoryEncoding(6, output_mode="multi_hot")(i), (3,)),
    "Embedding mask_zero + GRU": (lambda i: L.GRU(3)(L.Embedding(5, 2, mask_zero=True)(i)), (4,)),
}


@pytest.mark.parametrize("batch", [1, 7])
@pytest.mark.parametrize("name", sorted(FLOATS))
def test_float_layer(name, batch, tmp_path):
    build, shape = FLOATS[name]
    inputs = L.Input(shape)
    x = np.random.default_rng(batch).normal(size=(batch, *shape)).astype("float32")
    x[:, -1] = 0  # a masked last step for Masking
    assert_model_matches_predict(Model(inputs, build(inputs)), [x], tmp_path)


@pytest.mark.parametrize("batch", [1, 7])
@pytest.mark.parametrize("name", sorted(INTEGERS))
def test_integer_input_layer(name, batch, tmp_path):
    build, shape = INTEGERS[name]
    inputs = L.Input(shape, dtype="int32")
    tokens = np.random.default_rng(batch).integers(0, 5, (batch, *shape)).astype("int32")
    assert_model_matches_predict(Model(inputs, build(inputs)), [tokens], tmp_path)
