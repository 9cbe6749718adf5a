"""Sequential MLP tutorials of Keras 1 and 2 and TensorFlow 2 (MNIST digits, dense layers);
the functional-API MLP tutorials are in test_functional_tutorials.py."""

import re
import warnings

import numpy as np
import pytest

from .helpers import N_TEST, NUMBER, keeps_learning

# ---- Keras 1: examples/mnist_mlp.py ------------------------------------------------------------


def tutorial_keras1_mnist_mlp(data, nb_epoch=2):
    import numpy as np

    np.random.seed(1337)  # for reproducibility

    from frontend.layers.core import Activation, Dense, Dropout
    from frontend.models import Sequential
    from frontend.optimizers import SGD, Adam, RMSprop  # noqa: F401 - the tutorial imports all three
    from frontend.utils import np_utils

    batch_size = 128
    nb_classes = 10

    (X_train, y_train), (X_test, y_test) = data
    X_train = X_train.reshape(500, 784)
    X_test = X_test.reshape(200, 784)
    X_train = X_train.astype("float32")
    X_test = X_test.astype("float32")
    X_train /= 255
    X_test /= 255
    print(X_train.shape[0], "train samples")
    print(X_test.shape[0], "test samples")

    Y_train = np_utils.to_categorical(y_train, nb_classes)
    Y_test = np_utils.to_categorical(y_test, nb_classes)

    model = Sequential()
    model.add(Dense(512, input_shape=(784,)))
    model.add(Activation("relu"))
    model.add(Dropout(0.2))
    model.add(Dense(512))
    model.add(Activation("relu"))
    model.add(Dropout(0.2))
    model.add(Dense(10))
    model.add(Activation("softmax"))

    model.summary()

    model.compile(loss="categorical_crossentropy", optimizer=RMSprop(), metrics=["accuracy"])

    history = model.fit(
        X_train,
        Y_train,
        batch_size=batch_size,
        nb_epoch=nb_epoch,
        verbose=1,
        validation_data=(X_test, Y_test),
    )
    score = model.evaluate(X_test, Y_test, verbose=0)
    print("Test score:", score[0])
    print("Test accuracy:", score[1])
    return model, history, score


def test_keras1_mnist_mlp(data, backend, capsys):
    with pytest.warns(DeprecationWarning, match="nb_epoch.*epochs"):
        model, history, score = tutorial_keras1_mnist_mlp(data)
    assert keeps_learning(history)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert score[1] > 0.5  # ten classes: chance is 0.1
    out = capsys.readouterr().out
    assert "Total params: 669,706" in out  # 784*512+512 + 512*512+512 + 512*10+10
    assert "Test accuracy:" in out


# ---- Keras 2: examples/mnist_mlp.py ------------------------------------------------------------


def tutorial_keras2_mnist_mlp(data, epochs=2):
    import frontend as keras
    from frontend.layers import Dense, Dropout
    from frontend.models import Sequential
    from frontend.optimizers import RMSprop

    batch_size = 128
    num_classes = 10

    (x_train, y_train), (x_test, y_test) = data
    x_train = x_train.reshape(500, 784)
    x_test = x_test.reshape(200, 784)
    x_train = x_train.astype("float32")
    x_test = x_test.astype("float32")
    x_train /= 255
    x_test /= 255

    # class vectors to one-hot matrices
    y_train = keras.utils.to_categorical(y_train, num_classes)
    y_test = keras.utils.to_categorical(y_test, num_classes)

    model = Sequential()
    model.add(Dense(512, activation="relu", input_shape=(784,)))
    model.add(Dropout(0.2))
    model.add(Dense(512, activation="relu"))
    model.add(Dropout(0.2))
    model.add(Dense(num_classes, activation="softmax"))

    model.summary()

    model.compile(loss="categorical_crossentropy", optimizer=RMSprop(), metrics=["accuracy"])

    history = model.fit(
        x_train,
        y_train,
        batch_size=batch_size,
        epochs=epochs,
        verbose=1,
        validation_data=(x_test, y_test),
    )
    score = model.evaluate(x_test, y_test, verbose=0)
    print("Test loss:", score[0])
    print("Test accuracy:", score[1])
    return model, history, score, x_test


