"""Layers that merge a list of tensors: Concatenate, Add, Subtract, Multiply, Average,
Maximum, Minimum, and their functional forms (`concatenate([a, b])`, `add([a, b])`, ...)."""

from __future__ import annotations

import functools

import graphc as gc
from frontend.layers.base import Layer


class _Merge(Layer):
    """A layer called on a list of tensors; subclasses define `merge(list) -> tensor`."""

    min_inputs = 2

    def _check(self, inputs, exactly=None):
        count = len(inputs) if isinstance(inputs, (list, tuple)) else None
        wanted = f"exactly {exactly}" if exactly else f"at least {self.min_inputs}"
        if count is None or count < self.min_inputs or (exactly and count != exactly):
            got = f"a list of {count}" if count is not None else type(inputs).__name__
            raise ValueError(
                f"A `{type(self).__name__}` layer ('{self.name}') should be called on a list "
                f"of {wanted} inputs. Received: {got}"
            )

    def call(self, inputs):
        self._check(inputs)
        return self.merge(list(inputs))

    def merge(self, xs):
        raise NotImplementedError


class Add(_Merge):
    """Element-wise sum of two or more inputs of one shape. Example: `Add()([a, b])`."""

    def merge(self, xs):
        return functools.reduce(lambda a, b: a + b, xs)


class Subtract(_Merge):
    """`a - b` for exactly two inputs. Example: `Subtract()([a, b])`."""

    def call(self, inputs):
        self._check(inputs, exactly=2)
        return inputs[0] - inputs[1]


class Multiply(_Merge):
    """Element-wise product of two or more inputs. Example: `Multiply()([a, b])`."""

    def merge(self, xs):
        return functools.reduce(lambda a, b: a * b, xs)


class Average(_Merge):
    """Element-wise mean of two or more inputs. Example: `Average()([a, b, c])`."""

    def merge(self, xs):
        return functools.reduce(lambda a, b: a + b, xs) / float(len(xs))


class Maximum(_Merge):
    """Element-wise maximum of two or more inputs. Example: `Maximum()([a, b])`."""

    def merge(self, xs):
        return functools.reduce(gc.maximum, xs)


class Minimum(_Merge):
    """Element-wise minimum of two or more inputs. Example: `Minimum()([a, b])`."""

    def merge(self, xs):
        return functools.reduce(gc.minimum, xs)


class Concatenate(_Merge):
    """Joins inputs along `axis` (default: the last)."""

    min_inputs = 1

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)

    def merge(self, xs):
        return gc.concatenate(xs, axis=self.axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


def _functional(cls):
    def merge(inputs, **kwargs):
        return cls(**kwargs)(inputs)

    merge.__name__ = cls.__name__.lower()
    merge.__doc__ = f"Functional form of `{cls.__name__}`: `{merge.__name__}([a, b])`."
    return merge


add, subtract, multiply = _functional(Add), _functional(Subtract), _functional(Multiply)
average, maximum, minimum = _functional(Average), _functional(Maximum), _functional(Minimum)


def concatenate(inputs, axis=-1, **kwargs):
    """Functional form of `Concatenate`: `concatenate([a, b], axis=-1)`."""
    return Concatenate(axis=axis, **kwargs)(inputs)
