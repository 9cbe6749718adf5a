"""Tutorial recipes around training: saving to JSON and weights files, optimizers by name
and as Keras 2 objects, a keras.backend learning-rate schedule, Keras-style progress lines
and the import lines tutorials start with."""

import os
import re
import warnings

import numpy as np
import pytest

import frontend

from .helpers import NUMBER, TIME, keeps_learning

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
