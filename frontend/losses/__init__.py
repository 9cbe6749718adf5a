"""Keras 3 losses: per-sample functions (`functions`, `focal`, `overlap`), the Loss objects
that weight and reduce them (`objects`), and `get`/`serialize` by name like Keras."""

from __future__ import annotations

from frontend.compat import lookup
from frontend.config_objects import by_name, object_from_dict, serialize_object
from frontend.losses.focal import binary_focal_crossentropy, categorical_focal_crossentropy
from frontend.losses.functions import (
    _as_float_like,
    binary_crossentropy,
    categorical_crossentropy,
    categorical_hinge,
    cosine_similarity,
    hinge,
    huber,
    kl_divergence,
    kld,
    kullback_leibler_divergence,
    l2_normalize,
    log_cosh,
    logcosh,
    mae,
    mape,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
    mse,
    msle,
    poisson,
    sparse_categorical_crossentropy,
    sparse_labels,
    squared_hinge,
)
from frontend.losses.objects import (
    REDUCTIONS,
    BinaryCrossentropy,
    BinaryFocalCrossentropy,
    CategoricalCrossentropy,
    CategoricalFocalCrossentropy,
    CategoricalHinge,
    CosineSimilarity,
    Dice,
    Hinge,
    Huber,
    KLDivergence,
    LogCosh,
    Loss,
    LossFunctionWrapper,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    Poisson,
    SparseCategoricalCrossentropy,
    SquaredHinge,
    Tversky,
    evaluate_eagerly,
    reduce_values,
    weight_values,
)
from frontend.losses.overlap import dice, tversky
from frontend.losses.symbolic import public_functions

FUNCTIONS = {
    "categorical_crossentropy": categorical_crossentropy,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
    "binary_crossentropy": binary_crossentropy,
    "mean_squared_error": mean_squared_error,
    "mse": mean_squared_error,
    "mean_absolute_error": mean_absolute_error,
    "mae": mean_absolute_error,
    "mean_absolute_percentage_error": mape,
    "mape": mape,
    "mean_squared_logarithmic_error": msle,
    "msle": msle,
    "huber": huber,
    "huber_loss": huber,
    "log_cosh": log_cosh,
    "logcosh": log_cosh,
    "hinge": hinge,
    "squared_hinge": squared_hinge,
    "kl_divergence": kl_divergence,
    "kld": kl_divergence,
    "kullback_leibler_divergence": kl_divergence,
    "poisson": poisson,
    "cosine_similarity": cosine_similarity,
    "categorical_hinge": categorical_hinge,
    "binary_focal_crossentropy": binary_focal_crossentropy,
    "categorical_focal_crossentropy": categorical_focal_crossentropy,
    "dice": dice,
    "tversky": tversky,
}
# The module's public names (and FUNCTIONS, what names resolve to) dispatch on what they are
# given (frontend/losses/symbolic.py); the Loss classes wrap the graph functions themselves.
_PUBLIC = public_functions(FUNCTIONS)
_PUBLIC_OF = {fn: _PUBLIC[name] for name, fn in FUNCTIONS.items()}
FUNCTIONS = _PUBLIC
globals().update(_PUBLIC)

CLASSES = by_name(
    CategoricalCrossentropy,
    SparseCategoricalCrossentropy,
    BinaryCrossentropy,
    MeanSquaredError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError,
    Huber,
    LogCosh,
    Hinge,
    SquaredHinge,
    KLDivergence,
    Poisson,
    CosineSimilarity,
    CategoricalHinge,
    BinaryFocalCrossentropy,
    CategoricalFocalCrossentropy,
    Dice,
    Tversky,
)


def get(identifier, custom_objects=None) -> Loss:
    """A Loss object from a name ('categorical_crossentropy'), a function, an object or a
    config dict. An unknown name raises a ValueError suggesting the closest known name."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        if custom_objects and identifier in custom_objects:
            return get(custom_objects[identifier])
        fn = lookup(identifier, FUNCTIONS, "loss")
        return LossFunctionWrapper(fn, name=identifier)
    if isinstance(identifier, dict):
        return object_from_dict(identifier, {**CLASSES, **(custom_objects or {})}, "loss")
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier):
        return LossFunctionWrapper(identifier, name=getattr(identifier, "__name__", "loss"))
    raise TypeError(f"Could not interpret loss identifier: {identifier!r}")


def serialize(loss):
    """A JSON-able description: a function's name, or {'class_name', 'config'}."""
    if type(loss) is LossFunctionWrapper:
        name = {fn: n for n, fn in FUNCTIONS.items()}.get(loss.fn)
        if name and not loss.fn_kwargs:
            return loss.name if loss.name in FUNCTIONS else name
        return {"class_name": "__function__", "config": getattr(loss.fn, "__name__", None)}
    return serialize_object(loss)


def loss_function(loss: Loss):
    """The underlying per-sample function, as the module's public name (so `is
    losses.categorical_crossentropy` detects the kind of loss)."""
    fn = getattr(loss, "fn", None)
    return _PUBLIC_OF.get(fn, fn)


__all__ = [
    "_as_float_like",
    "binary_crossentropy",
    "categorical_crossentropy",
    "categorical_hinge",
    "cosine_similarity",
    "hinge",
    "huber",
    "kl_divergence",
    "kld",
    "kullback_leibler_divergence",
    "l2_normalize",
    "log_cosh",
    "logcosh",
    "mae",
    "mape",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_error",
    "mean_squared_logarithmic_error",
    "mse",
    "msle",
    "poisson",
    "sparse_categorical_crossentropy",
    "sparse_labels",
    "squared_hinge",
    "REDUCTIONS",
    "BinaryCrossentropy",
    "BinaryFocalCrossentropy",
    "CategoricalCrossentropy",
    "CategoricalFocalCrossentropy",
    "CategoricalHinge",
    "CosineSimilarity",
    "Dice",
    "Hinge",
    "Huber",
    "KLDivergence",
    "LogCosh",
    "Loss",
    "LossFunctionWrapper",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredError",
    "MeanSquaredLogarithmicError",
    "Poisson",
    "SparseCategoricalCrossentropy",
    "SquaredHinge",
    "Tversky",
    "evaluate_eagerly",
    "reduce_values",
    "weight_values",
    "FUNCTIONS",
    "CLASSES",
    "get",
    "serialize",
    "loss_function",
]
