"""Issue 12's losses (cosine similarity, focal cross-entropies, categorical hinge, Dice,
Tversky): values against NumPy transcriptions of Keras 3's formulas on both backends,
gradients against central finite differences, names, Keras 3 positional order, saving."""

import numpy as np
import pytest

import graphc as gc
from frontend import losses
from frontend.layers import Dense
from frontend.models import Sequential, load_model
from tests.frontend.conftest import BACKENDS

EPS = 1e-7
RNG = np.random.default_rng(3)
Y_ONEHOT = np.eye(4)[[0, 2, 3, 1, 2]]
P_SOFT = RNG.dirichlet(np.ones(4), size=5)
Y_BIN = RNG.integers(0, 2, size=(5, 4)).astype(float)
P_PROB = RNG.uniform(0.05, 0.95, size=(5, 4))
Y_REAL, P_REAL = RNG.normal(size=(5, 4)), RNG.normal(size=(5, 4))
LOGITS = RNG.normal(size=(5, 4)) * 2


def np_bce(y, p):
    p = np.clip(p, EPS, 1 - EPS)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


def np_binary_focal(y, p, balancing=False, alpha=0.25, gamma=2.0, smoothing=0.0, logits=False):
    y = y * (1 - smoothing) + 0.5 * smoothing
    p = 1 / (1 + np.exp(-p)) if logits else p
    p_t = y * p + (1 - y) * (1 - p)
    focal = (1 - p_t) ** gamma * np_bce(y, p)
    if balancing:
        focal = (y * alpha + (1 - y) * (1 - alpha)) * focal
    return focal.mean(-1)


def np_categorical_focal(y, p, alpha=0.25, gamma=2.0, smoothing=0.0, logits=False):
    y = y * (1 - smoothing) + smoothing / y.shape[-1]
    if logits:
        p = np.exp(p - p.max(-1, keepdims=True))
    p = np.clip(p / p.sum(-1, keepdims=True), EPS, 1 - EPS)
    return np.sum(alpha * (1 - p) ** gamma * -y * np.log(p), -1)


def np_cosine(y, p):
    unit = lambda v: v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), EPS)  # noqa: E731
    return -np.sum(unit(y) * unit(p), -1)


def np_categorical_hinge(y, p):
    return np.maximum(np.max((1 - y) * p, -1) - np.sum(y * p, -1) + 1, 0)


def np_tversky(y, p, alpha=0.5, beta=0.5, axis=None):
    tp = np.sum(y * p, axis=axis)
    fp, fn = np.sum((1 - y) * p, axis=axis), np.sum(y * (1 - p), axis=axis)
    return 1 - tp / (tp + alpha * fp + beta * fn + EPS)


def np_dice(y, p, axis=None):
    return 1 - 2 * np.sum(y * p, axis=axis) / (np.sum(y, axis=axis) + np.sum(p, axis=axis) + EPS)


# name: (loss object, y_true, y_pred, per-sample NumPy values)
CASES = {
    "cosine_similarity": (losses.CosineSimilarity(), Y_REAL, P_REAL, np_cosine(Y_REAL, P_REAL)),
    "categorical_hinge": (
        losses.CategoricalHinge(), Y_ONEHOT, P_REAL, np_categorical_hinge(Y_ONEHOT, P_REAL)
    ),
    "binary_focal": (
        losses.BinaryFocalCrossentropy(), Y_BIN, P_PROB, np_binary_focal(Y_BIN, P_PROB)
    ),
    "binary_focal_balanced_smoothed_logits": (
        losses.BinaryFocalCrossentropy(True, 0.4, 1.5, True, 0.1),
        Y_BIN,
        LOGITS,
        np_binary_focal(Y_BIN, LOGITS, True, 0.4, 1.5, 0.1, logits=True),
    ),
    "categorical_focal": (
        losses.CategoricalFocalCrossentropy(), Y_ONEHOT, P_SOFT,
        np_categorical_focal(Y_ONEHOT, P_SOFT),
    ),
    "categorical_focal_logits_smoothed": (
        losses.CategoricalFocalCrossentropy(0.5, 3.0, from_logits=True, label_smoothing=0.2),
        Y_ONEHOT,
        LOGITS,
        np_categorical_focal(Y_ONEHOT, LOGITS, 0.5, 3.0, 0.2, logits=True),
    ),
    "dice": (losses.Dice(), Y_BIN, P_PROB, np_dice(Y_BIN, P_PROB)),
    "dice_per_sample": (losses.Dice(axis=[1]), Y_BIN, P_PROB, np_dice(Y_BIN, P_PROB, axis=1)),
    "tversky": (losses.Tversky(0.7, 0.3), Y_BIN, P_PROB, np_tversky(Y_BIN, P_PROB, 0.7, 0.3)),
    "tversky_per_sample": (
        losses.Tversky(axis=1), Y_BIN, P_PROB, np_tversky(Y_BIN, P_PROB, axis=1)
    ),
}


