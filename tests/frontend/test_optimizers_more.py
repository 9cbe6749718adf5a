"""Issue 12's optimizers (AdamW, Lion, Lamb, Ftrl, Adafactor) and the base optimizer's
weight_decay, use_ema and gradient_accumulation_steps: the first steps against NumPy
transcriptions of Keras 3's update rules on both backends, one fused pass per parameter,
configs, and bad arguments."""

import numpy as np
import pytest

from frontend import optimizers
from frontend.layers import Dense
from frontend.models import Sequential, load_model
from tests.frontend.conftest import BACKENDS
from tests.frontend.test_optimizers import B0, W0, X, Y, adam, sgd

BATCHES = [(X[:2], Y[:2]), (X[2:], Y[2:]), (X, Y), (X[1:3], Y[1:3])]


def gradients(params, x, y):
    """d mse / d(w, b) for p = x w + b on one batch."""
    w, b = params
    g = 2 * (x.astype(np.float64) @ w + b - y) / y.size
    return [x.T.astype(np.float64) @ g, g.sum(0)]


def lion(lr=0.001, b1=0.9, b2=0.99):
    def step(params, grads, state, t):
        out = []
        for i, (p, g) in enumerate(zip(params, grads)):
            m = state.get(("m", i), 0)
            out.append(p - lr * np.sign(m * b1 + g * (1 - b1)))
            state[("m", i)] = m * b2 + g * (1 - b2)
        return out

    return step


def lamb(lr=0.001, b1=0.9, b2=0.999, eps=1e-7):
    def step(params, grads, state, t):
        out = []
        for i, (p, g) in enumerate(zip(params, grads)):
            m = state.get(("m", i), 0) + (g - state.get(("m", i), 0)) * (1 - b1)
            v = state.get(("v", i), 0) + (g * g - state.get(("v", i), 0)) * (1 - b2)
            state[("m", i)], state[("v", i)] = m, v
            update = (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
            w_norm, u_norm = np.linalg.norm(p), np.linalg.norm(update)
            ratio = w_norm / u_norm if w_norm > 0 and u_norm > 0 else 1.0
            out.append(p - ratio * lr * update)
        return out

    return step


def ftrl(lr=0.001, power=-0.5, init=0.1, l1=0.0, l2=0.0, shrinkage=0.0, beta=0.0):
    def step(params, grads, state, t):
        out = []
        for i, (p, g) in enumerate(zip(params, grads)):
            n, z = state.get(("n", i), init), state.get(("z", i), 0)
            n_new = n + g * g
            z = z + g + 2 * shrinkage * p - (n_new ** -power - n ** -power) / lr * p
            quadratic = n_new ** -power / lr + 2 * (l2 + beta / (2 * lr))
            state[("n", i)], state[("z", i)] = n_new, z
            out.append((np.clip(z, -l1, l1) - z) / quadratic)
        return out

    return step


def adafactor(lr=0.001, decay=-0.8, eps1=1e-30, eps2=1e-3, clip=1.0, relative=True):
    rms = lambda a: np.sqrt(np.mean(a * a))  # noqa: E731

    def step(params, grads, state, t):
        out = []
        rate = min(lr, 1 / np.sqrt(t)) if relative else lr
        for i, (p, g) in enumerate(zip(params, grads)):
            alpha = max(eps2, rms(p)) * min(rate, 1 / np.sqrt(t))
            sq, b = g * g + eps1, 1 - t**decay
            if p.ndim >= 2:
                r = b * state.get(("r", i), 0) + (1 - b) * sq.mean(-1)
                c = b * state.get(("c", i), 0) + (1 - b) * sq.mean(-2)
                state[("r", i)], state[("c", i)] = r, c
                v = (r / r.mean(-1, keepdims=True))[..., None] * c[..., None, :]
            else:
                v = b * state.get(("v", i), 0) + (1 - b) * sq
                state[("v", i)] = v
            u = g / np.sqrt(v)
            out.append(p - alpha * u / max(1.0, rms(u) / clip))
        return out

    return step


def weight_decayed(step, lr, decay):
    """Keras's decoupled weight decay before the algorithm's step: w -= lr * decay * w."""
    return lambda params, grads, state, t: step(
        [p - p * lr * decay for p in params], grads, state, t
    )


CASES = [
    ("adamw", lambda: optimizers.AdamW(0.01), weight_decayed(adam(0.01), 0.01, 0.004)),
    ("adamw_amsgrad", lambda: optimizers.AdamW(0.01, 0.1, amsgrad=True),
     weight_decayed(adam(0.01, amsgrad=True), 0.01, 0.1)),
    ("lion", lambda: optimizers.Lion(0.01), lion(0.01)),
    ("lion_betas", lambda: optimizers.Lion(0.003, 0.5, 0.8), lion(0.003, 0.5, 0.8)),
    ("lamb", lambda: optimizers.Lamb(0.01), lamb(0.01)),
    ("ftrl", lambda: optimizers.Ftrl(0.1), ftrl(0.1)),
    ("ftrl_regularized", lambda: optimizers.Ftrl(
        0.1, -0.7, 0.2, l1_regularization_strength=0.001, l2_regularization_strength=0.01,
        l2_shrinkage_regularization_strength=0.02, beta=0.5),
     ftrl(0.1, -0.7, 0.2, 0.001, 0.01, 0.02, 0.5)),
    ("adafactor", lambda: optimizers.Adafactor(0.01), adafactor(0.01)),
    ("adafactor_absolute",
     lambda: optimizers.Adafactor(0.5, relative_step=False, clip_threshold=0.5),
     adafactor(0.5, relative=False, clip=0.5)),
    ("sgd_weight_decay", lambda: optimizers.SGD(0.1, weight_decay=0.05),
     weight_decayed(sgd(0.1), 0.1, 0.05)),
]


def linear_model(optimizer, backend):
    model = Sequential([Dense(2, input_shape=(3,))])
    model.set_weights([W0, B0])
    model.compile(optimizer=optimizer, loss="mse", backend=backend)
    return model


def run_reference(step, batches):
    params, state, history = [W0.astype(np.float64), B0.astype(np.float64)], {}, []
    for t, (x, y) in enumerate(batches, start=1):
        params = step(params, gradients(params, x, y), state, t)
        history.append([p.copy() for p in params])
    return history


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name,make,reference", CASES, ids=[c[0] for c in CASES])
def test_first_steps_match_keras_formulas(name, make, reference, backend):
    model = linear_model(make(), backend)
    for (x, y), expected in zip(BATCHES, run_reference(reference, BATCHES)):
        model.train_on_batch(x, y)
        for got, want in zip(model.get_weights(), expected):
            np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradient_accumulation_applies_the_mean_every_n_batches(backend):
    optimizer = optimizers.Adam(0.01, gradient_accumulation_steps=2)
    model = linear_model(optimizer, backend)
    params, state, t = [W0.astype(np.float64), B0.astype(np.float64)], {}, 0
    pending = []
    for x, y in BATCHES:
        model.train_on_batch(x, y)
        pending.append(gradients(params, x, y))
        if len(pending) == 2:  # Keras: (g + accumulated) / steps, t counts applied steps
            t += 1
            mean = [(a + b) / 2 for a, b in zip(*pending)]
            params, pending = adam(0.01)(params, mean, state, t), []
        for got, want in zip(model.get_weights(), params):
            np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6)
    assert int(optimizer.iterations.get_value()) == 2


