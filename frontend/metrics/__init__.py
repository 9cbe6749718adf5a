"""Keras-style metrics: stateful objects whose accumulators are graphc shared variables,
updated inside the compiled training/test step. `get` resolves names like Keras."""

from __future__ import annotations

from frontend import losses
from frontend.compat import lookup
from frontend.config_objects import by_name, object_from_dict, serialize_object
from frontend.metrics.accuracy import (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    MeanAbsoluteError,
    MeanSquaredError,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
    accuracy,
    binary_accuracy,
    categorical_accuracy,
    sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    top_k_categorical_accuracy,
)
from frontend.metrics.auc import AUC
from frontend.metrics.base import Mean, MeanMetricWrapper, Metric
from frontend.metrics.confusion import (
    FalseNegatives,
    FalsePositives,
    Precision,
    Recall,
    TrueNegatives,
    TruePositives,
)
from frontend.metrics.fscore import F1Score, FBetaScore
from frontend.metrics.iou import MeanIoU
from frontend.metrics.operating_point import (
    PrecisionAtRecall,
    RecallAtPrecision,
    SensitivityAtSpecificity,
    SpecificityAtSensitivity,
)
from frontend.metrics.probabilistic import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    CategoricalHinge,
    Hinge,
    KLDivergence,
    Poisson,
    SparseCategoricalCrossentropy,
    SquaredHinge,
)
from frontend.metrics.regression import (
    CosineSimilarity,
    LogCoshError,
    MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError,
    R2Score,
    RootMeanSquaredError,
    cosine_similarity,
)

FUNCTIONS = {
    "binary_accuracy": binary_accuracy,
    "categorical_accuracy": categorical_accuracy,
    "sparse_categorical_accuracy": sparse_categorical_accuracy,
    "top_k_categorical_accuracy": top_k_categorical_accuracy,
    "sparse_top_k_categorical_accuracy": sparse_top_k_categorical_accuracy,
    **{name: fn for name, fn in losses.FUNCTIONS.items()},
    "cosine_similarity": cosine_similarity,  # the metric is +cos, the loss -cos
}
CLASSES = by_name(
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    TopKCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    MeanSquaredError,
    MeanAbsoluteError,
    Mean,
    AUC,
    Precision,
    Recall,
    TruePositives,
    FalsePositives,
    TrueNegatives,
    FalseNegatives,
    F1Score,
    FBetaScore,
    MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError,
    RootMeanSquaredError,
    R2Score,
    MeanIoU,
    CosineSimilarity,
    LogCoshError,
    PrecisionAtRecall,
    RecallAtPrecision,
    SensitivityAtSpecificity,
    SpecificityAtSensitivity,
    BinaryCrossentropy,
    CategoricalCrossentropy,
    SparseCategoricalCrossentropy,
    KLDivergence,
    Poisson,
    Hinge,
    SquaredHinge,
    CategoricalHinge,
)
# names that give a metric object with its defaults (Keras 3 accepts them as strings)
OBJECTS = {
    "auc": AUC,
    "precision": Precision,
    "recall": Recall,
    "true_positives": TruePositives,
    "false_positives": FalsePositives,
    "true_negatives": TrueNegatives,
    "false_negatives": FalseNegatives,
    "f1_score": F1Score,
    "fbeta_score": FBetaScore,
    "root_mean_squared_error": RootMeanSquaredError,
    "r2_score": R2Score,
}


def get(
    identifier, y_true_shape=None, y_pred_shape=None, loss_fn=None, custom_objects=None
) -> Metric:
    """A Metric from a name, function, class, instance or config dict (its class among the
    built-ins or `custom_objects`, as load_model passes them).

    'accuracy'/'acc' is chosen like Keras: binary when the model outputs one unit, sparse
    categorical when the labels have no class axis, categorical otherwise.
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, dict):
        return object_from_dict(identifier, {**CLASSES, **(custom_objects or {})}, "metric")
    if isinstance(identifier, str):
        if identifier.lower() in ("accuracy", "acc"):
            fn = pick_accuracy(y_true_shape, y_pred_shape, loss_fn)
            return MeanMetricWrapper(fn, name=identifier)
        if identifier.lower() in OBJECTS:
            return OBJECTS[identifier.lower()](name=identifier)
        return MeanMetricWrapper(lookup(identifier, FUNCTIONS | OBJECTS, "metric"), name=identifier)
    if callable(identifier):
        return MeanMetricWrapper(identifier, name=getattr(identifier, "__name__", "metric"))
    raise TypeError(f"Could not interpret metric identifier: {identifier!r}")


def pick_accuracy(y_true_shape, y_pred_shape, loss_fn=None):
    if loss_fn is losses.binary_crossentropy:
        return binary_accuracy
    if loss_fn is losses.sparse_categorical_crossentropy:
        return sparse_categorical_accuracy
    if loss_fn is losses.categorical_crossentropy:
        return categorical_accuracy
    if y_pred_shape is None:
        return accuracy
    if y_pred_shape[-1] == 1:
        return binary_accuracy
    if y_true_shape is not None and (
        len(y_true_shape) < len(y_pred_shape) or (y_true_shape[-1] == 1 and y_pred_shape[-1] != 1)
    ):
        return sparse_categorical_accuracy
    return categorical_accuracy


def serialize(metric: Metric) -> dict:
    return serialize_object(metric)


__all__ = [
    "Metric",
    "Mean",
    "MeanMetricWrapper",
    "Accuracy",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "SparseCategoricalAccuracy",
    "TopKCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "AUC",
    "Precision",
    "Recall",
    "TruePositives",
    "FalsePositives",
    "TrueNegatives",
    "FalseNegatives",
    "F1Score",
    "FBetaScore",
    "MeanAbsolutePercentageError",
    "MeanSquaredLogarithmicError",
    "RootMeanSquaredError",
    "R2Score",
    "MeanIoU",
    "CosineSimilarity",
    "LogCoshError",
    "PrecisionAtRecall",
    "RecallAtPrecision",
    "SensitivityAtSpecificity",
    "SpecificityAtSensitivity",
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy",
    "KLDivergence",
    "Poisson",
    "Hinge",
    "SquaredHinge",
    "CategoricalHinge",
    "cosine_similarity",
    "accuracy",
    "binary_accuracy",
    "categorical_accuracy",
    "sparse_categorical_accuracy",
    "top_k_categorical_accuracy",
    "sparse_top_k_categorical_accuracy",
    "get",
    "serialize",
]
