"""Regenerate the Keras 3 fixture files of tests/frontend/test_keras_files.py with real Keras 3.

    KERAS_BACKEND=torch python tests/data/keras3/make_fixtures.py [NAME ...]

Each model NAME gets NAME.keras (Keras 3's zip), for some models NAME.h5 (legacy Keras 2 full
model) and NAME.weights.h5 (Keras 3 weights file), and NAME.npz holding fixed inputs (x0, x1,
...) and Keras's own predictions on them (y0, y1, ...). Written here with Keras 3.15.1 and the
torch backend (its numpy backend imports jax); the files do not depend on the backend.
"""

from __future__ import annotations

import os
import sys

import keras
import numpy as np
from keras import layers

HERE = os.path.dirname(os.path.abspath(__file__))
# also written as Keras 2 style .h5 files
LEGACY_H5 = ("mlp", "cnn", "functional", "compiled", "masked")
WEIGHTS_H5 = ("mlp", "rnn", "functional")  # also written as Keras 3 .weights.h5 files


def mlp():
    model = keras.Sequential(
        [
            keras.Input((8,)),
            layers.Dense(16, activation="relu"),
            layers.BatchNormalization(),
            layers.Dropout(0.25),
            layers.Dense(5, activation="softmax"),
        ],
        name="mlp",
    )
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def cnn():
    model = keras.Sequential(
        [
            keras.Input((11, 11, 3)),
            layers.Conv2D(4, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.SeparableConv2D(5, 3, padding="valid"),
            layers.DepthwiseConv2D(2, depth_multiplier=2),
            layers.ZeroPadding2D(1),
            layers.AveragePooling2D(2),
            layers.Conv2DTranspose(3, 2, strides=2),
            layers.UpSampling2D(2),
            layers.Cropping2D(1),
            layers.GlobalMaxPooling2D(),
            layers.Dense(3),
        ],
        name="cnn",
    )
    model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9), loss="mse", metrics=["mae"])
    return model


def conv1d():
    model = keras.Sequential(
        [
            keras.Input((13, 2)),
            layers.Conv1D(4, 3, dilation_rate=2, activation="tanh"),
            layers.MaxPooling1D(2),
            layers.SeparableConv1D(3, 2),
            layers.DepthwiseConv1D(2),
            layers.ZeroPadding1D(2),
            layers.UpSampling1D(2),
            layers.Cropping1D((1, 2)),
            layers.Conv1DTranspose(2, 3),
            layers.AveragePooling1D(2),
            layers.GlobalAveragePooling1D(),
        ],
        name="conv1d",
    )
    model.compile(optimizer="rmsprop", loss="mae")
    return model


def rnn():
    model = keras.Sequential(
        [
            keras.Input((7,), dtype="int32"),
            layers.Embedding(20, 6, mask_zero=True),
            layers.LSTM(5, return_sequences=True),
            layers.GRU(4, return_sequences=True),
            layers.Bidirectional(layers.SimpleRNN(3, return_sequences=True)),
            layers.TimeDistributed(layers.Dense(2)),
            layers.Flatten(),
        ],
        name="rnn",
    )
    model.compile(optimizer="adam", loss="mse")
    return model


def functional():
    a = keras.Input((6,), name="a")
    b = keras.Input((4, 6), name="b")
    h = layers.Dense(6, activation="gelu", name="proj")(a)
    h = layers.RepeatVector(4)(h)
    s = layers.Add()([h, b])
    m = layers.Multiply()([h, b])
    c = layers.Concatenate(axis=-1)([s, m, layers.Subtract()([h, b])])
    c = layers.LayerNormalization()(c)
    att = layers.MultiHeadAttention(num_heads=2, key_dim=3)(c, c)
    att = layers.Permute((2, 1))(att)
    r = layers.Reshape((-1,))(att)
    r = layers.UnitNormalization()(r)
    out1 = layers.Dense(3, activation="softmax", name="cls")(r)
    out2 = layers.Dense(1, name="reg")(layers.Maximum()([layers.Dense(5)(a), layers.Dense(5)(a)]))
    model = keras.Model([a, b], [out1, out2], name="functional")
    model.compile(
        optimizer="adam",
        loss=["categorical_crossentropy", "mse"],
        metrics=[["accuracy"], ["mae"]],
    )
    return model


def misc():
    x = keras.Input((5, 4))
    h = layers.Dense(4, kernel_initializer="he_normal", bias_initializer="ones")(x)
    h = layers.LeakyReLU(negative_slope=0.2)(h)
    h = layers.PReLU()(h)
    h = layers.ELU()(h)
    h = layers.ReLU(max_value=3.0)(h)
    h = layers.Activation("swish")(h)
    h = layers.GroupNormalization(groups=2)(h)
    h = layers.RMSNormalization()(h)
    h = layers.Rescaling(0.5, offset=0.1)(h)
    h = layers.GaussianNoise(0.1)(h)
    h = layers.GaussianDropout(0.1)(h)
    h = layers.SpatialDropout1D(0.1)(h)
    h = layers.Softmax()(h)
    h = layers.EinsumDense("abc,cd->abd", output_shape=(None, 3), bias_axes="d")(h)
    d = layers.Dot(axes=(2, 2))([h, h])
    h = layers.Average()([layers.Minimum()([d, d]), d])
    h = layers.Attention()([h, h])
    h = layers.AdditiveAttention(use_scale=False)([h, h])
    h = layers.Identity()(h)
    out = layers.GlobalMaxPooling1D()(h)
    model = keras.Model(x, out, name="misc")
    model.compile(optimizer="sgd", loss="mse")
    return model


