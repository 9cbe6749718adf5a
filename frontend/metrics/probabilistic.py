"""Keras 3's metric classes that average a loss function over the samples: the
cross-entropies, KL divergence, Poisson and the hinge losses."""

from __future__ import annotations

from frontend import losses
from frontend.metrics.accuracy import _wrapper

BinaryCrossentropy = _wrapper(
    "BinaryCrossentropy",
    losses.binary_crossentropy,
    "binary_crossentropy",
    from_logits=False,
    label_smoothing=0.0,
)
CategoricalCrossentropy = _wrapper(
    "CategoricalCrossentropy",
    losses.categorical_crossentropy,
    "categorical_crossentropy",
    from_logits=False,
    label_smoothing=0.0,
    axis=-1,
)
SparseCategoricalCrossentropy = _wrapper(
    "SparseCategoricalCrossentropy",
    losses.sparse_categorical_crossentropy,
    "sparse_categorical_crossentropy",
    from_logits=False,
    axis=-1,
)
KLDivergence = _wrapper("KLDivergence", losses.kl_divergence, "kl_divergence")
Poisson = _wrapper("Poisson", losses.poisson, "poisson")
Hinge = _wrapper("Hinge", losses.hinge, "hinge")
SquaredHinge = _wrapper("SquaredHinge", losses.squared_hinge, "squared_hinge")
CategoricalHinge = _wrapper("CategoricalHinge", losses.categorical_hinge, "categorical_hinge")
