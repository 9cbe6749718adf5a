"""Models: Sequential and functional construction, summary text, weights order, configs."""

import io

import numpy as np
import pytest

import frontend as keras
from frontend.layers import (
    Add,
    BatchNormalization,
    Concatenate,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    Input,
    Lambda,
    Reshape,
    concatenate,
)
from frontend.models import Model, Sequential, model_from_json

SEQUENTIAL_SUMMARY = """\
Model: "sequential"
_________________________________________________________________
Layer (type)                 Output Shape              Param #
=================================================================
dense (Dense)                (None, 500)               392500
_________________________________________________________________
dropout (Dropout)            (None, 500)               0
_________________________________________________________________
dense_1 (Dense)              (None, 10)                5010
=================================================================
Total params: 397,510
Trainable params: 397,510
Non-trainable params: 0
_________________________________________________________________
"""

FUNCTIONAL_SUMMARY = """\
Model: "functional"
__________________________________________________________________________________________________
Layer (type)                    Output Shape         Param #     Connected to
==================================================================================================
a (InputLayer)                  [(None, 4)]          0
__________________________________________________________________________________________________
dense (Dense)                   (None, 8)            40          a[0][0]
__________________________________________________________________________________________________
b (InputLayer)                  [(None, 3)]          0
__________________________________________________________________________________________________
concatenate (Concatenate)       (None, 11)           0           dense[0][0]
                                                                 b[0][0]
__________________________________________________________________________________________________
batch_normalization (BatchNorma (None, 11)           44          concatenate[0][0]
__________________________________________________________________________________________________
out (Dense)                     (None, 2)            24          batch_normalization[0][0]
==================================================================================================
Total params: 108
Trainable params: 86
Non-trainable params: 22
__________________________________________________________________________________________________
"""


def summary_text(model):
    """The summary with trailing padding removed (Keras pads every row to the line length)."""
    lines = []
    model.summary(print_fn=lines.append)
    widths = {len(line) for line in lines[1:]}
    assert max(widths) in (65, 98) and all(len(line) <= max(widths) for line in lines)
    return "\n".join(line.rstrip() for line in lines) + "\n"


def test_sequential_summary_matches_keras_format():
    model = Sequential(
        [
            Dense(500, activation="relu", input_shape=(784,)),
            Dropout(0.2),
            Dense(10, activation="softmax"),
        ]
    )
    assert summary_text(model) == SEQUENTIAL_SUMMARY


def two_input_model():
    a, b = Input(shape=(4,), name="a"), Input(shape=(3,), name="b")
    x = concatenate([Dense(8, activation="relu")(a), b])
    out = Dense(2, activation="softmax", name="out")(BatchNormalization()(x))
    return Model(inputs=[a, b], outputs=out)


def test_functional_summary_has_connections(capsys):
    model = two_input_model()
    assert summary_text(model) == FUNCTIONAL_SUMMARY
    model.summary()
    printed = capsys.readouterr().out.splitlines()
    assert "\n".join(line.rstrip() for line in printed) + "\n" == FUNCTIONAL_SUMMARY


def test_unbuilt_sequential_summary_explains():
    with pytest.raises(ValueError, match="not been built"):
        Sequential([Dense(3)]).summary()


def test_sequential_builds_from_first_data():
    model = Sequential([Dense(4, activation="relu"), Dense(1)])
    model.compile("sgd", "mse", backend="numpy")
    model.fit(np.ones((8, 5)), np.ones(8), verbose=0)
    assert model.input_shapes == [(None, 5)]
    assert [w.shape for w in model.weights] == [(5, 4), (4,), (4, 1), (1,)]


def test_weights_in_keras_order_and_set_weights_checks():
    model = two_input_model()
    names = [w.name for w in model.weights]
    assert names == [
        "dense/kernel",
        "dense/bias",
        "batch_normalization/gamma",
        "batch_normalization/beta",
        "batch_normalization/moving_mean",
        "batch_normalization/moving_variance",
        "out/kernel",
        "out/bias",
    ]
    weights = [np.full(w.shape, i, np.float32) for i, w in enumerate(model.weights)]
    model.set_weights(weights)
    for got, want in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="expects 8 weight arrays"):
        model.set_weights(weights[:-1])
    with pytest.raises(ValueError, match="shape"):
        model.set_weights(weights[:-1] + [np.zeros(3)])


def test_get_layer_and_layers():
    model = two_input_model()
    # Keras's order: by depth from the outputs, ties in traversal order
    assert [layer.name for layer in model.layers] == [
        "a",
        "dense",
        "b",
        "concatenate",
        "batch_normalization",
        "out",
    ]
    assert model.get_layer("out") is model.layers[-1]
    assert model.get_layer(index=1).name == "dense"
    with pytest.raises(ValueError, match="No such layer"):
        model.get_layer("nope")


