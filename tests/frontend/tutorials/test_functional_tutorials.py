"""Functional-API MLP tutorials of Keras 1 and 3 (MNIST digits): Model(input=, output=) with
Keras 1 names, and the Keras 3 guide with sparse labels, logits and .keras saving."""

import numpy as np
import pytest

from .helpers import keeps_learning

# ---- Keras 1: a functional model with Model(input=, output=) ----------------------------------


def tutorial_keras1_functional(data, num_epochs=2):
    from frontend.layers import Dense, Input
    from frontend.models import Model
    from frontend.utils import np_utils

    batch_size = 128
    hidden_size = 512
    height, width = 28, 28
    num_classes = 10

    (X_train, y_train), (X_test, y_test) = data
    X_train = X_train.reshape(500, height * width).astype("float32") / 255
    X_test = X_test.reshape(200, height * width).astype("float32") / 255
    Y_train = np_utils.to_categorical(y_train, num_classes)
    Y_test = np_utils.to_categorical(y_test, num_classes)

    inp = Input(shape=(height * width,))
    hidden_1 = Dense(hidden_size, activation="relu")(inp)
    hidden_2 = Dense(hidden_size, activation="relu")(hidden_1)
    out = Dense(num_classes, activation="softmax")(hidden_2)

    model = Model(input=inp, output=out)
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    history = model.fit(
        X_train,
        Y_train,
        batch_size=batch_size,
        nb_epoch=num_epochs,
        verbose=1,
        validation_split=0.1,
    )
    score = model.evaluate(X_test, Y_test, verbose=1)
    return history, score


def test_keras1_functional(data, backend):
    with pytest.warns(DeprecationWarning) as caught:
        history, score = tutorial_keras1_functional(data)
    messages = " ".join(str(w.message) for w in caught)
    assert "`input`" in messages and "`output`" in messages and "`nb_epoch`" in messages
    assert len(history.history["val_loss"]) == 2 and keeps_learning(history)
    assert score[1] > 0.5


# ---- Keras 3: the functional-API guide (sparse labels, logits, .keras saving) ----------------


def tutorial_keras3_functional_guide(data, path="my_model.keras"):
    import frontend as keras
    from frontend import layers

    inputs = keras.Input(shape=(784,))
    x = layers.Dense(64, activation="relu")(inputs)
    x = layers.Dense(64, activation="relu")(x)
    outputs = layers.Dense(10)(x)
    model = keras.Model(inputs=inputs, outputs=outputs, name="mnist_model")

    (x_train, y_train), (x_test, y_test) = data
    x_train = x_train.reshape(500, 784).astype("float32") / 255
    x_test = x_test.reshape(200, 784).astype("float32") / 255

    model.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        optimizer=keras.optimizers.RMSprop(),
        metrics=["accuracy"],
    )
    history = model.fit(x_train, y_train, batch_size=64, epochs=2, validation_split=0.2)
    test_scores = model.evaluate(x_test, y_test, verbose=2)
    print("Test loss:", test_scores[0])
    print("Test accuracy:", test_scores[1])

    model.save(path)
    predictions = model.predict(x_test)
    del model
    # the same model, rebuilt from the file alone
    model = keras.models.load_model(path)
    return history, test_scores, predictions, model, x_test


def test_keras3_functional_guide(data, backend, in_tmp):
    history, scores, predictions, reloaded, x_test = tutorial_keras3_functional_guide(data)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert keeps_learning(history)
    assert scores[1] > 0.5
    assert reloaded.name == "mnist_model"
    np.testing.assert_array_equal(reloaded.predict(x_test), predictions)
    assert reloaded.evaluate(x_test, data[1][1], verbose=0) == pytest.approx(scores)
