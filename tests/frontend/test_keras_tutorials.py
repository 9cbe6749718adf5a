"""Keras MNIST tutorials of three eras, run on graphc with only their imports changed.

Each `tutorial_*` function below is the code a public Keras tutorial teaches, rewritten in our
own words but with the Keras API calls exactly as the tutorial makes them; only the import
lines say `frontend` instead of `keras`. The sizes are shrunk so the file runs in seconds:
500 training and 200 test digits of `mnist.load_data()` (offline: the packaged sample) are
passed in as `data`, 1-2 epochs instead of 12-20, and hard-coded sample counts
(`reshape(60000, 784)`) become the small ones. Each runs on the NumPy interpreter and on the
LLVM backend (chosen with `frontend.backend.set_default_backend`, so the tutorial's own
`compile()` call is unchanged).

Sources (facts only): keras-team/keras examples/mnist_mlp.py (its Keras 1 and Keras 2
versions) and examples/mnist_cnn.py (Keras 2), the Keras 1 "Getting started with the
Sequential model" guide (SGD with nesterov, `init=`, `nb_epoch=`), Keras 1 lab scripts
(`Dense(output_dim=..., input_dim=784)`, `Model(input=, output=)`), the Keras 2 guide's
"Sequence classification with 1D convolutions", the TensorFlow 2 beginner quickstart
(Flatten, logits, `Sequential([model, Softmax()])`), keras.io's Keras 3 "Simple MNIST
convnet" and functional-API guide (sparse labels, from_logits, `.keras` saving), the Keras 2
optimizer reference (arguments `lr`, `decay`, `epsilon=None`, `schedule_decay`), a
`K.get_value`/`K.set_value` learning-rate schedule, and the widespread "save your model to
JSON and HDF5" blog recipe (`to_json` + `save_weights('model.h5')`, `model_from_json`).
"""

import os
import re
import warnings

import numpy as np
import pytest

import frontend

from .conftest import BACKENDS

N_TRAIN, N_TEST = 500, 200


@pytest.fixture(scope="module", autouse=True)
def offline(tmp_path_factory):
    """load_data() without the network (a hanging one must not stall the tests) and without
    touching ~/.graphc: it returns the packaged 5k-digit sample."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRAPHC_OFFLINE", "1")
        patch.setenv("GRAPHC_HOME", str(tmp_path_factory.mktemp("graphc_home")))
        yield


@pytest.fixture(scope="module")
def data(offline):
    """`mnist.load_data()`, shrunk to 500 training and 200 test digits."""
    from frontend.datasets import mnist

    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    return (x_train[:N_TRAIN], y_train[:N_TRAIN]), (x_test[:N_TEST], y_test[:N_TEST])


@pytest.fixture(params=BACKENDS)
def backend(request):
    """Run the tutorial's unchanged compile() call on this graphc backend."""
    frontend.backend.set_default_backend(request.param)
    frontend.utils.set_random_seed(1)
    return request.param


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Tutorials save to the working directory: make that a fresh temporary one."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_or_skip_missing_emitter(tutorial, *args):
    """Run the tutorial; while the LLVM backend still lacks an op the tutorial needs (it says
    which one), skip with its message rather than fail."""
    try:
        return tutorial(*args)
    except NotImplementedError as err:
        if frontend.backend.default_backend() == "llvm" and "has no LLVM emitter" in str(err):
            pytest.skip(str(err).split(" (node")[0])
        raise


def keeps_learning(history, key="loss"):
    values = history.history[key]
    return values[-1] < values[0]


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


# ---- Keras 3: keras.io "Simple MNIST convnet" -------------------------------------------------


def tutorial_keras3_mnist_convnet(epochs=1):
    import numpy as np

    import frontend as keras
    from frontend import layers

    num_classes = 10
    input_shape = (28, 28, 1)

    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    # graphc test: keep 500 training and 200 test digits
    (x_train, y_train), (x_test, y_test) = (
        (x_train[:500], y_train[:500]),
        (x_test[:200], y_test[:200]),
    )
    x_train = x_train.astype("float32") / 255
    x_test = x_test.astype("float32") / 255
    x_train = np.expand_dims(x_train, -1)
    x_test = np.expand_dims(x_test, -1)
    y_train = keras.utils.to_categorical(y_train, num_classes)
    y_test = keras.utils.to_categorical(y_test, num_classes)

    model = keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(num_classes, activation="softmax"),
        ]
    )
    model.summary()

    batch_size = 128
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    history = model.fit(
        x_train, y_train, batch_size=batch_size, epochs=epochs, validation_split=0.1
    )
    score = model.evaluate(x_test, y_test, verbose=0)
    print("Test loss:", score[0])
    print("Test accuracy:", score[1])
    return model, history, score


