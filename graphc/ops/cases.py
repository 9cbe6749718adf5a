"""Test cases of the op table: each op's entry lists the inputs and attributes worth running it
on (`defop(..., cases=[case(...)])`); graphc.testing and the tests run every op on them."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class In:
    """One input of a case: its shape, how to sample it, and its dtype.

    kind: 'normal' | 'positive' (0.5..2) | 'away' (|x| in 0.1..2, off kinks) | 'int' (0..high)
          | 'bool' | 'key' (a scalar int64 random key) | 'like' (only its shape matters).
    """

    shape: tuple
    kind: str = "normal"
    dtype: str = "float64"
    high: int = 5

    @property
    def differentiable(self) -> bool:
        return self.dtype.startswith("float") and self.kind != "like"

    def sample(self, rng: np.random.Generator, dtype: str | None = None) -> np.ndarray:
        dtype = dtype if dtype and self.dtype.startswith("float") else self.dtype
        # np.asarray: arithmetic on 0-d arrays gives NumPy scalars, which can't be written into
        return np.asarray(self._draw(rng), dtype=dtype)

    def _draw(self, rng: np.random.Generator):
        if self.kind == "int":
            return rng.integers(0, self.high, self.shape)
        if self.kind == "bool":
            return rng.random(self.shape) < 0.5
        if self.kind == "key":
            return rng.integers(0, 2**62)
        if self.kind == "positive":
            return rng.uniform(0.5, 2.0, self.shape)
        if self.kind == "away":
            return rng.uniform(0.1, 2.0, self.shape) * rng.choice([-1, 1], self.shape)
        return rng.standard_normal(self.shape)


@dataclass(frozen=True)
class Case:
    inputs: tuple
    attrs: dict = field(default_factory=dict)
    grad: bool = True  # False: the op is not differentiable here (ints, bools, randomness)

    def sample(self, rng, dtype=None):
        return [spec.sample(rng, dtype) for spec in self.inputs]


def case(*inputs, grad=True, **attrs) -> Case:
    return Case(tuple(inputs), attrs, grad)


def zero_d(spec: Case) -> Case:
    """The same case with every input a 0-d scalar."""
    inputs = tuple(In((), s.kind, s.dtype, s.high) for s in spec.inputs)
    return Case(inputs, spec.attrs, spec.grad)


def with_0d(cases) -> list:
    """`cases` and a 0-d copy of each (elementwise ops must run on scalars too)."""
    out = list(cases)
    for spec in map(zero_d, cases):
        if spec not in out:
            out.append(spec)
    return out


# Shorthands the op modules' cases share.
F = In
A34, A4 = In((3, 4), "away"), In((4,), "away")
M34 = In((3, 4))
POS34 = In((3, 4), "positive")
