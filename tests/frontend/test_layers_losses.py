"""Layers (config round trips, eager calls, activations, initializers), losses and metrics
against NumPy, plot_model's hand-off to graphc.viz."""

import numpy as np
import pytest

import frontend as keras
from frontend import activations, initializers, losses, metrics, regularizers
from frontend.layers import (
    LAYERS,
    Activation,
    Add,
    Average,
    BatchNormalization,
    Concatenate,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    Input,
    Maximum,
    Minimum,
    Multiply,
    Reshape,
    Subtract,
    deserialize,
    serialize,
)
from frontend.models import Sequential

EPS = 1e-7


@pytest.mark.parametrize(
    "layer",
    [
        Dense(3, activation="tanh", kernel_regularizer=regularizers.l2(0.1)),
        Activation("gelu"),
        Dropout(0.3),
        Flatten(),
        Reshape((2, -1)),
        Concatenate(axis=1),
        Add(),
        Subtract(),
        Multiply(),
        Average(),
        Maximum(),
        Minimum(),
        BatchNormalization(momentum=0.9),
        Embedding(5, 2),
    ],
    ids=lambda layer: type(layer).__name__,
)
def test_config_round_trip(layer):
    clone = deserialize(serialize(layer))
    assert type(clone) is type(layer) and clone.get_config() == layer.get_config()


def test_layers_register_by_class_name():
    class Scale(keras.layers.Layer):
        def call(self, x):
            return x * 2.0

    assert LAYERS["Scale"] is Scale
    assert deserialize({"class_name": "Scale", "config": {"name": "s"}}).name == "s"


def test_eager_layer_call_matches_numpy():
    layer = Dense(2, activation="relu")
    x = np.array([[1.0, -2.0, 0.5]], "float32")
    kernel, bias = np.array([[1, 0], [0, 1], [2, -1]], "float32"), np.array([0.5, 0], "float32")
    layer.build((None, 3))
    layer.built = True
    layer.set_weights([kernel, bias])
    np.testing.assert_allclose(layer(x), np.maximum(x @ kernel + bias, 0))


@pytest.mark.parametrize(
    "name,reference",
    [
        ("relu", lambda x: np.maximum(x, 0)),
        ("sigmoid", lambda x: 1 / (1 + np.exp(-x))),
        ("tanh", np.tanh),
        ("softplus", lambda x: np.log1p(np.exp(x))),
        ("softsign", lambda x: x / (1 + np.abs(x))),
        ("hard_sigmoid", lambda x: np.clip(x / 6 + 0.5, 0, 1)),
        ("elu", lambda x: np.where(x > 0, x, np.expm1(x))),
        ("swish", lambda x: x / (1 + np.exp(-x))),
        ("leaky_relu", lambda x: np.where(x > 0, x, 0.2 * x)),
        ("relu6", lambda x: np.clip(x, 0, 6)),
        ("exponential", np.exp),
        ("linear", lambda x: x),
        ("softmax", lambda x: np.exp(x) / np.exp(x).sum(-1, keepdims=True)),
        ("log_softmax", lambda x: x - np.log(np.exp(x).sum(-1, keepdims=True))),
    ],
)
def test_activations(name, reference):
    x = np.array([[-7.0, -1.0, 0.0, 0.5, 8.0]], "float32")
    np.testing.assert_allclose(
        Activation(name)(x), reference(x.astype(np.float64)), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize(
    "layer,reference",
    [
        (keras.layers.Softmax(), lambda x: np.exp(x) / np.exp(x).sum(-1, keepdims=True)),
        (keras.layers.ReLU(), lambda x: np.maximum(x, 0)),
        (
            keras.layers.ReLU(max_value=6.0, negative_slope=0.1, threshold=0.5),
            lambda x: np.minimum(np.where(x > 0.5, x, 0.1 * (x - 0.5)), 6.0),
        ),
        (keras.layers.LeakyReLU(), lambda x: np.where(x > 0, x, 0.3 * x)),
        (keras.layers.ELU(alpha=0.5), lambda x: np.where(x > 0, x, 0.5 * np.expm1(x))),
    ],
    ids=["Softmax", "ReLU", "ReLU_options", "LeakyReLU", "ELU"],
)
def test_activation_layers(layer, reference):
    x = np.array([[-7.0, -1.0, 0.0, 0.5, 8.0]], "float32")
    np.testing.assert_allclose(layer(x), reference(x.astype(np.float64)), rtol=1e-5, atol=1e-6)
    clone = deserialize(serialize(layer))
    assert type(clone) is type(layer) and clone.get_config() == layer.get_config()


def test_keras2_leaky_relu_alpha_and_import_path():
    from frontend.layers.advanced_activations import LeakyReLU

    with pytest.warns(
        DeprecationWarning, match="`alpha` is the Keras 1/2 name of `negative_slope`"
    ):
        layer = LeakyReLU(alpha=0.1)
    assert layer.negative_slope == pytest.approx(0.1)
    assert layer.name == "leaky_re_lu" and keras.layers.ReLU().name == "re_lu"  # as Keras


def test_unknown_activation_suggests():
    with pytest.raises(ValueError, match="Did you mean `softmax`"):
        activations.get("sofmax")


def test_initializer_defaults():
    glorot = initializers.get("glorot_uniform")((400, 600))
    limit = np.sqrt(6 / 1000)
    assert np.abs(glorot).max() <= limit and glorot.std() == pytest.approx(
        limit / np.sqrt(3), rel=0.05
    )
    he = initializers.get("he_normal")((1000, 50))
    assert he.std() == pytest.approx(np.sqrt(2 / 1000), rel=0.1)
    assert np.abs(he).max() <= 2 * np.sqrt(2 / 1000) / 0.8796256 + 1e-6
    q = initializers.Orthogonal()((6, 4))
    np.testing.assert_allclose(q.T @ q, np.eye(4), atol=1e-5)
    assert initializers.get("random_uniform")((100,)).max() <= 0.05
    dense = Dense(3)
    dense.build((None, 2))
    assert np.all(dense.bias.get_value() == 0)


def test_seeded_initialization_repeats():
    keras.utils.set_random_seed(5)
    a = Sequential([Dense(4, input_shape=(3,))]).get_weights()[0]
    keras.utils.set_random_seed(5)
    b = Sequential([Dense(4, input_shape=(3,))]).get_weights()[0]
    np.testing.assert_array_equal(a, b)


Y_CAT = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 1.0]])
P_CAT = np.array([[0.2, 0.7, 0.1], [0.5, 0.4, 0.1], [0.0, 0.1, 0.9]])
LOGITS = np.array([[1.0, 2.0, -1.0], [0.5, 0.1, 3.0], [-2.0, 0.0, 2.0]])
Y_BIN = np.array([[1.0], [0.0], [1.0]])
P_BIN = np.array([[0.9], [0.2], [1.0]])
Y_REG = np.array([[1.0, 2.0], [0.5, -1.0], [3.0, 0.1]])
P_REG = np.array([[1.5, 1.0], [0.0, -1.5], [2.0, 4.0]])


