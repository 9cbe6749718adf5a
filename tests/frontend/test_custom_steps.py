"""Custom train_step / test_step / predict_step, traced into one compiled function (keras.io's
"customizing what happens in fit" patterns with only the imports changed), and add_loss."""

import numpy as np
import pytest

import frontend as keras
import graphc as gc
from frontend import layers, losses, metrics, models
from frontend.gradients import GradientTape, grad
from tests.frontend.conftest import BACKENDS


def regression_data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5]) + 0.3).astype("float32")[:, None]
    return x, y


def dense_model(cls):
    inputs = layers.Input((3,))
    return cls(inputs, layers.Dense(1)(inputs))


class Keras3Step(models.Model):
    """keras.io (Keras 3): compute_loss, a tape, optimizer.apply, a loop over self.metrics."""

    def train_step(self, data):
        x, y = data
        with GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
        trainable_vars = self.trainable_variables
        gradients = tape.gradient(loss, trainable_vars)
        self.optimizer.apply(gradients, trainable_vars)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


class Keras2Step(models.Model):
    """keras.io (TF 2 era): compiled_loss, apply_gradients(zip(...)), compiled_metrics."""

    def train_step(self, data):
        x, y = data
        with GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compiled_loss(y, y_pred, regularization_losses=self.losses)
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
        self.compiled_metrics.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cls", [Keras3Step, Keras2Step])
