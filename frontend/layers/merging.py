"""Layers that merge a list of tensors: Concatenate, Add, Subtract, Multiply, Average,
Maximum, Minimum, Dot, and their functional forms (`concatenate([a, b])`, `add([a, b])`, ...)."""

from __future__ import annotations

import functools

import graphc as gc
from frontend.layers.base import Layer
from frontend.layers.layer_normalization import l2_normalize
from graphc.ir import user_site


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


class Dot(_Merge):
    """Per-sample dot products of two inputs along `axes` (an int, or one axis per input; batch
    axis 0 excluded). `normalize=True` takes the cosine similarity. Example:
    `Dot(axes=1)([a, b])` on (batch, n) inputs gives (batch, 1)."""

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        pair = (axes, axes) if isinstance(axes, int) else tuple(axes)
        if len(pair) != 2 or not all(isinstance(a, int) for a in pair):
            raise ValueError(
                f"Dot: `axes` must be an int or a pair of ints. Received: axes={axes!r}"
            )
        self.axes, self.normalize = axes if isinstance(axes, int) else list(axes), bool(normalize)

    def call(self, inputs):
        self._check(inputs, exactly=2)
        x, y = inputs
        ax, ay = self._resolve_axes(x, y)
        if self.normalize:
            x, y = l2_normalize(x, (ax,)), l2_normalize(y, (ay,))
        letters = iter("bcdefghijklmnopqrstuvwxyz")
        spec_x = ["a"] + [next(letters) for _ in range(1, x.ndim)]
        spec_y = ["a"] + [next(letters) for _ in range(1, y.ndim)]
        spec_y[ay] = spec_x[ax]
        rest = [c for c in spec_x[1:] if c != spec_x[ax]] + [
            c for c in spec_y[1:] if c != spec_y[ay]
        ]
        out = gc.einsum(f"{''.join(spec_x)},{''.join(spec_y)}->a{''.join(rest)}", x, y)
        return gc.expand_dims(out, 1) if out.ndim == 1 else out

    def _resolve_axes(self, x, y):
        pair = (self.axes, self.axes) if isinstance(self.axes, int) else tuple(self.axes)
        ax, ay = (a % t.ndim if -t.ndim <= a < t.ndim else 0 for a, t in zip(pair, (x, y)))
        if ax == 0 or ay == 0 or x.shape[ax] != y.shape[ay] or x.shape[0] != y.shape[0]:
            raise ValueError(
                f"Dot '{self.name}': axes {pair} must name non-batch axes of equal size. "
                f"Received: input shapes {x.shape} and {y.shape} (at {user_site()})"
            )
        return ax, ay

    def get_config(self):
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


def dot(inputs, axes=-1, **kwargs):
    """Functional form of `Dot`: `dot([a, b], axes=1)`."""
    return Dot(axes=axes, **kwargs)(inputs)
