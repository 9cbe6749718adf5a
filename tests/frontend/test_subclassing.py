"""Subclassed models and custom layers (Keras 3 style), and the issue-11 regressions around
them: recursion on build, keyword initial states, rank alignment of user losses, a layer added
after fit, the misspelt metric."""

import numpy as np
import pytest

import frontend as keras
import graphc as gc
from frontend import layers, models
from frontend.models.loading import load_model
from tests.frontend.conftest import BACKENDS


class FeatureScale(layers.Layer):
    """A custom layer: one trainable weight per feature, built from the input shape."""

    def __init__(self, init=1.0, **kwargs):
        super().__init__(**kwargs)
        self.init = init

    def build(self, input_shape):
        self.w = self.add_weight(
            shape=(input_shape[-1],), initializer=keras.initializers.Constant(self.init), name="w"
        )

    def call(self, inputs):
        return inputs * self.w

    def get_config(self):
        return {**super().get_config(), "init": self.init}


class Classifier(models.Model):
    def __init__(self, units=8, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.hidden = layers.Dense(units, activation="relu")
        self.blocks = [FeatureScale(0.5), layers.Dropout(0.1)]
        self.heads = {"out": layers.Dense(1, activation="sigmoid")}

    def call(self, inputs, training=None, mask=None):
        x = self.hidden(inputs)
        for block in self.blocks:
            x = block(x, training=training)
        return self.heads["out"](x)


def data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 4)).astype("float32")
    return x, (x.sum(axis=1) > 2).astype("float32")


def test_subclassed_model_calls_builds_and_tracks_nested_weights():
    model = Classifier()
    x, _ = data(8)
    out = model(x)  # used to recurse forever (build -> call -> build)
    assert out.shape == (8, 1)
    # hidden kernel+bias, FeatureScale's w, head kernel+bias: attributes, a list and a dict
    assert [tuple(w.shape) for w in model.weights] == [(4, 8), (8,), (8,), (8, 1), (1,)]
    assert [type(layer).__name__ for layer in model.layers] == [
        "Dense", "FeatureScale", "Dropout", "Dense"
    ]
    model.build((None, 4))  # already built: nothing changes
    assert len(model.weights) == 5


def test_build_with_input_shape_then_summary():
    model = Classifier(units=3)
    model.build((None, 4))
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "dense (Dense)" in text and "scale (FeatureScale)" in text
    assert "Total params: 22" in text  # 4*3+3 + 3 + 3*1+1


@pytest.mark.parametrize("backend", BACKENDS)
def test_subclassed_model_trains_evaluates_predicts(backend):
    x, y = data()
    model = Classifier()
    optimizer = keras.optimizers.Adam(0.05)
    model.compile(optimizer, "binary_crossentropy", metrics=["accuracy"], backend=backend)
    history = model.fit(x, y, epochs=5, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    loss, acc = model.evaluate(x, y, verbose=0)
    predictions = model.predict(x, verbose=0)
    assert predictions.shape == (96, 1)
    expected = np.mean(-(y * np.log(predictions[:, 0]) + (1 - y) * np.log(1 - predictions[:, 0])))
    assert loss == pytest.approx(expected, rel=1e-4)
    assert acc == pytest.approx(np.mean((predictions[:, 0] > 0.5) == y))


@pytest.mark.parametrize("backend", BACKENDS)
def test_save_and_load_a_subclassed_model(tmp_path, backend):
    x, y = data()
    model = Classifier(units=5)
    model.compile("sgd", "mse", backend=backend)
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras", custom_objects={"Classifier": Classifier})
    assert isinstance(loaded, Classifier) and loaded.units == 5 and loaded.name == model.name
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), 1e-6)
    loaded.fit(x, y, epochs=1, verbose=0)  # compiled again, optimizer state restored

    model.save_weights(tmp_path / "w.weights.npz")
    fresh = Classifier(units=5)
    fresh.build((None, 4))
    fresh.load_weights(tmp_path / "w.weights.npz")
    np.testing.assert_allclose(fresh.predict(x, verbose=0), model.predict(x, verbose=0), 1e-6)


def test_loading_an_unknown_subclass_names_it(tmp_path):
    model = Classifier()
    model.build((None, 4))
    model.save(tmp_path / "m.keras")
    spec_path = tmp_path / "m.keras"
    from frontend.layers.registry import LAYERS

    saved = LAYERS.pop("Classifier")
    try:
        with pytest.raises(ValueError, match=r"Unknown model class 'Classifier'.*custom_objects"):
            load_model(spec_path)
    finally:
        LAYERS["Classifier"] = saved


def test_config_needs_get_config_for_non_json_arguments():
    class Wraps(models.Model):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def call(self, inputs):
            return self.inner(inputs)

    model = Wraps(layers.Dense(2))
    with pytest.raises(NotImplementedError, match="Wraps.*get_config"):
        model.get_config()


def test_custom_layer_in_functional_model_round_trips():
    inputs = layers.Input((4,))
    outputs = layers.Dense(1)(FeatureScale(2.0)(inputs))
    model = models.Model(inputs, outputs)
    clone = models.Model.from_config(model.get_config())
    assert clone.layers[1].init == 2.0
    x, _ = data(4)
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0))


def test_nested_subclassed_model_inside_functional_model():
    inner = Classifier(units=4)
    inputs = layers.Input((4,))
    model = models.Model(inputs, inner(inputs))
    assert len(model.weights) == 5
    x, _ = data(6)
    np.testing.assert_allclose(model.predict(x, verbose=0), inner.predict(x, verbose=0))


