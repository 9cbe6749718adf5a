"""frontend.ops (Keras 3's keras.ops): every function against NumPy, eagerly on arrays and as
graph nodes compiled on both backends; composed functions' gradients against finite
differences; dtype rules; use inside Lambda layers and custom losses; clear refusals."""

import numpy as np
import pytest

import frontend as keras
import graphc as gc
from frontend import ops
from graphc.testing import numeric_gradient, relative_error
from tests.frontend.conftest import BACKENDS

RNG = np.random.default_rng(0)
A = RNG.standard_normal((3, 4))
B = RNG.standard_normal((3, 4))
POS = RNG.uniform(0.5, 2.0, (3, 4))
ROW = RNG.standard_normal(4)
IDX = np.array([[2, 0], [1, 1], [3, 0]])
SQ = RNG.standard_normal((4, 4))
IMAGES = RNG.standard_normal((2, 4, 4, 3))
KERNEL = RNG.standard_normal((3, 3, 3, 2))
SPECIAL = np.array([1.0, np.nan, np.inf, -np.inf, -2.0, 0.0])



def conv_valid(x, k):
    windows = np.lib.stride_tricks.sliding_window_view(x, k.shape[:2], axis=(1, 2))
    return np.einsum("bhwcij,ijco->bhwo", windows, k)