# Each case: (y_true, y_pred, the per-sample loss computed with NumPy).
def clip(p):
    return np.clip(p, EPS, 1 - EPS)


def probability_cases() -> dict:
    return {
        "categorical_crossentropy": (Y_CAT, P_CAT, -np.sum(Y_CAT * np.log(clip(P_CAT)), 1)),
        "sparse_categorical_crossentropy": (
            np.array([1, 0, 2]),
            P_CAT,
            -np.log(clip(P_CAT[[0, 1, 2], [1, 0, 2]])),
        ),
        "binary_crossentropy": (
            Y_BIN,
            P_BIN,
            -(Y_BIN * np.log(clip(P_BIN)) + (1 - Y_BIN) * np.log(1 - clip(P_BIN)))[:, 0],
        ),
    }


def regression_cases() -> dict:
    e = P_REG - Y_REG
    huber = np.where(np.abs(e) <= 1, 0.5 * e * e, np.abs(e) - 0.5)
    return {
        "mse": (Y_REG, P_REG, np.mean(e**2, 1)),
        "mae": (Y_REG, P_REG, np.mean(np.abs(e), 1)),
        "mape": (Y_REG, P_REG, 100 * np.mean(np.abs(e) / np.abs(Y_REG), 1)),
        "msle": (
            np.abs(Y_REG),
            np.abs(P_REG),
            np.mean((np.log1p(np.abs(P_REG)) - np.log1p(np.abs(Y_REG))) ** 2, 1),
        ),
        "huber": (Y_REG, P_REG, np.mean(huber, 1)),
        "log_cosh": (Y_REG, P_REG, np.mean(np.log(np.cosh(e)), 1)),
    }


def margin_and_divergence_cases() -> dict:
    return {
        "hinge": (Y_BIN, P_REG[:, :1], np.maximum(1 - (2 * Y_BIN - 1) * P_REG[:, :1], 0)[:, 0]),
        "squared_hinge": (
            Y_BIN,
            P_REG[:, :1],
            np.maximum(1 - (2 * Y_BIN - 1) * P_REG[:, :1], 0)[:, 0] ** 2,
        ),
        "kl_divergence": (
            Y_CAT,
            P_CAT,
            np.sum(clip(Y_CAT) * np.log(np.clip(Y_CAT, EPS, 1) / np.clip(P_CAT, EPS, 1)), 1),
        ),
        "poisson": (
            np.abs(Y_REG),
            np.abs(P_REG),
            np.mean(np.abs(P_REG) - np.abs(Y_REG) * np.log(np.abs(P_REG) + EPS), 1),
        ),
    }


