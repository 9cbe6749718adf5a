"""frontend.mixed_precision: Keras 3's policies, per-layer dtype, float32 master weights and
islands, LossScaleOptimizer, and the tutorial MLP trained in mixed_bfloat16."""

import sys
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

import graphc as gc
from frontend import mixed_precision
from frontend.layers import Dense, Dropout, Input
from frontend.models import Sequential
from frontend.optimizers import Adam
from frontend.utils import set_random_seed

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
from _common import load_digits  # noqa: E402


@pytest.fixture(autouse=True)
def reset_policy():
    yield
    mixed_precision.set_global_policy(None)


def test_policy_names_and_dtypes_follow_keras():
    policy = mixed_precision.DTypePolicy("mixed_bfloat16")
    assert (policy.name, policy.variable_dtype, policy.compute_dtype) == (
        "mixed_bfloat16", "float32", "bfloat16")
    assert mixed_precision.Policy is mixed_precision.DTypePolicy
    assert mixed_precision.global_policy().name == "float32"
    mixed_precision.set_global_policy("mixed_bfloat16")
    assert mixed_precision.global_policy() == policy
    with pytest.raises(ValueError, match="mixed_float16.*float16"):
        mixed_precision.DTypePolicy("mixed_float16")


def test_a_mixed_dense_layer_keeps_float32_weights_and_computes_in_bfloat16():
    layer = Dense(7, activation="relu", dtype="mixed_bfloat16")
    y = layer(gc.placeholder((None, 5), "float32"))
    assert y.dtype == "bfloat16"
    assert layer.dtype == layer.variable_dtype == "float32"
    assert layer.compute_dtype == "bfloat16"
    assert all(w.dtype == "float32" for w in layer.weights)
    clone = Dense.from_config(layer.get_config())
    assert clone.dtype_policy.name == "mixed_bfloat16"


def test_global_policy_reaches_new_layers_and_islands_are_float32():
    mixed_precision.set_global_policy("mixed_bfloat16")
    x = gc.placeholder((None, 5), "float32")
    hidden = Dense(7, activation="relu")(x)
    dropped = Dropout(0.5)(hidden)  # random masks: a float32 island
    probs = Dense(3, activation="softmax")(dropped)  # softmax sums: float32
    assert (hidden.dtype, dropped.dtype, probs.dtype) == ("bfloat16", "float32", "float32")


def test_loss_scale_optimizer_is_the_inner_optimizer_for_bfloat16():
    inner = Adam(1e-3)
    assert mixed_precision.LossScaleOptimizer(inner) is inner
    with pytest.raises(TypeError, match="inner_optimizer must be an Optimizer"):
        mixed_precision.LossScaleOptimizer("adam")


def tutorial_mlp_accuracy(policy, x, y, xt, yt, backend):
    set_random_seed(7)  # the same initial weights for both policies, and a repeatable accuracy
    mixed_precision.set_global_policy(policy)
    model = Sequential([Input(shape=(784,)), Dense(64, activation="relu"),
                        Dense(64, activation="relu"), Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"],
                  backend=backend)
    model.fit(x, y, batch_size=100, epochs=4, verbose=0, shuffle=False)
    assert all(w.dtype == np.float32 for w in model.get_weights())
    predictions = model.predict(xt, verbose=0)
    assert predictions.dtype == np.float32  # the softmax island
    return model.evaluate(xt, yt, verbose=0)[1]


@pytest.mark.parametrize("backend", ["llvm", "numpy"])
def test_the_tutorial_mlp_trains_in_mixed_bfloat16_to_the_float32_accuracy(backend):
    (x, y), (xt, yt) = load_digits((784,), None)
    x, y = x[:2000], y[:2000]
    fp32 = tutorial_mlp_accuracy("float32", x, y, xt, yt, backend)
    mixed = tutorial_mlp_accuracy("mixed_bfloat16", x, y, xt, yt, backend)
    # 1,000 test digits: 0.02 is 20 digits, more than bfloat16's rounding moves after 4 epochs
    assert fp32 > 0.85 and mixed > fp32 - 0.02, (fp32, mixed)


def test_bfloat16_arrays_reach_a_mixed_model_as_inputs():
    mixed_precision.set_global_policy("mixed_bfloat16")
    model = Sequential([Input(shape=(4,)), Dense(3)])
    out = model.predict(np.ones((2, 4), ml_dtypes.bfloat16), verbose=0)
    assert out.dtype == ml_dtypes.bfloat16 and out.shape == (2, 3)