def test_keras3_mnist_convnet(backend, capsys):
    model, history, score = run_or_skip_missing_emitter(tutorial_keras3_mnist_convnet)
    assert model.output_shape == (None, 10)
    assert "Total params: 34,826" in capsys.readouterr().out  # keras.io shows the same count
    assert np.isfinite(score[0]) and score[1] > 0.2


# ---- Keras 2: examples/mnist_cnn.py (K.image_data_format, Adadelta) ---------------------------


def tutorial_keras2_mnist_cnn(data, epochs=1):
    import frontend as keras
    from frontend import backend as K
    from frontend.layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D
    from frontend.models import Sequential

    batch_size = 128
    num_classes = 10
    img_rows, img_cols = 28, 28

    (x_train, y_train), (x_test, y_test) = data
    if K.image_data_format() == "channels_first":
        x_train = x_train.reshape(x_train.shape[0], 1, img_rows, img_cols)
        x_test = x_test.reshape(x_test.shape[0], 1, img_rows, img_cols)
        input_shape = (1, img_rows, img_cols)
    else:
        x_train = x_train.reshape(x_train.shape[0], img_rows, img_cols, 1)
        x_test = x_test.reshape(x_test.shape[0], img_rows, img_cols, 1)
        input_shape = (img_rows, img_cols, 1)
    x_train = x_train.astype("float32")
    x_test = x_test.astype("float32")
    x_train /= 255
    x_test /= 255
    print("x_train shape:", x_train.shape)

    y_train = keras.utils.to_categorical(y_train, num_classes)
    y_test = keras.utils.to_categorical(y_test, num_classes)

    model = Sequential()
    model.add(Conv2D(32, kernel_size=(3, 3), activation="relu", input_shape=input_shape))
    model.add(Conv2D(64, (3, 3), activation="relu"))
    model.add(MaxPooling2D(pool_size=(2, 2)))
    model.add(Dropout(0.25))
    model.add(Flatten())
    model.add(Dense(128, activation="relu"))
    model.add(Dropout(0.5))
    model.add(Dense(num_classes, activation="softmax"))

    model.compile(
        loss=keras.losses.categorical_crossentropy,
        optimizer=keras.optimizers.Adadelta(),
        metrics=["accuracy"],
    )
    model.fit(
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
    return model, score


def test_keras2_mnist_cnn(data, backend, capsys):
    # 256 training digits, 1 epoch: two full-resolution convolutions make this the costly one.
    # Keras 3's Adadelta() starts at learning rate 0.001 (Keras 2's at 1.0), so it barely moves.
    (x_train, y_train), test = data
    model, score = run_or_skip_missing_emitter(
        tutorial_keras2_mnist_cnn, ((x_train[:256], y_train[:256]), test)
    )
    assert model.output_shape == (None, 10) and model.count_params() == 1_199_882
    assert np.isfinite(score[0]) and 0 <= score[1] <= 1
    assert "x_train shape: (256, 28, 28, 1)" in capsys.readouterr().out  # channels_last branch


# ---- Keras 2 guide: sequence classification with 1D convolutions -----------------------------


def tutorial_keras2_conv1d(x_train, y_train, x_test, y_test, seq_length=28):
    from frontend.layers import Conv1D, Dense, Dropout, GlobalAveragePooling1D, MaxPooling1D
    from frontend.models import Sequential

    model = Sequential()
    model.add(Conv1D(64, 3, activation="relu", input_shape=(seq_length, 28)))
    model.add(Conv1D(64, 3, activation="relu"))
    model.add(MaxPooling1D(3))
    model.add(Conv1D(128, 3, activation="relu"))
    model.add(Conv1D(128, 3, activation="relu"))
    model.add(GlobalAveragePooling1D())
    model.add(Dropout(0.5))
    model.add(Dense(1, activation="sigmoid"))

    model.compile(loss="binary_crossentropy", optimizer="rmsprop", metrics=["accuracy"])

    history = model.fit(x_train, y_train, batch_size=16, epochs=2)
    score = model.evaluate(x_test, y_test, batch_size=16)
    return model, history, score


def test_keras2_conv1d(data, backend):
    # each digit as a sequence of 28 rows of 28 pixels; the task: is the digit even?
    # (320 training digits: the tutorial's batch size of 16 makes steps the cost here)
    (x_train, y_train), (x_test, y_test) = data
    x_train, y_train = x_train[:320], y_train[:320]
    x_train, x_test = x_train.astype("float32") / 255, x_test.astype("float32") / 255
    y_train, y_test = (y_train % 2 == 0).astype("float32"), (y_test % 2 == 0).astype("float32")
    model, history, score = run_or_skip_missing_emitter(
        tutorial_keras2_conv1d, x_train, y_train, x_test, y_test
    )
    assert model.output_shape == (None, 1)
    assert keeps_learning(history)
    assert history.history["accuracy"][-1] > 0.65
    assert score[1] > 0.6  # chance is about 0.5
    classes = (model.predict(x_test) > 0.5).astype("int32")  # the binary "predict_classes"
    assert classes.shape == (N_TEST, 1)


# ---- blog recipe: architecture to JSON, weights to HDF5, and whole-model save -----------------


def tutorial_save_json_and_weights(X, Y):
    from frontend.layers import Dense
    from frontend.models import Sequential, load_model, model_from_json

    model = Sequential()
    model.add(Dense(64, input_dim=784, activation="relu"))
    model.add(Dense(10, activation="softmax"))
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(X, Y, epochs=2, batch_size=50, verbose=0)
    scores = model.evaluate(X, Y, verbose=0)
    print("%s: %.2f%%" % (model.metrics_names[1], scores[1] * 100))  # noqa: UP031

    # serialize the architecture to JSON
    model_json = model.to_json()
    with open("model.json", "w") as json_file:
        json_file.write(model_json)
    # serialize the weights to HDF5
    model.save_weights("model.h5")
    print("Saved model to disk")

    # later: load the JSON and create the model, then load its weights
    json_file = open("model.json", "r")  # noqa: SIM115, UP015 - as the recipe writes it
    loaded_model_json = json_file.read()
    json_file.close()
    loaded_model = model_from_json(loaded_model_json)
    loaded_model.load_weights("model.h5")
    print("Loaded model from disk")
    loaded_model.compile(loss="categorical_crossentropy", optimizer="rmsprop", metrics=["accuracy"])
    score = loaded_model.evaluate(X, Y, verbose=0)
    print("%s: %.2f%%" % (loaded_model.metrics_names[1], score[1] * 100))  # noqa: UP031

    # the whole model in one file (architecture, weights, optimizer state)
    model.save("my_model.h5")
    del model
    model = load_model("my_model.h5")
    return scores, score, loaded_model, model


def test_save_json_and_weights(data, backend, in_tmp, capsys):
    (x_train, y_train), _ = data
    X = x_train.reshape(500, 784).astype("float32") / 255
    Y = frontend.utils.to_categorical(y_train, 10)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scores, score, from_json, from_file = tutorial_save_json_and_weights(X, Y)
    not_hdf5 = [w for w in caught if "not HDF5" in str(w.message)]
    assert len(not_hdf5) == 2 and all(w.category is UserWarning for w in not_hdf5)
    assert score == pytest.approx(scores, rel=1e-5)
    np.testing.assert_array_equal(from_json.predict(X), from_file.predict(X))
    assert from_file.evaluate(X, Y, verbose=0) == pytest.approx(scores, rel=1e-5)
    out = capsys.readouterr().out
    assert out.count(f"accuracy: {scores[1] * 100:.2f}%") == 2
    assert os.path.exists("model.json") and os.path.exists("model.h5")


# ---- optimizers: by name, and as Keras 2 objects with the reference page's arguments ----------


def tutorial_optimizer(x_train, y_train, optimizer):
    from frontend.layers import Dense
    from frontend.models import Sequential

    model = Sequential()
    model.add(Dense(64, activation="relu", input_shape=(784,)))
    model.add(Dense(10, activation="softmax"))
    model.compile(loss="categorical_crossentropy", optimizer=optimizer, metrics=["accuracy"])
    return model.fit(x_train, y_train, batch_size=100, epochs=2, verbose=0)


def keras2_optimizer_objects():
    """Each optimizer as the Keras 2 reference page wrote it, argument for argument."""
    from frontend import optimizers

    return {
        "sgd": optimizers.SGD(lr=0.01, decay=1e-6, momentum=0.9, nesterov=True),
        "rmsprop": optimizers.RMSprop(lr=0.001, rho=0.9, epsilon=None, decay=0.0),
        "adagrad": optimizers.Adagrad(lr=0.01, epsilon=None, decay=0.0),
        "adadelta": optimizers.Adadelta(lr=1.0, rho=0.95, epsilon=None, decay=0.0),
        "adam": optimizers.Adam(
            lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=None, decay=0.0, amsgrad=False
        ),
        "adamax": optimizers.Adamax(lr=0.002, beta_1=0.9, beta_2=0.999, epsilon=None, decay=0.0),
        "nadam": optimizers.Nadam(
            lr=0.002, beta_1=0.9, beta_2=0.999, epsilon=None, schedule_decay=0.004
        ),
    }


OPTIMIZER_NAMES = ["sgd", "rmsprop", "adagrad", "adadelta", "adam", "adamax", "nadam"]


def mlp_data(data):
    (x_train, y_train), _ = data
    return x_train.reshape(500, 784).astype("float32") / 255, frontend.utils.to_categorical(
        y_train, 10
    )


def test_optimizers_by_name(data):
    # Names resolve to the same objects on every backend; the update formulas run on both
    # backends in test_keras2_optimizer_objects.
    frontend.backend.set_default_backend("numpy")
    x, y = mlp_data(data)
    for name in OPTIMIZER_NAMES:
        history = tutorial_optimizer(x, y, name)
        # Keras 3 defaults: adadelta (lr 0.001) and adagrad barely move in two epochs
        assert np.all(np.isfinite(history.history["loss"])), name
        assert history.history["loss"][1] <= history.history["loss"][0], name


def test_keras2_optimizer_objects(data, backend):
    x, y = mlp_data(data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        objects = keras2_optimizer_objects()
    renamed = [str(w.message) for w in caught if "`lr` is the Keras 2 name" in str(w.message)]
    assert len(renamed) == 7
    assert sum("`decay` is the Keras 2 name" in str(w.message) for w in caught) == 6
    assert any("schedule_decay" in str(w.message) for w in caught)
    for name, optimizer in objects.items():
        assert optimizer.epsilon == 1e-7 if name != "sgd" else True  # epsilon=None: K.epsilon()
        history = tutorial_optimizer(x, y, optimizer)
        assert keeps_learning(history), name
        assert history.history["accuracy"][-1] > 0.2, name  # chance is 0.1


# ---- keras.backend (K.) as tutorials use it: a learning-rate schedule --------------------------


def tutorial_backend_lr_schedule(x_train, y_train):
    import frontend.backend as K
    from frontend.callbacks import LearningRateScheduler
    from frontend.layers import Dense
    from frontend.models import Sequential

    K.clear_session()
    model = Sequential()
    model.add(Dense(64, activation="relu", input_shape=(784,)))
    model.add(Dense(10, activation="softmax"))
    model.compile(loss="categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])

    def scheduler(epoch):
        # every epoch after the first, cut the learning rate to a tenth
        if epoch % 1 == 0 and epoch != 0:
            lr = K.get_value(model.optimizer.lr)
            K.set_value(model.optimizer.lr, lr * 0.1)
            print("lr changed to {}".format(lr * 0.1))  # noqa: UP032
        return K.get_value(model.optimizer.lr)

    reduce_lr = LearningRateScheduler(scheduler)
    history = model.fit(x_train, y_train, batch_size=32, epochs=3, callbacks=[reduce_lr])
    print(K.image_data_format(), K.floatx(), K.epsilon(), K.backend())
    return model, history


def test_backend_lr_schedule(data, backend, capsys):
    x, y = mlp_data(data)
    with pytest.warns(DeprecationWarning, match="`lr` is the Keras 2 name"):
        model, history = tutorial_backend_lr_schedule(x, y)
    assert model.layers[0].name == "dense"  # K.clear_session() restarted the names
    assert model.optimizer.learning_rate == pytest.approx(0.0001)
    out = capsys.readouterr().out
    assert "lr changed to 0.001" in out and "lr changed to 0.0001" in out
    assert f"channels_last float32 1e-07 {backend}" in out
    assert keeps_learning(history)


# ---- progress output, as Keras prints it when stdout is not a terminal ------------------------

NUMBER = r"\d+\.\d{4}(e[-+]\d+)?"
TIME = r"\d+(s|ms|us)"


def test_progress_lines_look_like_keras(data, capsys):
    frontend.backend.set_default_backend("numpy")
    from frontend.layers import Dense
    from frontend.models import Sequential

    x, y = mlp_data(data)
    model = Sequential([Dense(32, activation="relu", input_shape=(784,)), Dense(10, "softmax")])
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    capsys.readouterr()

    model.fit(x, y, batch_size=100, epochs=2, verbose=1, validation_split=0.2)
    lines = capsys.readouterr().out.splitlines()
    assert "\r" not in "".join(lines)  # no carriage-return redraws in a log file
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2" and len(lines) == 4
    values = f"loss: {NUMBER} - accuracy: {NUMBER} - val_loss: {NUMBER} - val_accuracy: {NUMBER}"
    bar = r"4/4 \[==============================\]"
    for line in lines[1::2]:
        assert re.fullmatch(rf"{bar} - \d+s {TIME}/step - {values}", line), line

    model.fit(x, y, batch_size=100, epochs=2, verbose=2, validation_split=0.2)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/2" and len(lines) == 4
    for line in lines[1::2]:
        assert re.fullmatch(rf"4/4 - \d+s - {values} - {TIME}/epoch - {TIME}/step", line), line

    model.evaluate(x, y, batch_size=100, verbose=1)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    pattern = rf"5/5 \[=+\] - \d+s {TIME}/step - loss: {NUMBER} - accuracy: {NUMBER}"
    assert re.fullmatch(pattern, lines[0]), lines[0]

    model.fit(x, y, batch_size=100, epochs=1, verbose=0)
    model.predict(x, verbose=0)
    assert capsys.readouterr().out == ""


# ---- the import lines tutorials start with ------------------------------------------------------


def test_tutorial_import_paths():
    import frontend as keras
    from frontend import backend as K
    from frontend.datasets import mnist
    from frontend.layers import Activation, Dense, Dropout, core
    from frontend.layers.advanced_activations import LeakyReLU
    from frontend.models import Model, Sequential, load_model, model_from_json
    from frontend.optimizers import SGD, Adam, RMSprop
    from frontend.utils import np_utils, to_categorical
    from frontend.utils.vis_utils import plot_model

    assert (core.Dense, core.Activation, core.Dropout) == (Dense, Activation, Dropout)
    assert core.Lambda is keras.layers.Lambda and core.Flatten is keras.layers.Flatten
    assert keras.layers.Dense is Dense and keras.layers.LeakyReLU is LeakyReLU
    assert keras.models.Sequential is Sequential is keras.Sequential
    assert keras.models.Model is Model is keras.Model
    assert keras.models.load_model is load_model and callable(model_from_json)
    assert (keras.optimizers.SGD, keras.optimizers.RMSprop, keras.optimizers.Adam) == (
        SGD,
        RMSprop,
        Adam,
    )
    assert keras.utils.np_utils.to_categorical is np_utils.to_categorical is to_categorical
    assert keras.utils.vis_utils.plot_model is plot_model is keras.utils.plot_model
    assert keras.datasets.mnist is mnist and keras.Input is keras.layers.Input
    assert K is keras.backend
    assert (K.image_data_format(), K.image_dim_ordering()) == ("channels_last", "tf")
    assert (K.floatx(), K.epsilon()) == ("float32", 1e-7)
