"""A custom train_step gets `(x, y, sample_weight)` when fit is given sample weights (or
class weights), `(x, y)` otherwise, as in Keras; keras.utils.unpack_x_y_sample_weight
takes it apart."""

import numpy as np
import pytest

from frontend import layers, models, utils
from frontend.gradients import GradientTape
from tests.frontend.conftest import BACKENDS


class WeightedStep(models.Model):
    """keras.io's custom step that supports sample_weight; records what data it was given."""

    seen_lengths: list = []

    def train_step(self, data):
        type(self).seen_lengths.append(len(data))
        x, y, sample_weight = utils.unpack_x_y_sample_weight(data)
        with GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred, sample_weight=sample_weight)
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)
        return {"loss": loss}


def make(cls):
    inputs = layers.Input((2,))
    model = cls(inputs, layers.Dense(1, kernel_initializer="ones")(inputs))
    return model


def data():
    x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 0.0]], "float32")
    y = np.array([[1.0], [3.0], [0.0], [2.0]], "float32")
    return x, y, np.array([1.0, 0.0, 2.0, 0.5], "float32")


@pytest.mark.parametrize("backend", BACKENDS)
def test_custom_step_gets_and_applies_sample_weights_like_the_built_in_step(backend):
    x, y, w = data()
    WeightedStep.seen_lengths = []
    custom, plain = make(WeightedStep), make(models.Model)
    for model in (custom, plain):
        model.compile(optimizer="sgd", loss="mse", backend=backend)
        model.fit(x, y, sample_weight=w, batch_size=4, epochs=3, shuffle=False, verbose=0)
    assert WeightedStep.seen_lengths == [3]  # traced once, with the weights
    for got, want in zip(custom.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-5)
    custom.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert WeightedStep.seen_lengths == [3, 2]  # without weights: (x, y), its own trace


def test_class_weight_reaches_a_custom_step_as_sample_weight():
    x, y, _ = data()
    WeightedStep.seen_lengths = []
    model = make(WeightedStep)
    model.compile(optimizer="sgd", loss="mse", backend="numpy")
    labels = np.array([0, 1, 0, 1])
    model.fit(x, labels[:, None], class_weight={0: 1.0, 1: 3.0}, epochs=1, verbose=0)
    assert WeightedStep.seen_lengths == [3]


def test_unpack_and_pack():
    assert utils.unpack_x_y_sample_weight(("x", "y")) == ("x", "y", None)
    assert utils.unpack_x_y_sample_weight(["x", "y", "w"]) == ("x", "y", "w")
    assert utils.unpack_x_y_sample_weight("x") == ("x", None, None)
    assert utils.pack_x_y_sample_weight("x") == ("x",)
    assert utils.pack_x_y_sample_weight("x", "y", "w") == ("x", "y", "w")
