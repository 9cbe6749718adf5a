"""frontend.backend as Keras 2's `K`: its math with Keras 2.3's defaults, eagerly on arrays,
on graph nodes (custom losses, Lambda layers) on both backends, and the variable helpers."""

import numpy as np
import pytest

import frontend as keras
import graphc as gc
from frontend import backend as K
from frontend import ops
from tests.frontend.conftest import BACKENDS

RNG = np.random.default_rng(3)
X = RNG.standard_normal((3, 4)).astype("float32")
Y = RNG.standard_normal((3, 4)).astype("float32")

CASES = [
    ("sum", (X,), {"axis": 1}, lambda x, axis: x.sum(axis)),
    (
        "mean",
        (X,),
        {"axis": 0, "keepdims": True},
        lambda x, axis, keepdims: x.mean(axis, keepdims=True),
    ),
    ("max", (X,), {}, np.max),
    ("min", (X,), {"axis": -1}, lambda x, axis: x.min(axis)),
    ("argmax", (X,), {}, lambda x: x.argmax(-1)),  # Keras 2: the last axis by default
    ("square", (X,), {}, np.square),
    ("sqrt", (np.abs(X),), {}, np.sqrt),
    ("abs", (X,), {}, np.abs),
    ("exp", (X,), {}, np.exp),
    ("log", (np.abs(X) + 1,), {}, np.log),
    ("pow", (np.abs(X), 3), {}, np.power),
    ("maximum", (X, Y), {}, np.maximum),
    ("minimum", (X, Y), {}, np.minimum),
    ("equal", (X, X), {}, np.equal),
    ("clip", (X,), {"min_value": -0.3, "max_value": 0.3}, lambda x, **k: np.clip(x, -0.3, 0.3)),
    ("concatenate", ([X, Y],), {}, lambda xs: np.concatenate(xs, -1)),  # Keras 2: axis=-1
    ("reshape", (X, (2, 6)), {}, np.reshape),
    ("permute_dimensions", (X, (1, 0)), {}, np.transpose),
    ("expand_dims", (X,), {}, lambda x: x[..., None]),  # Keras 2: axis=-1
    ("squeeze", (X[:, :1], 1), {}, np.squeeze),
    (
        "l2_normalize",
        (X,),
        {"axis": -1},
        lambda x, axis: x / np.linalg.norm(x, axis=-1, keepdims=True),
    ),
    ("dot", (X, Y.T), {}, np.dot),
    ("softmax", (X,), {}, lambda x: np.exp(x) / np.exp(x).sum(-1, keepdims=True)),
    (
        "relu",
        (X,),
        {"alpha": 0.1, "max_value": 0.5},
        lambda x, **k: np.minimum(np.where(x > 0, x, 0.1 * x), 0.5),
    ),
    ("sigmoid", (X,), {}, lambda x: 1 / (1 + np.exp(-x))),
    ("tanh", (X,), {}, np.tanh),
    ("switch", (X > 0, X, Y), {}, np.where),
    ("flatten", (X,), {}, np.ravel),
    ("batch_flatten", (X[:, :, None],), {}, lambda x: x.reshape(3, -1)),
    ("repeat_elements", (X, 2, 1), {}, np.repeat),
    ("gather", (X, np.array([2, 0])), {}, lambda x, i: x[i]),
    ("round", (X * 3,), {}, np.round),
    ("cumsum", (X,), {}, lambda x: np.cumsum(x, 0)),  # Keras 2: axis=0
    ("bias_add", (X, Y[0]), {}, np.add),
    (
        "conv1d",
        (X[None], np.ones((2, 4, 1), "float32")),
        {},
        lambda x, k: (x[:, :-1] + x[:, 1:]).sum(-1, keepdims=True),
    ),
    (
        "categorical_crossentropy",
        (np.eye(4, dtype="float32")[[0, 1, 3]], np.abs(X) + 0.1),
        {},
        lambda t, o: -(t * np.log(o / o.sum(-1, keepdims=True))).sum(-1),
    ),
    (
        "binary_crossentropy",
        ((Y > 0).astype("float32"), 1 / (1 + np.exp(-X))),
        {},
        lambda t, p: -(t * np.log(p) + (1 - t) * np.log(1 - p)),
    ),
]
IDS = [c[0] for c in CASES]


@pytest.mark.parametrize("name,args,kwargs,reference", CASES, ids=IDS)
def test_eager_matches_numpy(name, args, kwargs, reference):
    got = getattr(K, name)(*args, **kwargs)
    np.testing.assert_allclose(got, reference(*args, **kwargs), rtol=1e-5, atol=1e-6)


def test_batch_dot_follows_keras2_axes():
    a, b = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((2, 4, 5))
    np.testing.assert_allclose(K.batch_dot(a, b), np.einsum("bij,bjk->bik", a, b), rtol=1e-6)
    np.testing.assert_allclose(K.batch_dot(X, Y), (X * Y).sum(1, keepdims=True), rtol=1e-6)
    c = RNG.standard_normal((2, 4, 3))
    np.testing.assert_allclose(
        K.batch_dot(a, c, axes=(2, 1)), np.einsum("bij,bjk->bik", a, c), rtol=1e-6
    )
    np.testing.assert_allclose(
        K.batch_dot(a, c, axes=(1, 2)), np.einsum("bji,bkj->bik", a, c), rtol=1e-6
    )
    with pytest.raises(ValueError, match="K.batch_dot supports inputs of rank 2 or 3"):
        K.batch_dot(np.ones((2, 2, 2, 2)), np.ones((2, 2)))