def test_keras2_mnist_mlp(data, backend):
    model, history, score, x_test = tutorial_keras2_mnist_mlp(data)
    assert keeps_learning(history) and keeps_learning(history, "val_loss")
    assert score[1] > 0.5
    # the "predict_classes" idiom of Keras 2.6 and later
    predicted = np.argmax(model.predict(x_test), axis=1)
    assert predicted.shape == (N_TEST,) and predicted.dtype.kind == "i"
    assert np.mean(predicted == data[1][1]) == pytest.approx(score[1], abs=1e-6)


# ---- the 784-500-500-10 tutorial this project grew from ---------------------------------------


def tutorial_mlp_784_500_500_10(data, activation, epochs=2):
    import frontend as keras
    from frontend.layers import Activation, Dense
    from frontend.models import Sequential

    (x_train, y_train), (x_test, y_test) = data
    x_train = x_train.reshape(-1, 784).astype("float32") / 255
    x_test = x_test.reshape(-1, 784).astype("float32") / 255
    y_train = keras.utils.to_categorical(y_train, 10)
    y_test = keras.utils.to_categorical(y_test, 10)

    model = Sequential()
    model.add(Dense(500, input_dim=784))
    model.add(Activation(activation))
    model.add(Dense(500))
    model.add(Activation(activation))
    model.add(Dense(10))
    model.add(Activation("softmax"))

    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=100, epochs=epochs)
    loss, accuracy = model.evaluate(x_test, y_test, batch_size=100)
    probabilities = model.predict(x_test)
    classes = model.predict_classes(x_test)  # Keras 1/2 spelling
    return history, accuracy, probabilities, classes


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_mlp_784_500_500_10(data, backend, activation):
    with pytest.warns(DeprecationWarning) as caught:
        history, accuracy, probabilities, classes = tutorial_mlp_784_500_500_10(data, activation)
    messages = " ".join(str(w.message) for w in caught)
    assert "input_dim" in messages and "predict_classes" in messages
    assert keeps_learning(history)
    assert accuracy > 0.3
    assert probabilities.shape == (N_TEST, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(classes, np.argmax(probabilities, axis=1))


# ---- Keras 1: "Getting started with the Sequential model" (SGD with Nesterov momentum) --------


def tutorial_keras1_sgd_nesterov(data, nb_epoch=2):
    from frontend.layers.core import Activation, Dense, Dropout
    from frontend.models import Sequential
    from frontend.optimizers import SGD
    from frontend.utils.np_utils import to_categorical

    (X_train, y_train), (X_test, y_test) = data
    X_train = X_train.reshape(500, 784).astype("float32") / 255
    X_test = X_test.reshape(200, 784).astype("float32") / 255
    y_train, y_test = to_categorical(y_train, 10), to_categorical(y_test, 10)

    model = Sequential()
    # Dense(64) is a layer of 64 units; the first layer states the input size
    model.add(Dense(64, input_dim=784, init="uniform"))
    model.add(Activation("tanh"))
    model.add(Dropout(0.5))
    model.add(Dense(64, init="uniform"))
    model.add(Activation("tanh"))
    model.add(Dropout(0.5))
    model.add(Dense(10, init="uniform"))
    model.add(Activation("softmax"))

    sgd = SGD(lr=0.1, decay=1e-6, momentum=0.9, nesterov=True)
    model.compile(loss="categorical_crossentropy", optimizer=sgd, metrics=["accuracy"])

    history = model.fit(X_train, y_train, nb_epoch=nb_epoch, batch_size=16)
    score = model.evaluate(X_test, y_test, batch_size=16)
    return model, history, score


def test_keras1_sgd_nesterov(data, backend):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model, history, score = tutorial_keras1_sgd_nesterov(data)
    messages = {str(w.message).split(":")[1].strip().split()[0] for w in caught}
    assert {"`input_dim`", "`init`", "`lr`", "`decay`", "`nb_epoch`"} <= messages
    assert all(w.category is DeprecationWarning for w in caught)
    assert all(w.filename == __file__ for w in caught)  # each points at the tutorial's line
    assert keeps_learning(history)
    assert score[1] > 0.5
    # decay=1e-6: Keras 2's lr / (1 + decay * iterations) after 2 epochs of 32 steps
    assert model.optimizer.learning_rate == pytest.approx(0.1 / (1 + 1e-6 * 64), rel=1e-6)


# ---- Keras 1: output_dim and a verbose=2 fit --------------------------------------------------


def tutorial_keras1_output_dim(data):
    from frontend.layers.core import Dense
    from frontend.models import Sequential
    from frontend.utils import np_utils

    nb_classes = 10
    (X_train, y_train), (X_test, y_test) = data
    X_train = X_train.reshape(500, 784)
    X_test = X_test.reshape(200, 784)
    X_train = X_train.astype("float32")
    X_test = X_test.astype("float32")
    X_train /= 255
    X_test /= 255
    Y_train = np_utils.to_categorical(y_train, nb_classes)
    Y_test = np_utils.to_categorical(y_test, nb_classes)

    model = Sequential()
    model.add(Dense(output_dim=100, input_dim=784, activation="relu"))
    model.add(Dense(output_dim=200, activation="relu"))
    model.add(Dense(output_dim=nb_classes, activation="softmax"))
    model.summary()
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(
        X_train, Y_train, batch_size=128, epochs=2, verbose=2, validation_data=(X_test, Y_test)
    )
    score = model.evaluate(X_test, Y_test, verbose=0)
    print("Test accuracy:", score[1])
    return model, score


def test_keras1_output_dim(data, backend, capsys):
    with pytest.warns(DeprecationWarning) as caught:
        model, score = tutorial_keras1_output_dim(data)
    assert any("`output_dim` is the Keras 1 name of `units`" in str(w.message) for w in caught)
    assert [layer.units for layer in model.layers] == [100, 200, 10]
    assert score[1] > 0.5
    out = capsys.readouterr().out
    assert "Total params: 100,710" in out  # 784*100+100 + 100*200+200 + 200*10+10


# ---- Keras 2 (tf.keras): the TensorFlow 2 "quickstart for beginners" --------------------------


def tutorial_tf2_quickstart(data):
    import frontend as keras

    (x_train, y_train), (x_test, y_test) = data
    x_train, x_test = x_train / 255.0, x_test / 255.0

    model = keras.models.Sequential(
        [
            keras.layers.Flatten(input_shape=(28, 28)),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(10),
        ]
    )
    # logits of one digit, before any training (the tutorial adds TensorFlow's .numpy() here)
    predictions = model(x_train[:1])
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    initial_loss = loss_fn(y_train[:1], predictions)

    model.compile(optimizer="adam", loss=loss_fn, metrics=["accuracy"])
    history = model.fit(x_train, y_train, epochs=2)
    scores = model.evaluate(x_test, y_test, verbose=2)

    # wrap the trained model to return probabilities
    probability_model = keras.Sequential([model, keras.layers.Softmax()])
    probabilities = probability_model(x_test[:5])
    return predictions, initial_loss, history, scores, probability_model, probabilities


def test_tf2_quickstart(data, backend, capsys):
    predictions, initial_loss, history, scores, probability_model, probabilities = (
        tutorial_tf2_quickstart(data)
    )
    # verbose=2 evaluate: one line, as tf.keras prints it
    last = capsys.readouterr().out.splitlines()[-1]
    assert re.fullmatch(rf"7/7 - \d+s - loss: {NUMBER} - accuracy: {NUMBER} - .*", last), last
    assert predictions.shape == (1, 10)
    assert 1.0 < float(initial_loss) < 5.0  # about -log(1/10) for an untrained model
    assert keeps_learning(history) and scores[1] > 0.5
    assert probabilities.shape == (5, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)
    x_test = data[1][0] / 255.0
    np.testing.assert_allclose(probability_model.predict(x_test[:5]), probabilities, rtol=1e-4)