def test_custom_train_step_matches_the_built_in_step(cls, backend):
    x, y = regression_data()
    custom, plain = dense_model(cls), dense_model(models.Model)
    plain.set_weights(custom.get_weights())
    for model in (custom, plain):
        model.compile(keras.optimizers.SGD(0.05), "mse", metrics=["mae"], backend=backend)
    custom_history = custom.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    plain_history = plain.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    for a, b in zip(custom.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for key in ("loss", "mae"):
        np.testing.assert_allclose(custom_history.history[key], plain_history.history[key], 1e-5)
    assert custom.train_function is not None  # the one compiled graphc function of the step
    assert isinstance(custom.train_function, gc.Function)


class OwnTrackers(models.Model):
    """keras.io "going lower-level": no compiled loss, user trackers, a `metrics` property."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = layers.Dense(1)
        self.loss_tracker = metrics.Mean(name="loss")
        self.mae_metric = metrics.MeanAbsoluteError(name="mae")

    def call(self, inputs):
        return self.dense(inputs)

    def train_step(self, data):
        x, y = data
        y_pred = self(x, training=True)
        loss = losses.mean_squared_error(y, y_pred)
        loss = gc.mean(loss)
        grads = grad(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        self.loss_tracker.update_state(loss)
        self.mae_metric.update_state(y, y_pred)
        return {"loss": self.loss_tracker.result(), "mae": self.mae_metric.result()}

    def test_step(self, data):
        x, y = data
        y_pred = self(x, training=False)
        self.loss_tracker.update_state(gc.mean(losses.mean_squared_error(y, y_pred)))
        self.mae_metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}

    @property
    def metrics(self):
        return [self.loss_tracker, self.mae_metric]


@pytest.mark.parametrize("backend", BACKENDS)
def test_user_trackers_without_a_compiled_loss(backend):
    x, y = regression_data()
    model = OwnTrackers()
    model.compile(optimizer=keras.optimizers.Adam(0.05), backend=backend)
    history = model.fit(x, y, batch_size=16, epochs=8, verbose=0)
    assert history.history["loss"][-1] < 0.3 * history.history["loss"][0]
    assert model.metrics_names == ["loss", "mae"]
    results = model.evaluate(x, y, verbose=0, return_dict=True)
    predictions = model.predict(x, verbose=0)
    assert results["loss"] == pytest.approx(np.mean((predictions - y) ** 2), rel=1e-4)
    assert results["mae"] == pytest.approx(np.mean(np.abs(predictions - y)), rel=1e-4)


def test_returned_graph_values_become_the_logs():
    class LastBatchLoss(models.Model):
        def train_step(self, data):
            x, y = data
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
            self.optimizer.apply(grad(loss, self.trainable_variables))
            return {"batch_loss": loss}

    x, y = regression_data(32)
    model = dense_model(LastBatchLoss)
    model.compile("sgd", "mse")
    before = np.mean((model.predict(x[16:], verbose=0) - y[16:]) ** 2)
    logs = model.train_on_batch(x[:16], y[:16], return_dict=True)
    assert set(logs) == {"batch_loss"}
    assert np.isfinite(logs["batch_loss"]) and before > 0


def test_custom_predict_step():
    class Doubled(models.Model):
        def predict_step(self, data):
            return 2 * self(data, training=False)

    x, _ = regression_data(8)
    model = dense_model(Doubled)
    plain = models.Model(model.inputs, model.outputs)
    np.testing.assert_allclose(model.predict(x, verbose=0), 2 * plain.predict(x, verbose=0))


EAGER_USES = {
    "float": lambda loss: float(loss),
    "numpy": lambda loss: loss.numpy(),
    "truth value": lambda loss: 1 if loss > 0 else 0,
}


@pytest.mark.parametrize("found", sorted(EAGER_USES))
def test_eager_values_in_a_step_name_the_line(found):
    class Eager(models.Model):
        def train_step(self, data):
            x, y = data
            loss = self.compute_loss(y=y, y_pred=self(x, training=True))
            EAGER_USES[found](loss)
            return {}

    x, y = regression_data(8)
    model = dense_model(Eager)
    model.compile("sgd", "mse")
    with pytest.raises(TypeError, match=rf"(?s)train_step is traced.*{found}.*"
                                        rf"test_custom_steps.py:\d+ \(`.*{found[:5]}"):
        model.fit(x, y, verbose=0)


def test_metric_updates_outside_a_step_are_refused():
    tracker = metrics.Mean()
    with pytest.raises(TypeError, match="outside a custom train_step"):
        tracker.update_state(gc.constant(np.ones(3, "float32")) * 2)


def test_optimizer_apply_needs_graph_gradients():
    optimizer = keras.optimizers.SGD()
    with pytest.raises(TypeError, match="no eager training loop"):
        optimizer.apply_gradients([(np.ones(2), np.ones(2))])


# ---- add_loss ------------------------------------------------------------------------------


class ActivityPenalty(layers.Layer):
    def __init__(self, rate=0.1, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate

    def call(self, inputs):
        self.add_loss(self.rate * gc.mean(gc.square(inputs)))
        return inputs


@pytest.mark.parametrize("backend", BACKENDS)
def test_add_loss_in_call_counts_in_training(backend):
    x, y = regression_data(16)
    inputs = layers.Input((3,))
    hidden = layers.Dense(1, kernel_initializer="ones")(inputs)
    model = models.Model(inputs, ActivityPenalty(1.0)(hidden))
    model.compile(keras.optimizers.SGD(0.0), "mse", backend=backend)
    prediction = model.predict(x, verbose=0)
    loss = model.fit(x, y, batch_size=16, verbose=0).history["loss"][0]
    expected = np.mean((prediction - y) ** 2) + np.mean(prediction**2)
    assert loss == pytest.approx(expected, rel=1e-5)
    # evaluation leaves it out, as before
    assert model.evaluate(x, y, verbose=0) == pytest.approx(np.mean((prediction - y) ** 2), 1e-5)


def test_standing_add_loss_on_weights_and_model_losses():
    x, y = regression_data(16)
    inputs = layers.Input((3,))
    dense = layers.Dense(1, kernel_initializer="ones")
    model = models.Model(inputs, dense(inputs))
    model.add_loss(lambda: 0.5 * gc.sum(gc.square(dense.kernel)))
    assert len(model.losses) == 1
    penalty = gc.function([], model.losses, backend="numpy")()[0]
    assert penalty == pytest.approx(1.5)
    model.compile(keras.optimizers.SGD(0.0), "mse")
    loss = model.fit(x, y, batch_size=16, verbose=0).history["loss"][0]
    assert loss == pytest.approx(np.mean((model.predict(x, verbose=0) - y) ** 2) + 1.5, 1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_functional_vae_pattern_with_model_add_loss(backend):
    """Keras 2's VAE example: losses added on the model's own tensors, no compiled loss,
    fit(x) without targets."""
    rng = np.random.default_rng(0)
    x = rng.random((64, 6)).astype("float32")
    inputs = layers.Input((6,))
    code = layers.Dense(2, activation="tanh")(inputs)
    decoded = layers.Dense(6, activation="sigmoid")(code)
    error = layers.Subtract()([inputs, decoded])
    squared = layers.Multiply()([error, error])
    autoencoder = models.Model(inputs, decoded)
    autoencoder.add_loss(squared)
    autoencoder.compile(keras.optimizers.Adam(0.05), backend=backend)
    history = autoencoder.fit(x, epochs=5, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    first = autoencoder.fit(x, epochs=1, batch_size=64, shuffle=False, verbose=0)
    assert np.isfinite(first.history["loss"][0])


def test_custom_step_with_fit_x_only():
    class Autoencoder(models.Model):
        def __init__(self):
            super().__init__()
            self.encode, self.decode = layers.Dense(2), layers.Dense(4)
            self.loss_tracker = metrics.Mean(name="reconstruction")

        def call(self, inputs):
            return self.decode(self.encode(inputs))

        def train_step(self, data):
            reconstruction = self(data, training=True)
            loss = gc.mean(gc.square(data - reconstruction))
            self.optimizer.apply(grad(loss, self.trainable_variables))
            self.loss_tracker.update_state(loss)
            return {"reconstruction": self.loss_tracker.result()}

    x = np.random.default_rng(1).random((32, 4)).astype("float32")
    model = Autoencoder()
    model.compile(keras.optimizers.Adam(0.05))
    history = model.fit(x, epochs=4, batch_size=8, verbose=0)
    values = history.history["reconstruction"]
    assert values[-1] < values[0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_overriding_compute_loss_changes_the_built_in_steps(backend):
    class DoubleLoss(models.Model):
        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            return 2 * super().compute_loss(x, y, y_pred, sample_weight)

    x, y = regression_data(32)
    model = dense_model(DoubleLoss)
    model.compile(keras.optimizers.SGD(0.0), "mse", metrics=["mae"], backend=backend)
    predictions = model.predict(x, verbose=0)
    mse, mae = np.mean((predictions - y) ** 2), np.mean(np.abs(predictions - y))
    logs = model.fit(x, y, batch_size=32, verbose=0).history
    assert logs["loss"][0] == pytest.approx(2 * mse, rel=1e-5)
    assert logs["mae"][0] == pytest.approx(mae, rel=1e-5)
    assert model.evaluate(x, y, verbose=0, return_dict=True)["loss"] == pytest.approx(2 * mse, 1e-5)


def test_built_in_test_step_logs_after_a_custom_train_step():
    x, y = regression_data(32)
    model = dense_model(Keras3Step)
    model.compile("sgd", "mse", metrics=["mae"])
    history = model.fit(x, y, validation_data=(x, y), verbose=0).history
    assert set(history) == {"loss", "mae", "val_loss", "val_mae"}
    results = model.evaluate(x, y, verbose=0, return_dict=True)
    predictions = model.predict(x, verbose=0)
    assert results["loss"] == pytest.approx(np.mean((predictions - y) ** 2), rel=1e-5)
