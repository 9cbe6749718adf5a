"""frontend.random (Keras 3's keras.random): distributions, seeds and SeedGenerator, the same
bits on both backends inside compiled graphs, reproducible with set_random_seed."""

import numpy as np
import pytest

import frontend as keras
import graphc as gc
from frontend import ops
from frontend import random as krandom
from frontend.layers.tensor import call_context
from frontend.random_math import cos_turns, log_positive
from tests.frontend.conftest import BACKENDS, llvm_available


def test_distributions_have_the_right_moments_and_ranges():
    n = 40000
    normal = krandom.normal((n,), mean=1.0, stddev=2.0, seed=1)
    assert normal.dtype == np.float32 and normal.shape == (n,)
    assert abs(normal.mean() - 1.0) < 0.05 and abs(normal.std() - 2.0) < 0.05
    uniform = krandom.uniform((n,), minval=-1.0, maxval=3.0, seed=2)
    assert uniform.min() >= -1.0 and uniform.max() < 3.0 and abs(uniform.mean() - 1.0) < 0.05
    truncated = krandom.truncated_normal((n,), seed=3)
    assert np.abs(truncated).max() <= 2.0 and abs(truncated.std() - 0.8796) < 0.02
    ints = krandom.randint((n,), 3, 7, seed=4)
    assert ints.dtype == np.int32 and set(np.unique(ints)) == {3, 4, 5, 6}
    assert krandom.normal((2, 3), dtype="float64", seed=5).dtype == np.float64


def test_categorical_draws_classes_with_softmax_probabilities():
    probabilities = np.array([[0.1, 0.2, 0.7], [0.5, 0.5, 0.0]], "float32")
    draws = krandom.categorical(np.log(probabilities + 1e-30), 20000, seed=3)
    assert draws.shape == (2, 20000) and draws.dtype == np.int32
    frequencies = np.stack([np.bincount(row, minlength=3) / 20000 for row in draws])
    np.testing.assert_allclose(frequencies, probabilities, atol=0.015)
    logits = gc.placeholder((None, 3))  # the batch known only at run time
    node = krandom.categorical(logits, 2, seed=1)
    out = gc.function([logits], node, backend="numpy")(np.zeros((5, 3), "float32"))
    assert out.shape == (5, 2) and set(np.unique(out)) <= {0, 1, 2}


def test_int_seed_repeats_generator_and_none_advance():
    assert np.array_equal(krandom.normal((5,), seed=7), krandom.normal((5,), seed=7))
    generator = krandom.SeedGenerator(11)
    first, second = krandom.normal((5,), seed=generator), krandom.normal((5,), seed=generator)
    assert not np.array_equal(first, second)
    assert not np.array_equal(krandom.uniform((5,)), krandom.uniform((5,)))


def test_set_random_seed_makes_runs_repeat():
    def draws():
        keras.utils.set_random_seed(99)
        generator = krandom.SeedGenerator()
        return [krandom.normal((4,)), krandom.uniform((4,), seed=generator)]

    for a, b in zip(draws(), draws()):
        np.testing.assert_array_equal(a, b)


def test_dropout_keeps_expectation():
    x = np.ones((200, 100), "float32")
    dropped = krandom.dropout(x, 0.25, seed=3)
    assert set(np.unique(dropped)) == {0.0, np.float32(1 / 0.75)}
    assert abs((dropped == 0).mean() - 0.25) < 0.02
    column = krandom.dropout(x, 0.5, noise_shape=(1, 100), seed=3)
    assert (column == column[0]).all()


@pytest.mark.skipif(not llvm_available(), reason="needs the llvm backend")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_same_bits_on_both_backends_in_compiled_graphs(dtype):
    generator = krandom.SeedGenerator(5)
    with call_context(training=True):  # inside a graph the functions return nodes
        draws = [
            krandom.normal((257,), dtype=dtype, seed=generator),
            krandom.truncated_normal((3, 50), dtype=dtype, seed=generator),
            krandom.uniform((64,), dtype=dtype, seed=generator),
            krandom.randint((64,), 0, 100, seed=generator),
            krandom.categorical(gc.constant(np.zeros((4, 5), dtype)), 30, seed=generator),
        ]
    numpy_out = gc.function([], draws, backend="numpy")()
    llvm_out = gc.function([], draws, backend="llvm")()
    for a, b in zip(numpy_out, llvm_out):
        np.testing.assert_array_equal(a, b)


def test_exact_log_and_cos_are_accurate():
    u = np.concatenate([np.arange(1, 4097) / 4096, [2.0**-24, 1 - 2.0**-24]]).astype("float64")
    node = gc.placeholder(u.shape, "float64")
    log, cos = gc.function([node], [log_positive(node), cos_turns(node)], backend="numpy")(u)
    np.testing.assert_allclose(log, np.log(u), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(cos, np.cos(2 * np.pi * u), atol=1e-14)
    big = np.geomspace(2.0**-31, 2.0**31, 1001)
    node = gc.placeholder(big.shape, "float64")
    got = gc.function([node], log_positive(node), backend="numpy")(big)
    np.testing.assert_allclose(got, np.log(big), rtol=1e-14, atol=1e-14)


class Sampling(keras.layers.Layer):
    """The VAE sampling layer of the Keras 3 example, unchanged but for imports."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = krandom.SeedGenerator(1337)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        batch = ops.shape(z_mean)[0]
        dim = ops.shape(z_mean)[1]
        epsilon = krandom.normal(shape=(batch, dim), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon


@pytest.mark.parametrize("backend", BACKENDS)
def test_vae_sampling_layer_trains_with_fresh_noise_each_step(backend):
    inputs = keras.Input(shape=(6,))
    z_mean = keras.layers.Dense(2)(inputs)
    z_log_var = keras.layers.Dense(2)(inputs)
    z = Sampling()([z_mean, z_log_var])
    outputs = keras.layers.Dense(6)(z)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="mse", backend=backend)
    x = np.random.default_rng(0).standard_normal((32, 6)).astype("float32")
    history = model.fit(x, x, epochs=3, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    encoder = keras.Model(inputs, z)
    assert encoder.predict(x[:4], verbose=0).shape == (4, 2)


def test_refusals_name_function_and_argument():
    with pytest.raises(TypeError, match="random.normal: seed must be None, an int or a Seed"):
        krandom.normal((2,), seed="x")
    with pytest.raises(ValueError, match="random.randint: dtype must be an int dtype"):
        krandom.randint((2,), 0, 3, dtype="float32")
    with pytest.raises(ValueError, match="random.uniform: shape must hold non-negative ints"):
        krandom.uniform((None, 2))
    with pytest.raises(NotImplementedError, match="random.shuffle is not supported"):
        krandom.shuffle(np.arange(3))
    with pytest.raises(AttributeError, match="frontend.random.gamma is not supported"):
        krandom.gamma((2,), alpha=1.0)
    with pytest.raises(TypeError, match="use layers.Dropout"):
        krandom.dropout(keras.Input(shape=(2,)), 0.5)
