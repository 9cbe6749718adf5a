"""Gradients inside a custom `train_step`, which fit traces into one compiled graph.

    grads = grad(loss, self.trainable_variables)          # graphc's symbolic gradient
    with GradientTape() as tape:                          # TensorFlow-style code from keras.io
        y_pred = self(x, training=True)
        loss = self.compute_loss(y=y, y_pred=y_pred)
    grads = tape.gradient(loss, self.trainable_variables)

The tape records nothing: graphc differentiates the traced graph, so `tape.gradient` is
`grad` with TensorFlow's argument conventions (nested sources, a list of targets summed).
"""

from __future__ import annotations

import functools

import graphc as gc
from frontend.layers.tensor import flatten, map_structure
from graphc.ir import Node, user_site


def grad(loss, variables):
    """d loss / d each variable (a list, dict or single variable; same structure back).
    Variables the loss does not depend on get zero gradients, as Keras optimizers expect."""
    loss = as_scalar_loss(loss, "grad")
    wrt = flatten(variables)
    for v in wrt:
        if not isinstance(v, Node):
            raise TypeError(
                f"grad: `variables` must be graph values (model.trainable_variables, layer "
                f"weights or tensors of the step); received {type(v).__name__} "
                f"(at {user_site()})"
            )
    grads = gc.grad(loss, wrt, disconnected="zeros") if wrt else []
    it = iter(grads)
    return map_structure(lambda _: next(it), variables)


def as_scalar_loss(loss, what: str):
    """A graph scalar: the sum of a list of targets, the sum over a non-scalar target."""
    if isinstance(loss, (list, tuple)):
        parts = [as_scalar_loss(t, what) for t in loss]
        return functools.reduce(lambda a, b: a + b, parts)
    if not isinstance(loss, Node):
        raise TypeError(
            f"{what}: the loss must be a graph value computed in the traced step; received "
            f"{type(loss).__name__} {loss!r}. A custom train_step is traced once into a "
            f"compiled graph, so its values are symbolic (at {user_site()})"
        )
    return gc.sum(loss) if loss.shape else loss


class GradientTape:
    """tf.GradientTape's interface over graphc's symbolic gradients (see the module doc)."""

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self.persistent = persistent
        self.watch_accessed_variables = watch_accessed_variables

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def watch(self, tensor) -> None:
        """Accepted for TensorFlow code: every graph value can be differentiated."""

    def gradient(self, target, sources, output_gradients=None, unconnected_gradients="none"):
        """d target / d sources, in the structure of `sources`. Unlike TensorFlow, a source
        the target does not depend on gets zeros, not None."""
        if output_gradients is not None:
            raise ValueError(
                f"GradientTape.gradient: output_gradients is not supported by graphc; "
                f"multiply the target by them instead (at {user_site()})"
            )
        return grad(as_scalar_loss(target, "GradientTape.gradient"), sources)
