"""User-written Metric subclasses (Keras 3 API: add_weight, update_state with assign/assign_add,
result, reset_state) in compile(metrics=...), in a custom train_step, and eagerly; stateless
metric functions in compile(metrics=...)."""

import numpy as np
import pytest

import frontend as keras
from frontend import layers, models, ops
from frontend.variables import variable
from tests.frontend.conftest import BACKENDS
from tests.frontend.test_custom_steps import Keras3Step


class BinaryTruePositives(keras.metrics.Metric):
    """keras.io "Training & evaluation with the built-in methods", as written there."""

    def __init__(self, name="binary_true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_weight(shape=(), initializer="zeros", name="tp")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(y_true, "bool")
        y_pred = ops.cast(y_pred, "bool")
        values = ops.logical_and(ops.equal(y_true, True), ops.equal(y_pred, True))
        values = ops.cast(values, self.dtype)
        if sample_weight is not None:
            sample_weight = ops.cast(sample_weight, self.dtype)
            values = ops.multiply(values, sample_weight)
        self.true_positives.assign_add(ops.sum(values))

    def result(self):
        return self.true_positives

    def reset_state(self):
        self.true_positives.assign(0)


class MeanAbsoluteError(keras.metrics.Metric):
    """Two variables, assign_add twice, a result computed with ops, the default reset_state."""

    def __init__(self, name="my_mae", **kwargs):
        super().__init__(name=name, **kwargs)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        self.count = self.add_weight(name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.total.assign_add(ops.sum(ops.abs(y_true - y_pred)))
        self.count.assign_add(ops.cast(ops.size(y_true), self.dtype))

    def result(self):
        return ops.divide(self.total, ops.maximum(self.count, 1.0))


def binary_data():
    x = np.array([[1.0], [-1.0], [2.0], [-2.0], [0.5], [-0.5]], "float32")
    y = np.array([[1.0], [1.0], [1.0], [0.0], [0.0], [0.0]], "float32")
    return x, y


def identity_model():
    """Predictions equal to the inputs (a frozen Dense with weight 1, bias 0)."""
    inputs = layers.Input((1,))
    dense = layers.Dense(1, kernel_initializer="ones", trainable=False)
    return models.Model(inputs, dense(inputs))


def expected_true_positives(x, y, weights=None):
    hits = (x != 0) & (y != 0)
    return float(np.sum(hits * (1.0 if weights is None else weights[:, None])))


def test_eager_update_state_result_and_reset():
    metric = BinaryTruePositives()
    metric.update_state([[1], [1], [0]], [[1], [0], [1]])
    assert metric.result() == 1.0
    metric.update_state([1, 1], [1, 1], sample_weight=[0.5, 2.0])
    assert metric.result() == pytest.approx(3.5)
    metric.reset_state()
    assert metric.result() == 0.0
    assert metric([1], [1]) == 1.0  # __call__ updates and returns the result
    assert metric.get_config()["name"] == "binary_true_positives"


@pytest.mark.parametrize("backend", BACKENDS)
def test_subclassed_metrics_in_compile_evaluate_and_fit(backend):
    x, y = binary_data()
    model = identity_model()
    model.compile("sgd", "mse", metrics=[BinaryTruePositives(), MeanAbsoluteError()],
                  backend=backend)
    results = model.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)
    assert results["binary_true_positives"] == pytest.approx(expected_true_positives(x, y))
    assert results["my_mae"] == pytest.approx(np.mean(np.abs(x - y)), rel=1e-6)
    # reset between epochs: each epoch's value is one pass over the data, not a running sum
    history = model.fit(x, y, batch_size=2, epochs=2, verbose=0)
    assert history.history["binary_true_positives"] == pytest.approx([3.0, 3.0])
    assert history.history["my_mae"] == pytest.approx([np.mean(np.abs(x - y))] * 2, rel=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_sample_weighted_subclassed_metric(backend):
    x, y = binary_data()
    class WeightedTruePositives(BinaryTruePositives):
        # weights arrive as (batch,), the values are (batch, 1)
        def update_state(self, y_true, y_pred, sample_weight=None):
            super().update_state(y_true, y_pred, ops.expand_dims(sample_weight, -1))

    weights = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "float32")
    model = identity_model()
    model.compile("sgd", "mse", weighted_metrics=[WeightedTruePositives()], backend=backend)
    results = model.evaluate(x, y, sample_weight=weights, verbose=0, return_dict=True)
    assert results["binary_true_positives"] == pytest.approx(
        expected_true_positives(x, y, weights)
    )


class StepWithOwnMetric(Keras3Step):
    """keras.io's Keras 3 step (a loop over self.metrics) with the metric as an attribute."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.tp_metric = BinaryTruePositives(name="tp")

    @property
    def metrics(self):
        return [self.tp_metric]


@pytest.mark.parametrize("backend", BACKENDS)
def test_subclassed_metric_in_a_custom_train_step(backend):
    x, y = binary_data()
    inputs = layers.Input((1,))
    model = StepWithOwnMetric(
        inputs, layers.Dense(1, kernel_initializer="ones", trainable=False)(inputs)
    )
    model.compile("sgd", "mse", backend=backend)
    history = model.fit(x, y, batch_size=3, epochs=2, verbose=0)
    assert history.history["tp"] == pytest.approx([3.0, 3.0])
    assert model.tp_metric.result() == 3.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_stateless_metric_function(backend):
    def mean_error(y_true, y_pred):
        return ops.mean(y_pred - y_true, axis=-1)

    x, y = binary_data()
    model = identity_model()
    model.compile("sgd", "mse", metrics=[mean_error], backend=backend)
    results = model.evaluate(x, y, verbose=0, return_dict=True)
    assert results["mean_error"] == pytest.approx(np.mean(x - y), rel=1e-6)


def test_result_returning_a_python_float_names_the_line():
    class FloatResult(BinaryTruePositives):
        def result(self):
            return 1.5

    with pytest.raises(TypeError, match=r"FloatResult\.result \(.*test_custom_metrics\.py:\d+"):
        FloatResult().result()


def test_update_state_without_assignments_is_an_error_in_a_compiled_step():
    class PythonCounter(keras.metrics.Metric):
        def __init__(self, name="counter"):
            super().__init__(name=name)
            self.seen = 0
            self.unused = self.add_weight(name="unused")

        def update_state(self, y_true, y_pred, sample_weight=None):
            self.seen += 1

        def result(self):
            return self.unused

    x, y = binary_data()
    model = identity_model()
    model.compile("sgd", "mse", metrics=[PythonCounter()], backend="numpy")
    with pytest.raises(TypeError, match=r"PythonCounter\.update_state \(.*:\d+\) assigned none"):
        model.evaluate(x, y, verbose=0)


def test_metric_without_update_state_says_what_to_implement():
    class Incomplete(keras.metrics.Metric):
        def result(self):
            return 0.0

    with pytest.raises(NotImplementedError, match="Incomplete must implement update_state"):
        Incomplete().update_rules(None, None)


class MeanOfPositives(keras.metrics.Metric):
    """A metric built on a built-in one, with a constructor argument in its config."""

    def __init__(self, threshold=0.0, name="mean_of_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.threshold = threshold
        self.mean = keras.metrics.Mean()

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.mean.update_state(y_pred, sample_weight=ops.cast(y_pred > self.threshold, "float32"))

    def result(self):
        return np.float32(self.mean.result())

    def reset_state(self):
        self.mean.reset_state()

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}


@pytest.mark.parametrize("backend", BACKENDS)
def test_metric_built_on_a_built_in_metric_in_compile(backend):
    x, y = binary_data()
    model = identity_model()
    model.compile("sgd", "mse", metrics=[MeanOfPositives(threshold=0.7)], backend=backend)
    results = model.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)
    assert results["mean_of_positives"] == pytest.approx(np.mean(x[x > 0.7]))
    clone = MeanOfPositives.from_config(MeanOfPositives(threshold=0.7).get_config())
    assert (clone.threshold, clone.name) == (0.7, "mean_of_positives")


@pytest.mark.parametrize("backend", BACKENDS)
def test_compiled_subclassed_metric_updated_by_a_custom_step(backend):
    x, y = binary_data()
    inputs = layers.Input((1,))
    frozen = layers.Dense(1, kernel_initializer="ones", trainable=False)
    model = Keras3Step(inputs, frozen(inputs))
    model.compile("sgd", "mse", metrics=[BinaryTruePositives(), MeanAbsoluteError()],
                  backend=backend)
    history = model.fit(x, y, batch_size=2, epochs=2, verbose=0)
    assert history.history["binary_true_positives"] == pytest.approx([3.0, 3.0])
    assert history.history["my_mae"] == pytest.approx([np.mean(np.abs(x - y))] * 2, rel=1e-6)


def test_saved_model_with_a_subclassed_metric_loads_with_custom_objects(tmp_path):
    x, y = binary_data()
    model = identity_model()
    model.compile("sgd", "mse", metrics=[BinaryTruePositives(name="tp")], backend="numpy")
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(
        tmp_path / "model.keras", custom_objects={"BinaryTruePositives": BinaryTruePositives}
    )
    assert loaded.evaluate(x, y, verbose=0, return_dict=True)["tp"] == 3.0


class SampleCount(keras.metrics.Metric):
    """An int32 counter: assign_add of an int64 size, cast back to the variable's dtype."""

    def __init__(self, name="sample_count", **kwargs):
        super().__init__(name=name, **kwargs)
        self.seen = self.add_weight(shape=(), dtype="int32", name="seen")

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.seen.assign_add(ops.size(y_true))

    def result(self):
        return self.seen


@pytest.mark.parametrize("backend", BACKENDS)
def test_integer_counter_metric(backend):
    x, y = binary_data()
    model = identity_model()
    model.compile("sgd", "mse", metrics=[SampleCount()], backend=backend)
    assert model.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)["sample_count"] == 6
    eager = SampleCount()
    eager.update_state(np.zeros((5, 1)), np.zeros((5, 1)))
    assert eager.result() == 5 and eager.seen.numpy().dtype == np.int32


def test_eager_assign_add_of_another_dtype_casts_to_the_variable_dtype():
    counter = variable(np.int32(2))
    counter.assign_add(variable(np.float32(1.5)) * 2)  # a graph value of dtype float32
    assert counter.numpy() == 5 and counter.numpy().dtype == np.int32


def test_python_float_result_in_a_custom_train_step_names_the_line():
    class FloatResult(BinaryTruePositives):
        def result(self):
            return 1.5

    x, y = binary_data()
    inputs = layers.Input((1,))
    model = StepWithOwnMetric(inputs, layers.Dense(1)(inputs))
    model.tp_metric = FloatResult(name="tp")
    model.compile("sgd", "mse", backend="numpy")
    with pytest.raises(TypeError, match=r"FloatResult\.result \(.*test_custom_metrics\.py:\d+"):
        model.fit(x, y, verbose=0)