def extra():
    norm = layers.Normalization(axis=-1)
    norm.adapt(np.random.default_rng(0).normal(2.0, 3.0, size=(50, 1)).astype("float32"))
    model = keras.Sequential(  # Sequential: a functional Masking records Keras ops (NotEqual)
        [
            keras.Input((6, 3)),
            layers.Masking(0.0),
            layers.RNN(layers.LSTMCell(4), return_sequences=True),
            layers.SimpleRNN(3, return_sequences=True),
            layers.Reshape((6, 3, 1)),
            layers.SpatialDropout2D(0.2),
            layers.GlobalAveragePooling2D(),
            norm,
        ],
        name="extra",
    )
    model.compile(optimizer="adamw", loss="huber")
    return model


def nested():
    inner = keras.Sequential(
        [keras.Input((4,)), layers.Dense(3, activation="relu"), layers.Dense(2)], name="inner"
    )
    x = keras.Input((4,))
    model = keras.Model(x, layers.Dense(2)(inner(x)), name="nested")
    model.compile(optimizer="adam", loss="mse")
    return model


def compiled():
    """Compile settings whose Keras configs carry Keras-only keys (ignore_class, schedules)."""
    model = keras.Sequential([keras.Input((4,)), layers.Dense(3)], name="compiled")
    model.compile(
        optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(0.01, 100)),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[
            keras.metrics.SparseCategoricalAccuracy(),
            keras.metrics.SparseTopKCategoricalAccuracy(k=2),
            keras.metrics.SparseCategoricalCrossentropy(from_logits=True),
        ],
    )
    return model


def masked():
    """Functional masks: Keras records Embedding(mask_zero=True)'s as a NotEqual op and
    Masking's as NotEqual then Any, passed to the RNNs as mask= arguments."""
    tokens = keras.Input((5,), dtype="int32")
    h = layers.Embedding(20, 4, mask_zero=True)(tokens)
    h = layers.LSTM(3, return_sequences=True)(h)
    features = keras.Input((5, 2))
    g = layers.GRU(2)(layers.Masking(0.0)(features))
    out = layers.Concatenate()([layers.GRU(2)(h), g])
    model = keras.Model([tokens, features], out, name="masked")
    model.compile(optimizer="adam", loss="mse")
    return model


def inputs_for(model, rng):
    xs = []
    for tensor in model.inputs:
        shape = (3,) + tuple(tensor.shape[1:])
        if "int" in str(tensor.dtype):
            tokens = rng.integers(0, 20, size=shape)
            if model.name == "masked":  # padded (masked) steps at the end and the start
                tokens[0, 3:] = tokens[1, :2] = 0
            xs.append(tokens.astype("int32"))
        else:
            values = rng.normal(size=shape).astype("float32")
            if model.name == "masked":
                values[2, 1:3] = 0.0
            xs.append(values)
    return xs


def write(name, model, rng):
    path = os.path.join(HERE, name)
    if name in ("mlp", "cnn"):  # moving statistics and optimizer state that differ from init
        xs = inputs_for(model, rng)
        ys = [np.asarray(y) for y in keras.tree.flatten(model.predict(xs, verbose=0))]
        model.fit(xs, ys if len(ys) > 1 else ys[0], epochs=2, verbose=0)
    xs = inputs_for(model, rng)
    ys = keras.tree.flatten(model.predict(xs, verbose=0))
    arrays = {f"x{i}": x for i, x in enumerate(xs)}
    arrays.update({f"y{i}": np.asarray(y) for i, y in enumerate(ys)})
    np.savez(path + ".npz", **arrays)
    model.save(path + ".keras")
    if name in WEIGHTS_H5:
        model.save_weights(path + ".weights.h5")
    if name in LEGACY_H5:
        model.save(path + ".h5")


def main(names):
    """Write the models `names` (all when empty)."""
    keras.utils.set_random_seed(15)
    rng = np.random.default_rng(15)
    for name, build in [
        ("mlp", mlp), ("cnn", cnn), ("conv1d", conv1d), ("rnn", rnn),
        ("functional", functional), ("misc", misc), ("extra", extra),
        ("nested", nested), ("compiled", compiled), ("masked", masked),
    ]:
        model = build()  # every model, so that the random streams stay the same
        if not names or name in names:
            write(name, model, rng)
            print("wrote", name)


if __name__ == "__main__":
    main(sys.argv[1:])