def pool_2x2(x, reduce):
    b, h, w, c = x.shape
    return reduce(x.reshape(b, h // 2, 2, w // 2, 2, c), axis=(2, 4))


# name, array arguments, other keyword arguments, NumPy reference
CASES = [
    ("add", (A, B), {}, np.add),
    ("subtract", (A, ROW), {}, np.subtract),
    ("multiply", (A, B), {}, np.multiply),
    ("divide", (A, POS), {}, np.divide),
    ("floor_divide", (A * 5, POS), {}, np.floor_divide),
    ("mod", (A * 5, POS), {}, np.mod),
    ("power", (POS, B), {}, np.power),
    ("maximum", (A, B), {}, np.maximum),
    ("minimum", (A, ROW), {}, np.minimum),
    ("negative", (A,), {}, np.negative),
    ("abs", (A,), {}, np.abs),
    ("square", (A,), {}, np.square),
    ("sqrt", (POS,), {}, np.sqrt),
    ("exp", (A,), {}, np.exp),
    ("log", (POS,), {}, np.log),
    ("log1p", (POS,), {}, np.log1p),
    ("expm1", (A,), {}, np.expm1),
    ("sin", (A,), {}, np.sin),
    ("cos", (A,), {}, np.cos),
    ("tan", (A,), {}, np.tan),
    ("tanh", (A,), {}, np.tanh),
    ("sign", (A,), {}, np.sign),
    ("floor", (A * 3,), {}, np.floor),
    ("ceil", (A * 3,), {}, np.ceil),
    ("round", (A * 3,), {}, np.round),
    ("round", (np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.25]),), {}, np.round),
    ("round", (A,), {"decimals": 2}, np.round),
    ("log2", (POS,), {}, np.log2),
    ("log10", (POS,), {}, np.log10),
    ("isnan", (SPECIAL,), {}, np.isnan),
    ("isinf", (SPECIAL,), {}, np.isinf),
    ("isfinite", (SPECIAL,), {}, np.isfinite),
    ("nan_to_num", (SPECIAL,), {"posinf": 5.0}, lambda a, posinf: np.nan_to_num(a, posinf=5.0)),
    ("reciprocal", (POS,), {}, np.reciprocal),
    ("clip", (A,), {"x_min": -0.5, "x_max": 0.5}, lambda a, x_min, x_max: np.clip(a, x_min, x_max)),
    ("where", (A > 0, A, B), {}, np.where),
    ("equal", (A, A * (A > 0)), {}, np.equal),
    ("greater", (A, B), {}, np.greater),
    ("less_equal", (A, B), {}, np.less_equal),
    ("logical_and", (A > 0, B > 0), {}, np.logical_and),
    ("logical_xor", (A > 0, B > 0), {}, np.logical_xor),
    ("logical_not", (A > 0,), {}, np.logical_not),
    ("sum", (A,), {"axis": 1}, np.sum),
    ("mean", (A,), {"axis": (0, 1)}, np.mean),
    ("max", (A,), {"axis": 0, "keepdims": True}, np.max),
    ("min", (A,), {}, np.min),
    ("prod", (A,), {"axis": 1}, np.prod),
    ("argmax", (A,), {"axis": 1}, np.argmax),
    ("argmin", (A,), {}, np.argmin),
    ("var", (A,), {"axis": 0}, np.var),
    ("std", (A,), {"axis": 1}, np.std),
    ("any", (A > 1,), {"axis": 1}, np.any),
    ("all", (A > -1,), {"axis": 0}, np.all),
    ("logsumexp", (A,), {"axis": 1}, lambda a, axis: np.log(np.exp(a).sum(axis))),
    ("cumsum", (A,), {"axis": 1}, np.cumsum),
    ("average", (A,), {"axis": 1, "weights": ROW}, np.average),
    ("count_nonzero", (A > 0,), {"axis": 0}, np.count_nonzero),
    ("norm", (A,), {"axis": 1}, lambda a, axis: np.linalg.norm(a, axis=axis)),
    ("norm", (A,), {"ord": 1, "axis": 0}, lambda a, ord, axis: np.linalg.norm(a, ord, axis)),
    ("norm", (A,), {}, np.linalg.norm),
    ("matmul", (A, SQ), {}, np.matmul),
    ("dot", (A, ROW), {}, np.dot),
    ("tensordot", (A, SQ), {"axes": 1}, np.tensordot),
    ("outer", (ROW, ROW), {}, np.outer),
    ("conv", (IMAGES, KERNEL), {}, conv_valid),
    ("max_pool", (IMAGES,), {"pool_size": 2}, lambda x, pool_size: pool_2x2(x, np.max)),
    ("average_pool", (IMAGES,), {"pool_size": 2}, lambda x, pool_size: pool_2x2(x, np.mean)),
    ("reshape", (A,), {"newshape": (2, -1)}, lambda a, newshape: a.reshape(newshape)),
    ("transpose", (A,), {}, np.transpose),
    ("ravel", (A,), {}, np.ravel),
    ("triu", (SQ,), {"k": 1}, np.triu),
    ("tril", (A,), {}, np.tril),
    ("expand_dims", (A,), {"axis": 1}, np.expand_dims),
    ("squeeze", (A[:, :1],), {"axis": 1}, np.squeeze),
    ("repeat", (A,), {"repeats": 2, "axis": 1}, np.repeat),
    ("tile", (A,), {"repeats": (2, 1)}, lambda a, repeats: np.tile(a, repeats)),
    ("flip", (A,), {"axis": 1}, np.flip),
    ("swapaxes", (A,), {"axis1": 0, "axis2": 1}, np.swapaxes),
    ("take", (A, IDX[:, 0]), {"axis": 1}, np.take),
    ("take_along_axis", (A, IDX), {"axis": 1}, np.take_along_axis),
    ("broadcast_to", (ROW,), {"shape": (2, 4)}, np.broadcast_to),
    ("zeros_like", (A,), {}, np.zeros_like),
    ("full_like", (A,), {"fill_value": 3.0}, np.full_like),
    ("softmax", (A,), {}, lambda a: np.exp(a) / np.exp(a).sum(-1, keepdims=True)),
    ("log_softmax", (A,), {}, lambda a: a - np.log(np.exp(a).sum(-1, keepdims=True))),
    ("relu", (A,), {}, lambda a: np.maximum(a, 0)),
    ("relu6", (A * 8,), {}, lambda a: np.clip(a, 0, 6)),
    ("sigmoid", (A,), {}, lambda a: 1 / (1 + np.exp(-a))),
    ("silu", (A,), {}, lambda a: a / (1 + np.exp(-a))),
    ("softplus", (A,), {}, lambda a: np.log1p(np.exp(a))),
    ("softsign", (A,), {}, lambda a: a / (1 + np.abs(a))),
    ("leaky_relu", (A,), {}, lambda a: np.where(a > 0, a, 0.2 * a)),
    ("elu", (A,), {}, lambda a: np.where(a > 0, a, np.expm1(a))),
    ("hard_tanh", (A * 2,), {}, lambda a: np.clip(a, -1, 1)),
    ("mish", (A,), {}, lambda a: a * np.tanh(np.log1p(np.exp(a)))),
    ("glu", (A,), {}, lambda a: a[:, :2] / (1 + np.exp(-a[:, 2:]))),
    ("celu", (A,), {}, lambda a: np.where(a > 0, a, np.expm1(a))),
    ("tanh_shrink", (A,), {}, lambda a: a - np.tanh(a)),
    ("squareplus", (A,), {}, lambda a: (a + np.sqrt(a * a + 4)) / 2),
    ("soft_shrink", (A,), {}, lambda a: np.sign(a) * np.maximum(np.abs(a) - 0.5, 0)),
    ("hard_shrink", (A,), {}, lambda a: np.where(np.abs(a) > 0.5, a, 0)),
    ("log_sigmoid", (A,), {}, lambda a: -np.log1p(np.exp(-a))),
    ("normalize", (A,), {}, lambda a: a / np.linalg.norm(a, axis=-1, keepdims=True)),
]

