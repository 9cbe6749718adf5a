"""Each optimizer's first three steps against a NumPy transcription of Keras 3's formulas."""

import numpy as np
import pytest

from frontend import optimizers
from frontend.layers import Dense
from frontend.models import Sequential
from frontend.optimizers import schedules

X = np.array([[0.5, -1.0, 2.0], [1.5, 0.3, -0.7], [-0.2, 0.8, 0.1], [1.0, 1.0, 1.0]], "float32")
Y = np.array([[1.0, -1.0], [0.5, 2.0], [0.0, 0.3], [-1.0, 1.0]], "float32")
W0 = np.array([[0.1, -0.2], [0.3, 0.05], [-0.4, 0.2]], "float32")
B0 = np.array([0.01, -0.02], "float32")


def gradients(w, b):
    """d mse / d(w, b) for the linear model p = x w + b, mean over all elements."""
    p = X.astype(np.float64) @ w + b
    g = 2 * (p - Y) / Y.size
    return [X.T.astype(np.float64) @ g, g.sum(0)]


def sgd(lr=0.01, momentum=0.0, nesterov=False):
    def step(params, grads, state, t):
        out = []
        for i, (p, g) in enumerate(zip(params, grads)):
            if momentum:
                m = state.setdefault(("m", i), np.zeros_like(p))
                m = momentum * m - lr * g
                state[("m", i)] = m
                out.append(p + (momentum * m - lr * g if nesterov else m))
            else:
                out.append(p - lr * g)
        return out

    return step


def rmsprop(lr=0.001, rho=0.9, momentum=0.0, eps=1e-7, centered=False):
    def step(params, grads, state, t):
        out = []
        for i, (p, g) in enumerate(zip(params, grads)):
            v = rho * state.get(("v", i), 0) + (1 - rho) * g * g
            state[("v", i)] = v
            if centered:
                a = rho * state.get(("a", i), 0) + (1 - rho) * g
                state[("a", i)] = a
                denom = v - a * a + eps
            else:
                denom = v + eps
            inc = lr * g / np.sqrt(denom)
            if momentum:
                m = momentum * state.get(("m", i), 0) + inc
                state[("m", i)] = m
                inc = m
            out.append(p - inc)
        return out

    return step


def adagrad(lr=0.001, init=0.1, eps=1e-7):
    def step(params, grads, state, t):
        out = []
        for i, (p, g) in enumerate(zip(params, grads)):
            acc = state.get(("acc", i), init) + g * g
            state[("acc", i)] = acc
            out.append(p - lr * g / np.sqrt(acc + eps))
        return out

    return step


def adadelta(lr=0.001, rho=0.95, eps=1e-7):
    def step(params, grads, state, t):
        out = []
        for i, (p, g) in enumerate(zip(params, grads)):
            eg = rho * state.get(("eg", i), 0) + (1 - rho) * g * g
            ed = state.get(("ed", i), 0)
            d = -np.sqrt(ed + eps) / np.sqrt(eg + eps) * g
            state[("eg", i)], state[("ed", i)] = eg, rho * ed + (1 - rho) * d * d
            out.append(p + lr * d)
        return out

    return step


def adam(lr=0.001, b1=0.9, b2=0.999, eps=1e-7, amsgrad=False):
    def step(params, grads, state, t):
        out = []
        alpha = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        for i, (p, g) in enumerate(zip(params, grads)):
            m = state.get(("m", i), 0) + (g - state.get(("m", i), 0)) * (1 - b1)
            v = state.get(("v", i), 0) + (g * g - state.get(("v", i), 0)) * (1 - b2)
            state[("m", i)], state[("v", i)] = m, v
            if amsgrad:
                v = np.maximum(state.get(("vh", i), 0), v)
                state[("vh", i)] = v
            out.append(p - alpha * m / (np.sqrt(v) + eps))
        return out

    return step


def adamax(lr=0.001, b1=0.9, b2=0.999, eps=1e-7):
    def step(params, grads, state, t):
        out = []
        for i, (p, g) in enumerate(zip(params, grads)):
            m = state.get(("m", i), 0) + (g - state.get(("m", i), 0)) * (1 - b1)
            u = np.maximum(b2 * state.get(("u", i), 0), np.abs(g))
            state[("m", i)], state[("u", i)] = m, u
            out.append(p - lr * m / ((1 - b1**t) * (u + eps)))
        return out

    return step