@pytest.mark.parametrize("backend", BACKENDS)
def test_moving_average_and_its_overwrite(backend):
    optimizer = optimizers.SGD(0.1, use_ema=True, ema_momentum=0.8, ema_overwrite_frequency=3)
    model = linear_model(optimizer, backend)
    params = [W0.astype(np.float64), B0.astype(np.float64)]
    averages = None
    for t, (x, y) in enumerate(BATCHES, start=1):
        model.train_on_batch(x, y)
        params = sgd(0.1)(params, gradients(params, x, y), {}, t)
        averages = params if averages is None else [
            0.8 * a + 0.2 * p for a, p in zip(averages, params)
        ]
        if t % 3 == 0:
            params = [a.copy() for a in averages]
        got_averages = [a.get_value() for a in optimizer.averages(model.trainable_weights)]
        for got, want in zip(model.get_weights() + got_averages, params + averages):
            np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6)


def test_fit_ends_with_the_averaged_weights_like_keras():
    optimizer = optimizers.SGD(0.1, use_ema=True, ema_momentum=0.5)
    model = linear_model(optimizer, "numpy")
    model.fit(X, Y, epochs=2, batch_size=2, verbose=0)
    averages = [a.get_value() for a in optimizer.averages(model.trainable_weights)]
    for got, want in zip(model.get_weights(), averages):
        np.testing.assert_array_equal(got, want)


def updating_kernels(optimizer):
    """The compiled training step's kernels (other than the GEMMs) that write a tensor of
    the Dense kernel's shape: the passes over that parameter."""
    x = np.random.default_rng(0).random((8, 24)).astype("float32")
    y = np.random.default_rng(1).random((8, 16)).astype("float32")
    model = Sequential([Dense(16, input_shape=(24,))])
    model.compile(optimizer=optimizer, loss="mse", backend="llvm")
    model.train_on_batch(x, y)
    kernels = model._steps.function("train", [y]).kernels
    return [k for k in kernels
            if "matmul" not in k.ops and any(tuple(s) == (24, 16) for s in k.shapes or ())]


@pytest.mark.parametrize(
    "make",
    [
        lambda: optimizers.AdamW(),
        lambda: optimizers.Lion(),
        lambda: optimizers.Lamb(),
        lambda: optimizers.Ftrl(l1_regularization_strength=0.01),
        lambda: optimizers.Adam(use_ema=True, ema_overwrite_frequency=3,
                                gradient_accumulation_steps=2),
        lambda: optimizers.SGD(0.1, weight_decay=0.01, clipnorm=1.0),
    ],
    ids=["adamw", "lion", "lamb", "ftrl", "adam_ema_accumulation", "sgd_decay_clip"],
)
def test_each_update_is_one_fused_pass_per_parameter(make, monkeypatch):
    pytest.importorskip("llvmlite")
    monkeypatch.setenv("GRAPHC_CACHE", "0")  # a cached program keeps no kernel shapes
    (kernel,) = updating_kernels(make())
    assert len(kernel.shapes) >= 1