IDS = [f"{name}-{i}" for i, (name, *_) in enumerate(CASES)]


def reference(case):
    name, args, kwargs, fn = case
    return np.asarray(fn(*args, **kwargs))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_eager_on_arrays_matches_numpy(case):
    name, args, kwargs, _ = case
    out = getattr(ops, name)(*args, **kwargs)
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, reference(case), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_on_graph_nodes_compiled_matches_numpy(backend):
    # every case in one function: one compilation per backend keeps the test fast
    inputs, outputs = [], []
    for name, args, kwargs, _ in CASES:
        placeholders = [gc.placeholder(a.shape, np.asarray(a).dtype.name) for a in args]
        out = getattr(ops, name)(*placeholders, **kwargs)
        assert isinstance(out, gc.Node), name
        inputs += placeholders
        outputs.append(out)
    values = [a for _, args, _, _ in CASES for a in args]
    results = gc.function(inputs, outputs, backend=backend)(*values)
    for case, got, case_id in zip(CASES, results, IDS):
        np.testing.assert_allclose(got, reference(case), rtol=1e-6, atol=1e-9, err_msg=case_id)


def test_split_stack_concatenate_eager_and_in_graph():
    parts = ops.split(A, [1, 3], axis=1)
    assert [p.shape for p in parts] == [(3, 1), (3, 2), (3, 1)]
    np.testing.assert_array_equal(ops.concatenate(parts, axis=1), A)
    x = gc.placeholder((None, 4), "float64")
    halves = ops.split(x, 2, axis=1)
    joined = ops.stack(halves, axis=0)
    np.testing.assert_array_equal(
        gc.function([x], joined, backend="numpy")(A), np.stack([A[:, :2], A[:, 2:]])
    )


def test_moments_gives_mean_and_variance():
    mean, variance = ops.moments(A, axes=[0])
    np.testing.assert_allclose(mean, A.mean(0))
    np.testing.assert_allclose(variance, A.var(0))
    inputs = keras.Input(shape=(4,))
    model = keras.Model(inputs, list(ops.moments(inputs, axes=-1, keepdims=True)))
    got_mean, got_var = model.predict(A.astype("float32"), verbose=0)
    np.testing.assert_allclose(got_var, A.var(-1, keepdims=True), rtol=1e-5)


def test_creation_functions():
    np.testing.assert_array_equal(ops.ones((2, 3)), np.ones((2, 3), "float32"))
    assert ops.zeros(3, dtype="int32").dtype == np.int32
    np.testing.assert_array_equal(ops.full((2,), 7.0), [7.0, 7.0])
    np.testing.assert_array_equal(ops.eye(3, k=1), np.eye(3, k=1))
    np.testing.assert_array_equal(ops.arange(1, 7, 2), [1, 3, 5])
    np.testing.assert_allclose(ops.linspace(0, 1, 5), np.linspace(0, 1, 5))
    np.testing.assert_array_equal(ops.one_hot(np.array([0, 2]), 3), np.eye(3)[[0, 2]])


