"""Bad input gets a clear message naming the argument/layer, the shapes and the user's line;
Keras 1 names work with a DeprecationWarning; unknown keywords suggest the closest name."""

import zipfile

import numpy as np
import pytest

import frontend as keras
from frontend.layers import Dense, Dropout, Input
from frontend.models import Model, Sequential

HERE = __file__.rsplit("/", 1)[-1]


def classifier(loss="categorical_crossentropy"):
    model = Sequential(
        [Dense(16, activation="relu", input_shape=(20,)), Dense(10, activation="softmax")]
    )
    model.compile(optimizer="adam", loss=loss, metrics=["accuracy"], backend="numpy")
    return model


def test_x_and_y_lengths_differ():
    model = classifier()
    with pytest.raises(ValueError) as err:
        model.fit(np.ones((30, 20)), np.ones((29, 10)), verbose=0)
    message = str(err.value)
    assert "same number of samples" in message and "30" in message and "29" in message
    assert HERE in message


def test_wrong_feature_count_names_the_input_and_shapes():
    model = classifier()
    with pytest.raises(ValueError) as err:
        model.predict(np.ones((5, 19)), verbose=0)
    message = str(err.value)
    assert "(None, 20)" in message and "(5, 19)" in message and "input_layer" in message
    assert HERE in message


def test_integer_labels_to_categorical_crossentropy():
    model = classifier()
    for labels in (np.arange(30) % 10, (np.arange(30) % 10).reshape(-1, 1)):
        with pytest.raises(ValueError) as err:
            model.fit(np.ones((30, 20)), labels, verbose=0)
        message = str(err.value)
        assert "sparse_categorical_crossentropy" in message and "to_categorical" in message
        assert "dense_1" in message and HERE in message


def test_unknown_loss_and_optimizer_names_suggest():
    model = Sequential([Dense(2, input_shape=(3,))])
    with pytest.raises(ValueError, match="Did you mean `categorical_crossentropy`") as err:
        model.compile(optimizer="adam", loss="categorical_crossentropie", backend="numpy")
    assert HERE in str(err.value)
    with pytest.raises(ValueError, match="Did you mean `rmsprop`"):
        model.compile(optimizer="rmsprob", loss="mse", backend="numpy")
    with pytest.raises(ValueError, match="Unknown metric"):
        model.compile(optimizer="adam", loss="mse", metrics=["acuracy"], backend="numpy")


def test_unknown_keywords_suggest_the_closest_name():
    with pytest.raises(TypeError, match="`unit`.*Did you mean `units`"):
        Dense(unit=3)
    model = Sequential([Dense(2, input_shape=(3,))])
    with pytest.raises(TypeError, match="`metrice`.*Did you mean `metrics`"):
        model.compile(optimizer="adam", loss="mse", metrice=["mae"])
    model.compile(optimizer="adam", loss="mse", backend="numpy")
    with pytest.raises(TypeError, match="Did you mean `batch_size`"):
        model.fit(np.ones((4, 3)), np.ones((4, 2)), batchsize=2)


def test_keras1_names_warn_and_work():
    with pytest.warns(DeprecationWarning, match="`output_dim`.*`units`"):
        dense = Dense(output_dim=4, input_dim=3)
    with pytest.warns(DeprecationWarning, match="`init`.*`kernel_initializer`"):
        Dense(2, init="he_normal")
    assert dense.units == 4
    model = Sequential([dense])
    assert model.input_shapes == [(None, 3)]
    model.compile(optimizer="sgd", loss="mse", backend="numpy")
    with pytest.warns(DeprecationWarning, match="`nb_epoch`.*`epochs`"):
        history = model.fit(np.ones((4, 3)), np.ones((4, 4)), nb_epoch=3, verbose=0)
    assert len(history.history["loss"]) == 3
    x = Input(shape=(3,))
    with pytest.warns(DeprecationWarning, match="`input`.*`inputs`"):
        Model(input=x, output=Dense(1)(x))


def test_input_dim_warning_points_at_user_code():
    with pytest.warns(DeprecationWarning) as record:
        Dense(2, input_dim=5)
    assert record[0].filename.endswith(HERE)


