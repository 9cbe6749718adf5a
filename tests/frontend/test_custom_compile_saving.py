"""A model that overrides compile() with its own signature (keras.io's GAN pattern) saves and
loads: load_model(compile=True) skips the saved compile settings with a warning, as Keras 3
does, instead of failing."""

import numpy as np
import pytest

import frontend as keras
from frontend import layers, losses, models, optimizers
from frontend.gradients import GradientTape
from frontend.models import load_model
from tests.frontend.conftest import BACKENDS


class TwoOptimizerModel(models.Model):
    """keras.io GAN style: compile(d_optimizer, g_optimizer, loss_fn) and a custom step."""

    def __init__(self, units=2, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.body = layers.Dense(units)

    def call(self, inputs):
        return self.body(inputs)

    def compile(self, d_optimizer, g_optimizer, loss_fn):
        super().compile()
        self.d_optimizer, self.g_optimizer, self.loss_fn = d_optimizer, g_optimizer, loss_fn

    def train_step(self, data):
        x, y = data
        with GradientTape() as tape:
            loss = self.loss_fn(y, self(x, training=True))
        grads = tape.gradient(loss, self.trainable_variables)
        self.d_optimizer.apply(grads, self.trainable_variables)
        return {"loss": loss}

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@pytest.mark.parametrize("backend", BACKENDS)
def test_model_with_its_own_compile_saves_and_loads(tmp_path, backend):
    keras.backend.set_default_backend(backend)  # compile() without a backend uses it
    model = TwoOptimizerModel()
    model.compile(optimizers.SGD(0.1), optimizers.Adam(), losses.MeanSquaredError())
    x, y = np.ones((4, 3), "float32"), np.zeros((4, 2), "float32")
    model.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "gan_like.keras"
    model.save(path)
    with pytest.warns(UserWarning, match="overrides compile\\(\\).*loaded uncompiled"):
        loaded = load_model(path, custom_objects={"TwoOptimizerModel": TwoOptimizerModel})
    assert not getattr(loaded, "compiled", False)
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6
    )
    loaded.compile(optimizers.SGD(0.1), optimizers.Adam(), losses.MeanSquaredError())
    loaded.fit(x, y, epochs=1, verbose=0)
