"""Loss objects: a `Loss` weights the per-sample values of its function by `sample_weight`
and reduces them, by default to their mean over the batch ("sum_over_batch_size"); called on
arrays instead of graph nodes it computes the value right away."""

from __future__ import annotations

import numpy as np

import graphc as gc
from frontend import backend
from frontend.compat import reject_unknown
from frontend.losses.focal import binary_focal_crossentropy, categorical_focal_crossentropy
from frontend.losses.functions import (
    binary_crossentropy,
    categorical_crossentropy,
    categorical_hinge,
    cosine_similarity,
    hinge,
    huber,
    kl_divergence,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
    poisson,
    sparse_categorical_crossentropy,
    squared_hinge,
)
from frontend.losses.overlap import dice, tversky
from graphc.ir import Node, user_site

REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


def weight_values(values, sample_weight):
    """values * sample_weight, the weight given per sample and broadcast over other axes."""
    sample_weight = gc.cast(sample_weight, values.dtype)
    while sample_weight.ndim < values.ndim:
        sample_weight = gc.expand_dims(sample_weight, -1)
    return values * sample_weight


def reduce_values(values, sample_weight=None, reduction="sum_over_batch_size"):
    if sample_weight is not None:
        values = weight_values(values, sample_weight)
    if reduction in ("none", None):
        return values
    total = gc.sum(values)
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        return total / gc.sum(gc.cast(sample_weight, values.dtype))
    return total / gc.size(values, dtype=values.dtype)


class Loss:
    """A loss object: `loss(y_true, y_pred, sample_weight=None)` -> reduced value."""

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if reduction not in REDUCTIONS:
            raise ValueError(
                f"{type(self).__name__}: unknown reduction. Received: "
                f"reduction={reduction!r}; choose one of {REDUCTIONS}" f" (at {user_site()})"
            )
        self.name = name or backend.to_snake_case(type(self).__name__)
        self.reduction, self.dtype = reduction, dtype

    def call(self, y_true, y_pred):
        raise NotImplementedError

    def __call__(self, y_true, y_pred, sample_weight=None):
        if isinstance(y_pred, Node):
            return reduce_values(self.call(y_true, y_pred), sample_weight, self.reduction)
        return evaluate_eagerly(self, y_true, y_pred, sample_weight)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def evaluate_eagerly(loss, y_true, y_pred, sample_weight):
    y_pred = np.asarray(y_pred, dtype=backend.floatx())
    y_true = np.asarray(y_true)
    nodes = [gc.constant(y_true), gc.constant(y_pred)]
    weight = None if sample_weight is None else gc.constant(np.asarray(sample_weight, y_pred.dtype))
    return gc.function([], loss(nodes[0], nodes[1], weight), backend="numpy")()


class LossFunctionWrapper(Loss):
    def __init__(self, fn, name=None, reduction="sum_over_batch_size", **fn_kwargs):
        super().__init__(name=name, reduction=reduction)
        self.fn, self.fn_kwargs = fn, fn_kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self.fn_kwargs)

    def get_config(self):
        return {**super().get_config(), **self.fn_kwargs}


def check_dtype(owner, dtype) -> None:
    """Losses compute in the predictions' dtype (floatx): another dtype is refused."""
    if dtype is not None and str(dtype) != backend.floatx():
        raise ValueError(
            f"{owner}: dtype must be None or {backend.floatx()!r} (losses compute in the "
            f"predictions' dtype). Received: dtype={dtype!r} (at {user_site()})"
        )


def _loss_class(class_name, fn, default_name, order=None, **defaults):
    """A LossFunctionWrapper subclass taking, like Keras 3's class, the function's arguments
    first (or the positional `order` given), then reduction, name and dtype."""
    order = order or (*defaults, "reduction", "name", "dtype")

    def __init__(self, *args, **kwargs):
        if len(args) > len(order):
            raise TypeError(
                f"{class_name}: takes at most {len(order)} positional arguments "
                f"({', '.join(order)}). Received: {len(args)}" f" (at {user_site()})"
            )
        kwargs.update(zip(order, args))
        reject_unknown(kwargs, set(defaults) | {"reduction", "name", "dtype"}, class_name)
        reduction = kwargs.pop("reduction", "sum_over_batch_size")
        name = kwargs.pop("name", default_name)
        check_dtype(class_name, kwargs.pop("dtype", None))
        LossFunctionWrapper.__init__(
            self, fn, name=name, reduction=reduction, **{**defaults, **kwargs}
        )

    return type(class_name, (LossFunctionWrapper,), {"__init__": __init__})


CategoricalCrossentropy = _loss_class(
    "CategoricalCrossentropy",
    categorical_crossentropy,
    "categorical_crossentropy",
    from_logits=False,
    label_smoothing=0.0,
    axis=-1,
)
SparseCategoricalCrossentropy = _loss_class(
    "SparseCategoricalCrossentropy",
    sparse_categorical_crossentropy,
    "sparse_categorical_crossentropy",
    from_logits=False,
    axis=-1,
)
BinaryCrossentropy = _loss_class(
    "BinaryCrossentropy",
    binary_crossentropy,
    "binary_crossentropy",
    from_logits=False,
    label_smoothing=0.0,
    axis=-1,
)
MeanSquaredError = _loss_class("MeanSquaredError", mean_squared_error, "mean_squared_error")
MeanAbsoluteError = _loss_class("MeanAbsoluteError", mean_absolute_error, "mean_absolute_error")
MeanAbsolutePercentageError = _loss_class(
    "MeanAbsolutePercentageError", mean_absolute_percentage_error, "mean_absolute_percentage_error"
)
MeanSquaredLogarithmicError = _loss_class(
    "MeanSquaredLogarithmicError", mean_squared_logarithmic_error, "mean_squared_logarithmic_error"
)
Huber = _loss_class("Huber", huber, "huber_loss", delta=1.0)
LogCosh = _loss_class("LogCosh", log_cosh, "log_cosh")
Hinge = _loss_class("Hinge", hinge, "hinge")
SquaredHinge = _loss_class("SquaredHinge", squared_hinge, "squared_hinge")
KLDivergence = _loss_class("KLDivergence", kl_divergence, "kl_divergence")
Poisson = _loss_class("Poisson", poisson, "poisson")
CosineSimilarity = _loss_class("CosineSimilarity", cosine_similarity, "cosine_similarity", axis=-1)
CategoricalHinge = _loss_class("CategoricalHinge", categorical_hinge, "categorical_hinge")
BinaryFocalCrossentropy = _loss_class(
    "BinaryFocalCrossentropy",
    binary_focal_crossentropy,
    "binary_focal_crossentropy",
    apply_class_balancing=False,
    alpha=0.25,
    gamma=2.0,
    from_logits=False,
    label_smoothing=0.0,
    axis=-1,
)
CategoricalFocalCrossentropy = _loss_class(
    "CategoricalFocalCrossentropy",
    categorical_focal_crossentropy,
    "categorical_focal_crossentropy",
    alpha=0.25,
    gamma=2.0,
    from_logits=False,
    label_smoothing=0.0,
    axis=-1,
)
Dice = _loss_class("Dice", dice, "dice", order=("reduction", "name", "axis", "dtype"), axis=None)
Tversky = _loss_class(
    "Tversky",
    tversky,
    "tversky",
    order=("alpha", "beta", "reduction", "name", "axis", "dtype"),
    alpha=0.5,
    beta=0.5,
    axis=None,
)