def test_shape_of_graph_node_gives_run_time_sizes_usable_as_shapes():
    x = gc.placeholder((None, 3), "float32")
    batch, width = ops.shape(x)
    assert width == 3 and not isinstance(batch, int)
    ones = ops.ones((batch, width))
    flat = ops.reshape(x, (batch, 3, 1))
    out = gc.function([x], [ones, flat, ops.cast(batch, "float32")], backend="numpy")(
        A[:, :3].astype("float32")
    )
    assert out[0].shape == (3, 3) and out[1].shape == (3, 3, 1) and out[2] == 3.0


def test_dtype_rules_follow_keras():
    i = np.arange(4, dtype="int32")
    f = gc.placeholder((4,), "float32")
    assert ops.divide(i, 2).dtype == np.float32  # ints divide as floatx
    assert ops.add(i, 2).dtype == np.int32  # a Python int is weak
    assert ops.multiply(i, 0.5).dtype == np.float32  # a float meets ints: floats win
    assert ops.add(f, 2.0).dtype == "float32" and ops.add(f, np.ones(4)).dtype == "float32"
    assert ops.add(np.float32(1) * np.ones(2, "float32"), np.ones(2)).dtype == np.float64
    assert ops.mean(i).dtype == np.float32 and ops.sqrt(i).dtype == np.float32
    assert ops.sum(np.array([True, True, False])) == 2


COMPOSED = [  # functions built from several graphc ops: their gradients by finite differences
    ("prod", (A,), {"axis": 1}),
    ("norm", (A,), {"axis": 0}),
    ("std", (A,), {"axis": 1}),
    ("logsumexp", (A,), {}),
    ("cumsum", (A,), {"axis": 0}),
    ("take_along_axis", (A, IDX), {"axis": 1}),
    ("tensordot", (A, SQ), {"axes": ([1], [0])}),
    ("normalize", (A,), {"order": 1}),
    ("tile", (A,), {"repeats": (1, 2)}),
    ("flip", (A,), {"axis": 0}),
    ("silu", (A,), {}),
]


@pytest.mark.parametrize("name,args,kwargs", COMPOSED, ids=[c[0] for c in COMPOSED])
def test_gradients_of_composed_functions_match_finite_differences(name, args, kwargs):
    x = gc.placeholder(args[0].shape, "float64")
    rest = list(args[1:])
    out = getattr(ops, name)(x, *rest, **kwargs)
    weights = RNG.standard_normal(out.shape)
    cost = gc.sum(out * gc.constant(weights))
    analytic = gc.function([x], gc.grad(cost, x), backend="numpy")(args[0])

    def value(vals):
        return float(np.sum(getattr(ops, name)(vals[0], *rest, **kwargs) * weights))

    numeric = numeric_gradient(value, [args[0].copy()], 0)
    assert relative_error(analytic, numeric) < 1e-6


@pytest.mark.parametrize("backend", BACKENDS)
def test_ops_inside_lambda_layer_and_custom_loss_train(backend):
    def my_loss(y_true, y_pred):
        return ops.mean(ops.square(y_true - y_pred), axis=-1) + 0.0 * ops.norm(y_pred)

    inputs = keras.Input(shape=(4,))
    h = keras.layers.Dense(8)(inputs)
    h = keras.layers.Lambda(lambda t: ops.concatenate([ops.relu(t), ops.square(t)], axis=-1))(h)
    outputs = keras.layers.Dense(1)(h)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss=my_loss, backend=backend)
    x = RNG.standard_normal((64, 4)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    history = model.fit(x, y, epochs=5, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_ops_in_a_custom_layer_call():
    class Scale(keras.layers.Layer):
        def call(self, x):
            return ops.where(x > 0, ops.exp(x), ops.zeros_like(x)) / ops.max(x)

    out = Scale()(np.array([[1.0, -1.0, 2.0]], "float32"))
    np.testing.assert_allclose(out, [[np.e / 2, 0.0, np.e**2 / 2]], rtol=1e-6)


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: ops.clip(A, np.zeros(4), 1.0), "ops.clip: x_min must be a number"),
        (lambda: ops.where(A > 0), "pass both x1 and x2"),
        (lambda: ops.cumsum(gc.placeholder((None,))), "ops.cumsum: the length of axis 0"),
        (lambda: ops.norm(A, ord=2), "matrix norm 'fro' only"),
        (lambda: ops.squeeze(A, axis=1), "ops.squeeze: axis 1 .* has length 4"),
        (lambda: ops.split(A, 3, axis=1), "does not split into 3 equal sections"),
        (lambda: ops.ones((None, 3)), "None is not a size"),
        (lambda: ops.convert_to_numpy(gc.placeholder((2,))), "convert_to_numpy: .* is symbolic"),
    ],
)
def test_refusals_name_the_function_and_argument(call, message):
    with pytest.raises((ValueError, TypeError, NotImplementedError), match=message) as err:
        call()
    assert "test_ops_api.py" in str(err.value)  # the user's own line