def nadam(lr=0.001, b1=0.9, b2=0.999, eps=1e-7, schedule_decay=1.0):
    """Keras 3's Nadam; with `schedule_decay` Keras 2's momentum schedule 0.96**(t * decay)."""

    def step(params, grads, state, t):
        u_t = b1 * (1 - 0.5 * 0.96 ** (t * schedule_decay))
        u_t1 = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * schedule_decay))
        state["u_product"] = state.get("u_product", 1.0) * u_t
        prod, prod1 = state["u_product"], state["u_product"] * u_t1
        out = []
        for i, (p, g) in enumerate(zip(params, grads)):
            m = state.get(("m", i), 0) + (g - state.get(("m", i), 0)) * (1 - b1)
            v = state.get(("v", i), 0) + (g * g - state.get(("v", i), 0)) * (1 - b2)
            state[("m", i)], state[("v", i)] = m, v
            m_hat = u_t1 * m / (1 - prod1) + (1 - u_t) * g / (1 - prod)
            v_hat = v / (1 - b2**t)
            out.append(p - lr * m_hat / (np.sqrt(v_hat) + eps))
        return out

    return step


CASES = [
    ("sgd", optimizers.SGD(), sgd()),
    ("sgd_momentum", optimizers.SGD(0.05, momentum=0.9), sgd(0.05, 0.9)),
    ("sgd_nesterov", optimizers.SGD(0.05, momentum=0.9, nesterov=True), sgd(0.05, 0.9, True)),
    ("rmsprop", optimizers.RMSprop(), rmsprop()),
    (
        "rmsprop_momentum_centered",
        optimizers.RMSprop(0.01, momentum=0.5, centered=True),
        rmsprop(0.01, momentum=0.5, centered=True),
    ),
    ("adagrad", optimizers.Adagrad(0.1), adagrad(0.1)),
    ("adadelta", optimizers.Adadelta(1.0), adadelta(1.0)),
    ("adam", optimizers.Adam(0.01), adam(0.01)),
    ("adam_amsgrad", optimizers.Adam(0.01, amsgrad=True), adam(0.01, amsgrad=True)),
    ("adamax", optimizers.Adamax(0.01), adamax(0.01)),
    ("nadam", optimizers.Nadam(0.01), nadam(0.01)),
]


def keras2_nadam():
    with pytest.warns(DeprecationWarning, match="schedule_decay"):
        return optimizers.Nadam(0.01, schedule_decay=0.004)


CASES.append(("nadam_keras2_schedule", keras2_nadam(), nadam(0.01, schedule_decay=0.004)))


def linear_model(optimizer):
    model = Sequential([Dense(2, input_shape=(3,))])
    model.set_weights([W0, B0])
    model.compile(optimizer=optimizer, loss="mse", backend="numpy")
    return model


def reference_run(step, steps=3, clip=None):
    params, state = [W0.astype(np.float64), B0.astype(np.float64)], {}
    history = []
    for t in range(1, steps + 1):
        grads = gradients(*params)
        if clip:
            grads = clip(grads)
        params = step(params, grads, state, t)
        history.append([p.copy() for p in params])
    return history


@pytest.mark.parametrize("name,optimizer,reference", CASES, ids=[c[0] for c in CASES])
def test_first_three_steps_match_keras_formulas(name, optimizer, reference):
    model = linear_model(optimizer)
    for expected in reference_run(reference):
        model.train_on_batch(X, Y)
        for got, want in zip(model.get_weights(), expected):
            np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6)
    assert int(optimizer.iterations.get_value()) == 3


def test_keras_3_defaults():
    assert optimizers.SGD().learning_rate == pytest.approx(0.01)
    for cls in (
        optimizers.RMSprop,
        optimizers.Adagrad,
        optimizers.Adadelta,
        optimizers.Adam,
        optimizers.Adamax,
        optimizers.Nadam,
    ):
        assert cls().learning_rate == pytest.approx(0.001)
    assert optimizers.RMSprop().rho == 0.9 and optimizers.RMSprop().epsilon == 1e-7
    assert optimizers.Adagrad().initial_accumulator_value == 0.1
    assert optimizers.Adadelta().rho == 0.95
    adam = optimizers.Adam()
    assert (adam.beta_1, adam.beta_2, adam.epsilon, adam.amsgrad) == (0.9, 0.999, 1e-7, False)


def clip_each(c):
    return lambda grads: [g * c / max(np.sqrt(np.sum(g * g)), c) for g in grads]


def clip_global(c):
    def clip(grads):
        norm = np.sqrt(sum(np.sum(g * g) for g in grads))
        return [g * c / max(norm, c) for g in grads]

    return clip


@pytest.mark.parametrize(
    "kwargs,clip",
    [
        ({"clipnorm": 0.05}, clip_each(0.05)),
        ({"global_clipnorm": 0.05}, clip_global(0.05)),
        ({"clipvalue": 0.02}, lambda grads: [np.clip(g, -0.02, 0.02) for g in grads]),
    ],
)
def test_gradient_clipping(kwargs, clip):
    model = linear_model(optimizers.SGD(0.5, **kwargs))
    for expected in reference_run(sgd(0.5), clip=clip):
        model.train_on_batch(X, Y)
        for got, want in zip(model.get_weights(), expected):
            np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6)


def test_only_one_clipping_option():
    with pytest.raises(ValueError, match="only one of clipnorm"):
        optimizers.Adam(clipnorm=1.0, clipvalue=1.0)