def test_subclassed_model_with_two_inputs():
    class TwoInputs(models.Model):
        def __init__(self):
            super().__init__()
            self.merge = layers.Concatenate()
            self.out = layers.Dense(1)

        def call(self, inputs):
            return self.out(self.merge([inputs[0], inputs[1]]))

    model = TwoInputs()
    model.build([(None, 3), (None, 2)])
    assert model.input_shapes == [(None, 3), (None, 2)]
    a, b = np.ones((5, 3), "float32"), np.ones((5, 2), "float32")
    model.compile("sgd", "mse")
    model.fit([a, b], np.zeros(5), verbose=0)
    assert model.predict([a, b], verbose=0).shape == (5, 1)


# ---- regressions of issue 11 ----------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_user_loss_sees_targets_with_the_prediction_rank(backend):
    seen = []

    def my_mse(y_true, y_pred):
        seen.append((y_true.shape, y_pred.shape))
        return gc.mean((y_true - y_pred) ** 2, axis=-1)

    x, y = data(64)
    inputs = layers.Input((4,))
    model = models.Model(inputs, layers.Dense(1)(inputs))
    model.compile("sgd", my_mse, backend=backend)
    loss = model.evaluate(x, y, batch_size=64, verbose=0)
    assert seen[0] == ((None, 1), (None, 1))  # was (None,) against (None, 1): (batch, batch)
    assert loss == pytest.approx(np.mean((model.predict(x, verbose=0)[:, 0] - y) ** 2), rel=1e-5)


def test_lstm_initial_state_as_keyword_on_symbolic_tensors():
    x, h, c = layers.Input((5, 3)), layers.Input((6,)), layers.Input((6,))
    lstm = layers.LSTM(6)
    model = models.Model([x, h, c], lstm(x, initial_state=[h, c]))
    listed = models.Model([x, h, c], lstm([x, h, c]))
    rng = np.random.default_rng(0)
    arrays = [rng.random((2, 5, 3)), rng.random((2, 6)), rng.random((2, 6))]
    arrays = [a.astype("float32") for a in arrays]
    np.testing.assert_allclose(
        model.predict(arrays, verbose=0), listed.predict(arrays, verbose=0), 1e-6
    )
    zeros = model.predict([arrays[0], 0 * arrays[1], 0 * arrays[2]], verbose=0)
    assert not np.allclose(zeros, model.predict(arrays, verbose=0))


def test_other_symbolic_keyword_arguments_are_refused_clearly():
    a, b = layers.Input((3,)), layers.Input((3,))
    with pytest.raises(TypeError, match=r"keyword argument `mask`.*test_subclassing.py"):
        layers.Dense(2)(a, mask=b)


def test_adding_a_layer_after_fit_asks_for_a_new_optimizer():
    x, y = data(32)
    model = models.Sequential([layers.Input((4,)), layers.Dense(3)])
    model.compile("adam", "mse")
    model.fit(x, np.zeros((32, 3)), verbose=0)
    model.add(layers.Dense(1))
    with pytest.raises(ValueError, match=r"new weights .*Compile again with a new optimizer"):
        model.fit(x, y, verbose=0)  # was KeyError: ('momentum', ...)
    model.compile("adam", "mse")
    model.fit(x, y, verbose=0)


def test_misspelt_accuracy_suggests_accuracy():
    model = models.Sequential([layers.Input((4,)), layers.Dense(1)])
    with pytest.raises(ValueError, match=r"Did you mean `accuracy`\?.*Known metric names: acc, "
                                         r"accuracy,"):
        model.compile("sgd", "mse", metrics=["acuracy"])


def test_subclassed_model_with_two_inputs_builds_from_fit_data():
    class Joined(models.Model):
        def __init__(self):
            super().__init__()
            self.merge, self.out = layers.Concatenate(), layers.Dense(1)

        def call(self, inputs):
            return self.out(self.merge(inputs))

    model = Joined()
    model.compile("sgd", "mse")
    a, b = np.ones((6, 3), "float32"), np.ones((6, 2), "float32")
    model.fit([a, b], np.zeros(6), verbose=0)
    assert model.input_shapes == [(None, 3), (None, 2)]
    assert model.metrics_names == ["loss"]


def test_a_layer_built_by_hand_is_not_built_again():
    class Wrapper(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.inner = layers.Dense(2)

        def build(self, input_shape):
            self.inner.build(input_shape)  # keras.io: build sublayers explicitly

        def call(self, inputs):
            return self.inner(inputs)

    layer = Wrapper()
    layer.build((None, 3))
    assert layer.built and layer.inner.built
    layer(np.ones((1, 3), "float32"))
    assert [tuple(w.shape) for w in layer.weights] == [(3, 2), (2,)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_model_with_its_own_build_and_add_weight(backend):
    class Linear(models.Model):
        def build(self, input_shape):  # no super().build(): Keras 3 allows it
            self.w = self.add_weight(shape=(input_shape[-1], 1), initializer="zeros", name="w")

        def call(self, inputs):
            return gc.matmul(inputs, self.w)

    x, y = data(32)
    model = Linear()
    model.build((None, 4))
    lines = []
    model.summary(print_fn=lines.append)
    assert "Total params: 4" in "\n".join(lines)
    model.compile(keras.optimizers.SGD(0.1), "mse", backend=backend)
    model.fit(x, y, epochs=2, verbose=0)
    assert len(model.weights) == 1 and not np.allclose(model.get_weights()[0], 0)