def test_convert_functions_and_predicates():
    assert ops.convert_to_tensor([1.0, 2.0]).dtype == np.float32
    assert ops.convert_to_tensor(np.arange(3, dtype="uint8")).dtype == np.int32
    weight = gc.shared(np.full(2, 3.0, "float32"))
    assert ops.convert_to_numpy(weight).tolist() == [3.0, 3.0]
    assert ops.convert_to_numpy(ops.sum(weight * 2)) == 12.0  # an expression of variables
    assert ops.is_tensor(gc.placeholder((2,))) and not ops.is_tensor(A)
    assert ops.shape(A) == (3, 4) and ops.ndim(A) == 2 and ops.dtype(A) == "float64"


@pytest.mark.parametrize("name", ["mish", "hard_swish", "celu", "log_sigmoid", "squareplus"])
def test_keras3_activation_names_work_in_layers(name):
    layer = keras.layers.Dense(2, activation=name, kernel_initializer="ones")
    out = layer(np.array([[0.5, -1.0]], "float32"))
    np.testing.assert_allclose(out, getattr(ops, name)(np.array([[-0.5, -0.5]], "float32")))
    assert layer.get_config()["activation"] == ("hard_silu" if name == "hard_swish" else name)


def test_missing_keras_ops_say_why_or_suggest():
    with pytest.raises(AttributeError, match="frontend.ops.sort is not supported: graphc has no"):
        ops.sort(A)
    with pytest.raises(AttributeError, match="Did you mean `mean`"):
        ops.meen(A)


@pytest.mark.parametrize("backend", ["numpy", "llvm"])
def test_stop_gradient_blocks_the_gradient_but_keeps_the_value(backend):
    """d/dx [x * stop_gradient(x)] is stop_gradient(x) = x, not 2x; the value is x * x."""
    x = gc.placeholder((None, 3), "float64")
    y = gc.sum(x * ops.stop_gradient(x))
    f = gc.function([x], [y, gc.grad(y, x)], backend=backend)
    value = np.array([[1.0, -2.0, 3.0]])
    total, g = f(value)
    np.testing.assert_allclose(total, np.sum(value * value))
    np.testing.assert_allclose(g, value)


def test_stop_gradient_on_arrays_and_in_a_functional_model():
    np.testing.assert_array_equal(ops.stop_gradient(A), A)
    inputs = keras.layers.Input((4,))
    model = keras.models.Model(inputs, ops.stop_gradient(inputs) * 2.0)
    np.testing.assert_allclose(model.predict(A[:1], verbose=0), 2 * A[:1], rtol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_einsum_on_arrays_and_as_a_saved_op_layer(backend, tmp_path):
    a, b = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((2, 4, 5))
    expected = np.einsum("bij,bjk->bik", a, b)
    np.testing.assert_allclose(ops.einsum("bij,bjk->bik", a, b), expected, rtol=1e-6)
    x, y = keras.layers.Input((3, 4)), keras.layers.Input((4, 5))
    model = keras.models.Model([x, y], ops.einsum("bij,bjk->bik", x, y))
    model.compile("sgd", "mse", backend=backend)
    model.save(tmp_path / "einsum.keras")
    reloaded = keras.models.load_model(tmp_path / "einsum.keras")
    got = reloaded.predict([a.astype("float32"), b.astype("float32")], verbose=0)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