def test_settings_shapes_and_variables():
    assert K.epsilon() == 1e-7 and K.floatx() == "float32"
    node = gc.placeholder((None, 3))
    assert K.int_shape(node) == (None, 3) and K.ndim(node) == 2 and K.dtype(node) == "float32"
    assert K.int_shape(keras.Input(shape=(5,))) == (None, 5)
    v = K.variable([1.0, 2.0], name="v")
    assert v.dtype == "float32" and K.get_value(v).tolist() == [1.0, 2.0]
    K.set_value(v, [3.0, 4.0])
    assert K.eval(v).tolist() == [3.0, 4.0] and K.batch_get_value([v])[0].tolist() == [3.0, 4.0]
    assert K.eval(K.constant(1.5, shape=(2, 2))).tolist() == [[1.5, 1.5], [1.5, 1.5]]
    assert K.ones((2,)).tolist() == [1.0, 1.0] and K.zeros((1, 2), dtype="int32").dtype == np.int32
    assert K.arange(3).dtype == np.int32 and K.arange(0, 1, 0.5, dtype="float32").tolist() == [
        0.0,
        0.5,
    ]
    assert K.placeholder(ndim=2).shape == (None, None) and K.eye(2).tolist() == [[1, 0], [0, 1]]
    assert (
        K.random_normal((3,), seed=1).shape == (3,) and K.random_uniform((2,)).dtype == np.float32
    )
    K.set_learning_phase(0)  # inference: what predict does anyway
    with pytest.raises(ValueError, match=r"K.set_learning_phase\(1\) is not supported"):
        K.set_learning_phase(1)
    with pytest.raises(AttributeError, match="Did you mean `batch_dot`"):
        K.bach_dot  # noqa: B018
    with pytest.raises(AttributeError, match="no attribute 'no_such_function'"):
        K.no_such_function  # noqa: B018


@pytest.mark.parametrize("backend", BACKENDS)
def test_k_functions_in_a_custom_loss_and_lambda_layer(backend):
    def loss(y_true, y_pred):  # a typical Keras 2 custom loss
        return K.mean(K.square(y_pred - y_true), axis=-1) + 0.01 * K.sum(K.abs(y_pred), axis=-1)

    inputs = keras.Input(shape=(4,))
    h = keras.layers.Dense(6)(inputs)
    h = keras.layers.Lambda(lambda t: K.l2_normalize(t, axis=-1))(h)
    model = keras.Model(inputs, keras.layers.Dense(2)(h))
    model.compile(optimizer="adam", loss=loss, backend=backend)
    x = RNG.standard_normal((48, 4)).astype("float32")
    y = x[:, :2] * 2
    history = model.fit(x, y, epochs=5, batch_size=12, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_keras2_vae_sampling_with_k_functions():
    def sampling(args):
        z_mean, z_log_var = args
        batch = K.shape(z_mean)[0]
        dim = K.int_shape(z_mean)[1]
        epsilon = K.random_normal(shape=(batch, dim))
        return z_mean + K.exp(0.5 * z_log_var) * epsilon

    inputs = keras.Input(shape=(3,))
    z = keras.layers.Lambda(sampling)(
        [keras.layers.Dense(2)(inputs), keras.layers.Dense(2)(inputs)]
    )
    model = keras.Model(inputs, z)
    out = model.predict(np.ones((5, 3), "float32"), verbose=0)
    assert out.shape == (5, 2) and np.isfinite(out).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_k_function_on_keras_tensors_and_placeholders(backend):
    keras.backend.set_default_backend(backend)
    inputs = keras.Input(shape=(3,))
    hidden = keras.layers.Dense(2, name="hidden")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
    intermediate = K.function([model.input], [model.get_layer("hidden").output])
    data = np.ones((2, 3), "float32")
    kernel, bias = model.get_layer("hidden").get_weights()
    np.testing.assert_allclose(intermediate([data])[0], data @ kernel + bias, rtol=1e-6)
    assert K.is_keras_tensor(hidden) and not K.is_keras_tensor(data)
    assert K.count_params(model.get_layer("hidden").weights[0]) == 6

    x = K.placeholder(shape=(None, 2))
    total = K.variable(0.0)
    step = K.function([x], [K.sum(x, axis=1)], updates=[(total, total + K.sum(x))])
    np.testing.assert_array_equal(step([np.ones((3, 2), "float32")])[0], [2.0, 2.0, 2.0])
    assert K.get_value(total) == 6.0


def test_lambda_with_k_and_ops_reloads_without_custom_objects(tmp_path):
    inputs = keras.Input(shape=(4,))
    pooled = keras.layers.Lambda(
        lambda t: K.mean(t, axis=1, keepdims=True) + ops.max(t, axis=1, keepdims=True)
    )(inputs)
    model = keras.Model(inputs, pooled)
    model.save(str(tmp_path / "lambda.keras"))
    loaded = keras.models.load_model(str(tmp_path / "lambda.keras"), safe_mode=False)
    np.testing.assert_allclose(
        loaded.predict(X, verbose=0), X.mean(1, keepdims=True) + X.max(1, keepdims=True), rtol=1e-6
    )
