"""keras.io's larger custom-step examples, structure kept and imports changed: the VAE
(nested models, three trackers) and the GAN (its own compile, two optimizers in one traced
step), and a functional subclass with a custom step saved and reloaded."""

import numpy as np
import pytest

import frontend as keras
import graphc as gc
from frontend import layers, losses, metrics, models
from frontend.gradients import GradientTape
from tests.frontend.conftest import BACKENDS
from tests.frontend.test_custom_steps import Keras3Step, dense_model, regression_data


class VAE(models.Model):
    """keras.io's VAE structure: nested encoder/decoder models, three trackers, a `metrics`
    property (the sampling noise is left out: frontend.random belongs to another module)."""

    def __init__(self, encoder, decoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder, self.decoder = encoder, decoder
        self.total_loss_tracker = metrics.Mean(name="total_loss")
        self.reconstruction_loss_tracker = metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = metrics.Mean(name="kl_loss")

    @property
    def metrics(self):
        return [self.total_loss_tracker, self.reconstruction_loss_tracker, self.kl_loss_tracker]

    def call(self, inputs):
        z_mean, _ = self.encoder(inputs)
        return self.decoder(z_mean)

    def train_step(self, data):
        with GradientTape() as tape:
            z_mean, z_log_var = self.encoder(data)
            reconstruction = self.decoder(z_mean)
            reconstruction_loss = gc.mean(
                gc.sum(losses.binary_crossentropy(data[..., None], reconstruction[..., None]),
                       axis=1)
            )
            kl_loss = -0.5 * (1 + z_log_var - gc.square(z_mean) - gc.exp(z_log_var))
            kl_loss = gc.mean(gc.sum(kl_loss, axis=1))
            total_loss = reconstruction_loss + kl_loss
        grads = tape.gradient(total_loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.total_loss_tracker.update_state(total_loss)
        self.reconstruction_loss_tracker.update_state(reconstruction_loss)
        self.kl_loss_tracker.update_state(kl_loss)
        return {
            "loss": self.total_loss_tracker.result(),
            "reconstruction_loss": self.reconstruction_loss_tracker.result(),
            "kl_loss": self.kl_loss_tracker.result(),
        }


@pytest.mark.parametrize("backend", BACKENDS)
def test_keras_io_vae_structure_trains(backend):
    inputs = layers.Input((8,))
    hidden = layers.Dense(6, activation="relu")(inputs)
    encoder = models.Model(inputs, [layers.Dense(2)(hidden), layers.Dense(2)(hidden)])
    latent = layers.Input((2,))
    decoder = models.Model(latent, layers.Dense(8, activation="sigmoid")(latent))
    vae = VAE(encoder, decoder)
    assert len(vae.trainable_weights) == len(encoder.weights) + len(decoder.weights)
    x = (np.random.default_rng(0).random((64, 8)) > 0.5).astype("float32")
    vae.compile(optimizer=keras.optimizers.Adam(0.02), backend=backend)
    history = vae.fit(x, epochs=6, batch_size=16, verbose=0).history
    assert set(history) == {"loss", "reconstruction_loss", "kl_loss"}
    assert history["loss"][-1] < history["loss"][0]
    np.testing.assert_allclose(
        history["loss"], np.add(history["reconstruction_loss"], history["kl_loss"]), 1e-5
    )


class GAN(models.Model):
    """keras.io's GAN structure: its own compile with two optimizers, each applied to one
    sub-model's weights in the same traced step (the latent noise is a fixed projection of
    the batch here: frontend.random belongs to another module)."""

    def __init__(self, discriminator, generator):
        super().__init__()
        self.discriminator, self.generator = discriminator, generator
        self.d_loss_tracker = metrics.Mean(name="d_loss")
        self.g_loss_tracker = metrics.Mean(name="g_loss")

    def compile(self, d_optimizer, g_optimizer, loss_fn, **kwargs):
        super().compile(**kwargs)
        self.d_optimizer, self.g_optimizer, self.loss_fn = d_optimizer, g_optimizer, loss_fn

    def call(self, inputs):
        return self.discriminator(inputs)

    def train_step(self, real):
        latent = gc.tanh(real[:, :2])
        fake = self.generator(latent)
        ones = 0 * real[:, :1] + 1
        with GradientTape() as tape:
            real_score, fake_score = self.discriminator(real), self.discriminator(fake)
            d_loss = self.loss_fn(ones, real_score) + self.loss_fn(0 * ones, fake_score)
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))
        with GradientTape() as tape:
            g_loss = self.loss_fn(ones, self.discriminator(self.generator(latent)))
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}


@pytest.mark.parametrize("backend", BACKENDS)
def test_keras_io_gan_structure_with_two_optimizers(backend):
    discriminator = models.Sequential([layers.Input((4,)), layers.Dense(1, activation="sigmoid")])
    generator = models.Sequential([layers.Input((2,)), layers.Dense(4)])
    gan = GAN(discriminator, generator)
    gan.compile(
        keras.optimizers.Adam(0.01), keras.optimizers.Adam(0.01), losses.BinaryCrossentropy(),
        backend=backend,
    )
    d_before, g_before = discriminator.get_weights(), generator.get_weights()
    x = np.random.default_rng(0).standard_normal((32, 4)).astype("float32")
    history = gan.fit(x, epochs=2, batch_size=8, verbose=0).history
    assert set(history) == {"d_loss", "g_loss"} and np.all(np.isfinite(history["d_loss"]))
    assert gan.d_optimizer.iterations.get_value() == 8 == gan.g_optimizer.iterations.get_value()
    for before, model in ((d_before, discriminator), (g_before, generator)):
        assert not np.allclose(before[0], model.get_weights()[0])


def test_functional_subclass_with_custom_step_saves_and_loads(tmp_path):
    x, y = regression_data(16)
    model = dense_model(Keras3Step)
    model.compile("sgd", "mse")
    model.fit(x, y, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert type(loaded) is Keras3Step
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    loaded.fit(x, y, verbose=0)


class PartsOnly(models.Model):
    """keras.io's VAE shape: sub-models as attributes, a train_step, and no call()."""

    def __init__(self, encoder, decoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder, self.decoder = encoder, decoder
        self.loss_tracker = metrics.Mean(name="loss")

    @property
    def metrics(self):
        return [self.loss_tracker]

    def train_step(self, data):
        with GradientTape() as tape:
            loss = keras.ops.mean(keras.ops.square(self.decoder(self.encoder(data)) - data))
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_model_with_only_a_train_step_and_no_call_trains_on_x_alone(backend):
    x = np.random.default_rng(0).random((64, 6)).astype("float32")
    encoder = models.Sequential([layers.Input((6,)), layers.Dense(3, activation="tanh")])
    decoder = models.Sequential([layers.Input((3,)), layers.Dense(6)])
    model = PartsOnly(encoder, decoder)
    model.compile(keras.optimizers.Adam(0.05), backend=backend)
    history = model.fit(x, epochs=8, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    with pytest.raises(NotImplementedError, match="has no graph"):
        model.predict(x, verbose=0)
