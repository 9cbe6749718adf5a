"""A weight's three options (initializer, regularizer, constraint): stored on the layer as
objects (`layer.kernel_initializer`, ...) and written to its config by name, the same way for
every layer that has them."""

from __future__ import annotations

from frontend import constraints, initializers, regularizers

KINDS = {"initializer": initializers, "regularizer": regularizers, "constraint": constraints}


def set_weight_options(layer, **weights) -> None:
    """`kernel=(initializer, regularizer, constraint)` sets layer.kernel_initializer etc.

    Example: `set_weight_options(self, kernel=("glorot_uniform", None, None))`
    """
    for weight, options in weights.items():
        for (kind, module), value in zip(KINDS.items(), options):
            setattr(layer, f"{weight}_{kind}", module.get(value))


def weight_options_config(layer, *weights: str) -> dict:
    """The config entries of the named weights' options, in Keras's order (all initializers,
    then all regularizers, then all constraints)."""
    return {
        f"{weight}_{kind}": module.serialize(getattr(layer, f"{weight}_{kind}"))
        for kind, module in KINDS.items()
        for weight in weights
    }


def add_weight_with_options(layer, shape, weight: str, name=None, initializer=None):
    """`layer.add_weight` with the options stored for `weight` (named `name`, default `weight`;
    `initializer` replaces the stored one, e.g. for LSTM's forget-gate bias)."""
    return layer.add_weight(
        shape,
        initializer or getattr(layer, f"{weight}_initializer"),
        regularizer=getattr(layer, f"{weight}_regularizer"),
        constraint=getattr(layer, f"{weight}_constraint"),
        name=name or weight,
    )