def test_adafactor_needs_three_passes_for_its_factored_moments(monkeypatch):
    pytest.importorskip("llvmlite")
    monkeypatch.setenv("GRAPHC_CACHE", "0")
    # rows/columns means, then v, u and rms(u), then the weight: each waits for a reduction
    assert 1 <= len(updating_kernels(optimizers.Adafactor())) <= 3


def test_keras3_defaults_and_names():
    adamw = optimizers.AdamW()
    assert (adamw.learning_rate, adamw.weight_decay, adamw.beta_2) == pytest.approx(
        (0.001, 0.004, 0.999))
    lion_opt = optimizers.Lion()
    assert (lion_opt.beta_1, lion_opt.beta_2) == (0.9, 0.99)
    ftrl_opt = optimizers.Ftrl()
    assert ftrl_opt.learning_rate_power == -0.5
    assert ftrl_opt.settings["initial_accumulator_value"] == 0.1
    factored = optimizers.Adafactor()
    assert (factored.beta_2_decay, factored.epsilon_2, factored.relative_step) == (-0.8, 1e-3, True)
    for name, cls in [("adamw", optimizers.AdamW), ("lion", optimizers.Lion),
                      ("lamb", optimizers.Lamb), ("ftrl", optimizers.Ftrl),
                      ("adafactor", optimizers.Adafactor)]:
        assert isinstance(optimizers.get(name), cls) and cls().name == name
    assert optimizers.SGD().get_config()["use_ema"] is False


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: optimizers.AdamW(weight_decay=None), r"AdamW: weight_decay must be a float"),
        (lambda: optimizers.Lion(beta_1=0.0), r"Lion: beta_1 must be in \(0, 1\]"),
        (lambda: optimizers.Ftrl(learning_rate_power=0.5), r"Ftrl: learning_rate_power"),
        (lambda: optimizers.Ftrl(l1_regularization_strength=-1.0),
         r"Ftrl: l1_regularization_strength must be >= 0"),
        (lambda: optimizers.Adam(gradient_accumulation_steps=1),
         r"Adam: gradient_accumulation_steps must be an integer >= 2"),
        (lambda: optimizers.SGD(use_ema=True, ema_momentum=1.5), r"SGD: ema_momentum"),
        (lambda: optimizers.SGD(use_ema=True, ema_overwrite_frequency=0),
         r"SGD: ema_overwrite_frequency"),
    ],
)
def test_bad_arguments_name_the_optimizer_and_argument(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_averages_without_use_ema_is_an_error():
    with pytest.raises(ValueError, match="SGD: the optimizer keeps no moving average"):
        optimizers.SGD().averages([])


@pytest.mark.parametrize("name,make,reference", CASES[::2], ids=[c[0] for c in CASES[::2]])
def test_config_round_trip(name, make, reference):
    optimizer = make()
    again = optimizers.get(optimizers.serialize(optimizer))
    assert type(again) is type(optimizer) and again.get_config() == optimizer.get_config()


@pytest.mark.parametrize("backend", BACKENDS)
def test_saved_model_resumes_with_accumulation_and_average_state(backend, tmp_path):
    def make():
        return optimizers.Lion(0.01, use_ema=True, gradient_accumulation_steps=2)

    model = linear_model(make(), backend)
    for x, y in BATCHES[:3]:  # stop in the middle of an accumulation
        model.train_on_batch(x, y)
    model.save(tmp_path / "m.keras")
    again = load_model(tmp_path / "m.keras")
    assert again.optimizer.get_config() == model.optimizer.get_config()
    model.train_on_batch(*BATCHES[3])
    again.train_on_batch(*BATCHES[3])
    for got, want in zip(again.get_weights(), model.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_exclude_from_weight_decay_by_variable_and_by_name(backend):
    by_name = optimizers.AdamW(0.01, 0.1)
    by_name.exclude_from_weight_decay(var_names=["bias"])
    by_variable = optimizers.AdamW(0.01, 0.1)
    model = linear_model(by_name, backend)
    other = linear_model(by_variable, backend)
    by_variable.exclude_from_weight_decay(var_list=[other.trainable_weights[1]])
    params, state = [W0.astype(np.float64), B0.astype(np.float64)], {}
    for t, (x, y) in enumerate(BATCHES, start=1):
        grads = gradients(params, x, y)
        params = adam(0.01)([params[0] * (1 - 0.01 * 0.1), params[1]], grads, state, t)
        model.train_on_batch(x, y)
        other.train_on_batch(x, y)
        for trained in (model, other):
            for got, want in zip(trained.get_weights(), params):
                np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"AdamW: exclude_from_weight_decay\(\) can only be"):
        by_name.exclude_from_weight_decay(var_names=["kernel"])
