"""Convolutional tutorials: keras.io's simple MNIST convnet, Keras 2's mnist_cnn and its
1D-convolution sequence classifier."""

import numpy as np

from .helpers import N_TEST, keeps_learning, run_or_skip_missing_emitter

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
    # one batch of 128 training digits and 64 test digits, 1 epoch: two full-resolution
    # convolutions make this the costly one (the numpy interpreter convolves slowly).
    # Keras 3's Adadelta() starts at learning rate 0.001 (Keras 2's at 1.0), so it barely moves.
    (x_train, y_train), (x_test, y_test) = data
    model, score = run_or_skip_missing_emitter(
        tutorial_keras2_mnist_cnn, ((x_train[:128], y_train[:128]), (x_test[:64], y_test[:64]))
    )
    assert model.output_shape == (None, 10) and model.count_params() == 1_199_882
    assert np.isfinite(score[0]) and 0 <= score[1] <= 1
    assert "x_train shape: (128, 28, 28, 1)" in capsys.readouterr().out  # channels_last branch


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