def test_layer_shape_errors_name_the_layer():
    dense = Dense(3)
    x = Input(shape=(4,))
    dense(x)
    with pytest.raises(ValueError, match="Layer 'dense'.*(None, 5)"):
        dense(Input(shape=(5,)))


def test_fit_before_compile():
    model = Sequential([Dense(2, input_shape=(3,))])
    with pytest.raises(RuntimeError, match="must be compiled"):
        model.fit(np.ones((2, 3)), np.ones((2, 2)))


def test_bad_argument_values():
    with pytest.raises(ValueError, match="Received: units=0"):
        Dense(0)
    with pytest.raises(ValueError, match="rate"):
        Dropout(1.5)
    with pytest.raises(ValueError, match="Embedding.*Received: output_dim=0"):
        keras.layers.Embedding(10, 0)
    with pytest.raises(ValueError, match="backend"):
        Sequential([Dense(1, input_shape=(1,))]).compile("sgd", "mse", backend="gpu")


@pytest.mark.parametrize(
    "option, match",
    [
        ({"run_eagerly": True}, "backend='numpy'"),
        ({"jit_compile": False}, "backend='numpy'"),
        ({"steps_per_execution": 4}, "Received: steps_per_execution=4"),
    ],
)
def test_execution_options_are_refused_not_ignored(option, match):
    model = Sequential([Dense(1, input_shape=(1,))])
    with pytest.raises(ValueError, match=match) as err:
        model.compile("sgd", "mse", backend="numpy", **option)
    assert HERE in str(err.value)
    model.compile("sgd", "mse", backend="numpy", run_eagerly=False, jit_compile=True)


def test_learning_rate_schedules_refuse_zero_decay_steps():
    from frontend.optimizers import schedules

    for schedule in (schedules.ExponentialDecay, schedules.PolynomialDecay):
        with pytest.raises(ValueError, match=f"{schedule.__name__}.*decay_steps=0"):
            schedule(0.1, 0, 0.5)


def test_wrong_number_of_inputs():
    a, b = Input(shape=(2,)), Input(shape=(3,))
    from frontend.layers import concatenate

    model = Model([a, b], Dense(1)(concatenate([a, b])))
    with pytest.raises(ValueError, match="2 inputs"):
        model.predict(np.ones((4, 2)), verbose=0)
    with pytest.raises(ValueError, match="missing"):
        model.predict({"input_layer": np.ones((4, 2))}, verbose=0)


def test_to_categorical():
    y = keras.utils.to_categorical([0, 2, 1], 3)
    np.testing.assert_array_equal(y, np.eye(3)[[0, 2, 1]])
    assert keras.utils.to_categorical(np.array([[1], [0]])).shape == (2, 2)
    with pytest.raises(ValueError, match="num_classes"):
        keras.utils.to_categorical([5], 3)


def test_keras_options_graphc_does_not_implement_are_refused(tmp_path):
    model = Sequential([Dense(2, input_shape=(3,))])
    with pytest.raises(ValueError, match=r"summary: expand_nested.*Received: expand_nested=True"):
        model.summary(expand_nested=True)
    with pytest.raises(ValueError, match="skip_mismatch"):
        model.load_weights(tmp_path / "any.weights.npz", skip_mismatch=True)
    with pytest.raises(ValueError, match="plot_model: expand_nested") as err:
        keras.utils.plot_model(model, to_file=str(tmp_path / "m.svg"), expand_nested=True)
    assert HERE in str(err.value)
    with pytest.raises(TypeError, match="signatures"):
        model.save(tmp_path / "m.keras", signatures=None)


def test_save_without_the_optimizer_state(tmp_path):
    model = classifier()
    model.fit(np.ones((4, 20)), np.eye(10)[:4], verbose=0)
    model.save(tmp_path / "with.keras")
    model.save(tmp_path / "without.keras", include_optimizer=False, save_format="keras")
    assert "optimizer.npz" in zipfile.ZipFile(tmp_path / "with.keras").namelist()
    assert "optimizer.npz" not in zipfile.ZipFile(tmp_path / "without.keras").namelist()
    reloaded = keras.models.load_model(tmp_path / "without.keras")
    np.testing.assert_array_equal(
        reloaded.predict(np.ones((1, 20)), verbose=0), model.predict(np.ones((1, 20)), verbose=0)
    )