def compiled(loss, y, backend, dtype="float64"):
    """(loss value, d loss / d y_pred) as one compiled function of y_pred."""
    true, pred = gc.matrix("y_true", dtype=dtype), gc.matrix("y_pred", dtype=dtype)
    value = loss(true, pred)
    fn = gc.function([true, pred], [value, gc.grad(value, [pred])[0]], backend=backend)
    return lambda p: fn(y.astype(dtype), p)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(CASES))
def test_values_match_keras_formulas(name, backend):
    loss, y, p, per_sample = CASES[name]
    value, _ = compiled(loss, y, backend)(p)
    assert float(value) == pytest.approx(np.mean(per_sample), rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(CASES))
def test_gradients_match_finite_differences(name, backend):
    loss, y, p, _ = CASES[name]
    fn = compiled(loss, y, backend)
    _, grad = fn(p)
    numeric, h = np.zeros_like(p), 1e-6
    for index in np.ndindex(p.shape):
        bump = np.zeros_like(p)
        bump[index] = h
        numeric[index] = (float(fn(p + bump)[0]) - float(fn(p - bump)[0])) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)


def test_sample_weight_and_eager_call():
    loss, y, p, per_sample = CASES["binary_focal"]
    weight = np.array([1.0, 0.0, 2.0, 0.5, 1.0])
    got = loss(y, p.astype("float32"), sample_weight=weight)
    assert float(got) == pytest.approx(np.sum(per_sample * weight) / 5, rel=1e-5)


@pytest.mark.parametrize(
    "name,function",
    [
        ("cosine_similarity", losses.cosine_similarity),
        ("categorical_hinge", losses.categorical_hinge),
        ("binary_focal_crossentropy", losses.binary_focal_crossentropy),
        ("categorical_focal_crossentropy", losses.categorical_focal_crossentropy),
        ("dice", losses.dice),
        ("tversky", losses.tversky),
    ],
)
def test_string_names_give_the_functions(name, function):
    assert losses.get(name).fn is function
    assert losses.serialize(losses.get(name)) == name


def test_keras3_positional_order_and_defaults():
    focal = losses.BinaryFocalCrossentropy(True, 0.1, 3.0)
    assert focal.fn_kwargs["apply_class_balancing"] and focal.fn_kwargs["gamma"] == 3.0
    assert losses.Tversky(0.2, 0.8, "sum").reduction == "sum"
    assert losses.Dice("sum", "d").name == "d" and losses.Dice().fn_kwargs == {"axis": None}
    assert losses.CategoricalFocalCrossentropy().get_config()["alpha"] == 0.25
    with pytest.raises(TypeError, match=r"Tversky: takes at most 6 positional"):
        losses.Tversky(1, 2, 3, 4, 5, 6, 7)


def test_unknown_argument_names_the_class():
    with pytest.raises(TypeError, match="BinaryFocalCrossentropy"):
        losses.BinaryFocalCrossentropy(gama=2.0)


@pytest.mark.parametrize("name", ["binary_focal", "tversky", "cosine_similarity"])
def test_config_round_trip(name):
    loss = CASES[name][0]
    again = losses.get(losses.serialize(loss))
    assert type(again) is type(loss) and again.get_config() == loss.get_config()


@pytest.mark.parametrize("backend", BACKENDS)
def test_model_trains_with_a_new_loss_and_reloads_it(backend, tmp_path):
    model = Sequential([Dense(4, activation="sigmoid", input_shape=(3,))])
    model.compile(optimizer="adam", loss=losses.Tversky(alpha=0.7, beta=0.3), backend=backend)
    x = RNG.normal(size=(5, 3)).astype("float32")
    model.fit(x, Y_BIN.astype("float32"), epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    again = load_model(tmp_path / "m.keras")
    saved_loss = again._compile_args["loss"]
    assert isinstance(saved_loss, losses.Tversky) and saved_loss.fn_kwargs["alpha"] == 0.7
    expected = model.evaluate(x, Y_BIN, verbose=0)
    assert again.evaluate(x, Y_BIN, verbose=0) == pytest.approx(expected, rel=1e-5)


def test_a_dtype_other_than_floatx_is_refused():
    assert losses.Dice(dtype="float32").name == "dice"
    with pytest.raises(ValueError, match=r"Tversky: dtype must be None or 'float32'"):
        losses.Tversky(dtype="float16")