def logit_cases() -> dict:
    log_softmax = LOGITS - np.log(np.exp(LOGITS).sum(1, keepdims=True))
    return {
        "from_logits_cce": (Y_CAT, LOGITS, -np.sum(Y_CAT * log_softmax, 1)),
        "from_logits_bce": (
            Y_BIN,
            LOGITS[:, :1],
            np.log1p(np.exp(-LOGITS[:, :1]))[:, 0] + (1 - Y_BIN[:, 0]) * LOGITS[:, 0],
        ),
    }


def numpy_losses() -> dict:
    return {
        **probability_cases(),
        **regression_cases(),
        **margin_and_divergence_cases(),
        **logit_cases(),
    }


LOSS_OBJECTS = {
    "from_logits_cce": losses.CategoricalCrossentropy(from_logits=True),
    "from_logits_bce": losses.BinaryCrossentropy(from_logits=True),
}


@pytest.mark.parametrize("name", list(numpy_losses()))
def test_losses_match_numpy_and_reduce_over_the_batch(name):
    y, p, per_sample = numpy_losses()[name]
    loss = LOSS_OBJECTS.get(name) or losses.get(name)
    assert loss(y, p) == pytest.approx(per_sample.mean(), rel=1e-4, abs=1e-6)
    w = np.array([1.0, 0.0, 2.0])
    assert loss(y, p, sample_weight=w) == pytest.approx(
        np.sum(per_sample * w) / 3, rel=1e-4, abs=1e-6
    )


@pytest.mark.parametrize(
    "metric,y,p,expected",
    [
        (metrics.CategoricalAccuracy(), Y_CAT, P_CAT[[0, 2, 1]], 1 / 3),
        (metrics.SparseCategoricalAccuracy(), np.array([1, 0, 1]), P_CAT, 2 / 3),
        (metrics.BinaryAccuracy(), Y_BIN, P_BIN, 1.0),
        (metrics.TopKCategoricalAccuracy(k=2), Y_CAT, P_CAT, 1.0),
        (metrics.MeanSquaredError(), Y_REG, P_REG, np.mean((P_REG - Y_REG) ** 2)),
        (metrics.Precision(), np.array([0, 1, 1, 1]), np.array([0.6, 0.2, 0.7, 0.9]), 2 / 3),
        (metrics.Recall(), np.array([0, 1, 1, 1]), np.array([0.6, 0.2, 0.7, 0.9]), 2 / 3),
        (metrics.AUC(), np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]), 0.75),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, metrics.Metric) else "",
)
def test_metrics(metric, y, p, expected):
    metric.update_state(y, p)
    assert metric.result() == pytest.approx(expected, rel=1e-3)
    metric.reset_state()
    metric.update_state(y, p)
    assert metric.result() == pytest.approx(expected, rel=1e-3)


def test_accuracy_is_chosen_like_keras():
    pick = metrics.pick_accuracy
    assert pick((None, 10), (None, 10)) is metrics.categorical_accuracy
    assert pick((None,), (None, 10)) is metrics.sparse_categorical_accuracy
    assert pick((None, 1), (None, 10)) is metrics.sparse_categorical_accuracy
    assert pick((None, 1), (None, 1)) is metrics.binary_accuracy


def test_regularizers_add_to_the_training_loss():
    model = Sequential(
        [
            Dense(
                1,
                input_shape=(2,),
                kernel_regularizer=regularizers.l2(0.5),
                use_bias=False,
                kernel_initializer="ones",
            )
        ]
    )
    model.compile(keras.optimizers.SGD(0.0), "mse", backend="numpy")
    x, y = np.zeros((4, 2)), np.zeros((4, 1))
    assert model.train_on_batch(x, y) == pytest.approx(0.5 * 2)  # l2 * sum(w^2), w = ones
    assert model.test_on_batch(x, y) == pytest.approx(0.0)


def test_plot_model_hands_records_to_graphc_viz(tmp_path, monkeypatch):
    import graphc.viz

    seen = {}
    monkeypatch.setattr(
        graphc.viz,
        "draw_layers",
        lambda records, to_file, **kw: seen.update(records=records, kw=kw),
        raising=False,
    )
    model = Sequential([Input(shape=(3,)), Dense(2, activation="relu")])
    keras.utils.plot_model(model, str(tmp_path / "m.png"), show_shapes=True, rankdir="LR")
    assert seen["records"] == model.layer_records()
    assert seen["kw"]["show_shapes"] and seen["kw"]["rankdir"] == "LR"