def test_functional_multi_output_training_and_logs():
    a = Input(shape=(4,))
    hidden = Dense(8, activation="tanh")(a)
    yes_no = Dense(1, activation="sigmoid", name="yes_no")(hidden)
    kind = Dense(3, activation="softmax", name="kind")(hidden)
    model = Model(a, [yes_no, kind])
    model.compile(
        "adam",
        loss={"yes_no": "binary_crossentropy", "kind": "sparse_categorical_crossentropy"},
        loss_weights=[1.0, 0.5],
        metrics=["accuracy"],
        backend="numpy",
    )
    x = np.random.default_rng(0).random((32, 4))
    history = model.fit(
        x, {"yes_no": x[:, :1] > 0.5, "kind": np.arange(32) % 3}, epochs=1, batch_size=8, verbose=0
    )
    assert list(history.history) == [
        "loss",
        "yes_no_loss",
        "kind_loss",
        "yes_no_accuracy",
        "kind_accuracy",
    ]
    logs = history.history
    assert logs["loss"][0] == pytest.approx(
        logs["yes_no_loss"][0] + 0.5 * logs["kind_loss"][0], rel=1e-5
    )
    assert len(model.predict(x, verbose=0)) == 2


def test_config_and_json_round_trip_give_the_same_predictions():
    model = two_input_model()
    clone = model_from_json(model.to_json())
    clone.set_weights(model.get_weights())
    xa, xb = np.random.rand(5, 4), np.random.rand(5, 3)
    np.testing.assert_allclose(
        clone.predict([xa, xb], verbose=0), model.predict([xa, xb], verbose=0), rtol=1e-6
    )
    seq = Sequential([Input(shape=(6,)), Reshape((2, 3)), Flatten(), Dense(2)])
    seq2 = Sequential.from_config(seq.get_config())
    assert [type(layer).__name__ for layer in seq2.layers] == ["Reshape", "Flatten", "Dense"]


def test_shared_layer_and_nested_model():
    shared = Dense(3, name="shared")
    a, b = Input(shape=(2,)), Input(shape=(2,))
    added = Add()([shared(a), shared(b)])
    inner = Sequential([Input(shape=(3,)), Dense(1, name="head")])
    model = Model([a, b], inner(added))
    assert len(model.weights) == 4
    x = np.ones((2, 2), np.float32)
    w, bias = shared.get_weights()
    head_w, head_b = inner.get_weights()
    expected = (2 * (x @ w + bias)) @ head_w + head_b
    np.testing.assert_allclose(
        model.predict(
            [x, x],
            verbose=0,
        ),
        expected,
        rtol=1e-5,
    )
    clone = Model.from_config(model.get_config())
    assert len(clone.weights) == 4


def test_graph_disconnected_error():
    a, b = Input(shape=(2,)), Input(shape=(2,))
    out = Concatenate()([a, b])
    with pytest.raises(ValueError, match="Graph disconnected"):
        Model(a, out)


def test_embedding_and_lambda_in_a_model():
    model = Sequential(
        [
            Input(shape=(5,), dtype="int32"),
            Embedding(10, 4),
            Flatten(),
            Lambda(lambda t: t * 2.0),
            Dense(1),
        ]
    )
    model.compile("sgd", "mse", backend="numpy")
    ids = np.random.default_rng(0).integers(0, 10, (16, 5))
    model.fit(ids, np.ones(16), batch_size=8, verbose=0)
    assert model.predict(ids, verbose=0).shape == (16, 1)


def test_print_fn_receives_each_line():
    model = Sequential([Dense(2, input_shape=(3,))])
    buffer = io.StringIO()
    model.summary(print_fn=lambda line: buffer.write(line + "\n"))
    assert "Total params: 8" in buffer.getvalue()


def test_layer_records_for_plot_model():
    records = two_input_model().layer_records()
    assert records[1] == {
        "name": "dense",
        "type": "Dense",
        "input_shapes": [(None, 4)],
        "output_shapes": [(None, 8)],
        "dtype": "float32",
        "params": 40,
        "trainable": True,
        "activation": "relu",
        "inbound": ["a"],
    }
    assert records[3]["inbound"] == ["dense", "b"]
    assert records[0]["type"] == "InputLayer" and records[0]["inbound"] == []


def test_keras_import_style():
    model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(2)])
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.MeanSquaredError(),
        metrics=[keras.metrics.MeanAbsoluteError()],
        backend="numpy",
    )
    loss, mae = model.evaluate(np.ones((4, 3)), np.zeros((4, 2)), verbose=0)
    assert loss >= 0 and mae >= 0