def test_schedule_is_computed_from_the_iteration_counter():
    schedule = schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    model = linear_model(optimizers.SGD(schedule))
    params = [W0.astype(np.float64), B0.astype(np.float64)]
    for t in range(3):
        lr = 0.1 * 0.5**t  # step t uses iterations == t, as in Keras
        params = [p - lr * g for p, g in zip(params, gradients(*params))]
        model.train_on_batch(X, Y)
    for got, want in zip(model.get_weights(), params):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6)
    assert model.optimizer.learning_rate == pytest.approx(0.1 * 0.5**3)


@pytest.mark.parametrize(
    "schedule,expected",
    [
        (schedules.InverseTimeDecay(0.1, 10, 0.5), lambda s: 0.1 / (1 + 0.5 * s / 10)),
        (
            schedules.InverseTimeDecay(0.1, 10, 0.5, staircase=True),
            lambda s: 0.1 / (1 + 0.5 * (s // 10)),
        ),
        (
            schedules.ExponentialDecay(0.1, 10, 0.5, staircase=True),
            lambda s: 0.1 * 0.5 ** (s // 10),
        ),
        (
            schedules.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1]),
            lambda s: 1.0 if s <= 10 else 0.5 if s <= 20 else 0.1,
        ),
        (
            schedules.CosineDecay(0.1, 100, alpha=0.1),
            lambda s: 0.1 * (0.9 * 0.5 * (1 + np.cos(np.pi * min(s, 100) / 100)) + 0.1),
        ),
        (
            schedules.PolynomialDecay(0.1, 100, 0.01, power=2.0),
            lambda s: (0.1 - 0.01) * (1 - min(s, 100) / 100) ** 2 + 0.01,
        ),
    ],
)
def test_schedule_values(schedule, expected):
    for step in (0, 1, 9, 10, 11, 20, 21, 55, 100, 150):
        assert schedule.value(step) == pytest.approx(expected(step), rel=1e-5, abs=1e-7)


def test_learning_rate_is_a_shared_variable_changed_without_recompiling():
    model = linear_model(optimizers.SGD(0.1))
    model.train_on_batch(X, Y)
    fn = model._steps.function("train", [Y])
    model.optimizer.learning_rate = 0.0
    before = model.get_weights()
    model.train_on_batch(X, Y)
    assert model._steps.function("train", [Y]) is fn
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_optimizer_by_name_and_unknown_name():
    assert isinstance(optimizers.get("Adam"), optimizers.Adam)
    with pytest.raises(ValueError, match="Did you mean `adam`"):
        optimizers.get("adamm")


def test_keras2_lr_keyword_warns():
    with pytest.warns(DeprecationWarning, match="learning_rate"):
        opt = optimizers.SGD(lr=0.3)
    assert opt.learning_rate == pytest.approx(0.3)


def test_keras2_decay_is_inverse_time_decay_and_warns_even_when_zero():
    with pytest.warns(DeprecationWarning, match="`decay` is the Keras 2 name"):
        opt = optimizers.SGD(learning_rate=0.5, decay=0.25)
    model = linear_model(opt)
    for _ in range(3):
        model.train_on_batch(X, Y)
    assert opt.learning_rate == pytest.approx(0.5 / (1 + 0.25 * 3))
    with pytest.warns(DeprecationWarning, match="`decay`"):
        assert optimizers.Adam(decay=0.0).learning_rate == pytest.approx(0.001)


def test_epsilon_none_means_k_epsilon():
    for cls in (optimizers.RMSprop, optimizers.Adagrad, optimizers.Adadelta, optimizers.Adam):
        assert cls(epsilon=None).epsilon == 1e-7


def test_keras2_lr_attribute_works_with_k_get_value_and_set_value():
    from frontend import backend as K

    model = linear_model(optimizers.SGD(0.1))
    model.train_on_batch(X, Y)
    with pytest.warns(DeprecationWarning, match="`lr` is the Keras 2 name of `learning_rate`"):
        lr = model.optimizer.lr
    assert K.get_value(lr) == pytest.approx(0.1)
    K.set_value(lr, 0.0)  # the compiled step reads the variable: no recompiling
    before = model.get_weights()
    model.train_on_batch(X, Y)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError, match="K.set_value needs a variable"):
        K.set_value(0.5, 0.1)
    assert K.get_value(0.5) == 0.5


def test_optimizer_default_names_follow_keras():
    names = [cls().name for cls in (optimizers.SGD, optimizers.RMSprop, optimizers.Adam)]
    assert names == ["sgd", "rmsprop", "adam"]


def test_keras2_nadam_schedule_decay_survives_serialization_without_a_new_warning():
    import warnings

    with pytest.warns(DeprecationWarning):
        opt = optimizers.Nadam(schedule_decay=0.004)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = optimizers.get(optimizers.serialize(opt))
    assert again.schedule_decay == 0.004
