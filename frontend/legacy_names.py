"""Keras 1/2 argument names, in one table, and the one function that moves them to their
Keras 3 names with a DeprecationWarning. Layers, optimizers and callbacks get it through
their metaclass (`TakesLegacyNames`), compile/fit/evaluate/predict through
`frontend.models.arguments.check_kwargs`; their own code sees only Keras 3 names."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass

from frontend.changed_defaults import note_legacy_spelling, note_optimizer
from frontend.compat import signature_names, warn_deprecated


def as_data_format(value):
    """Keras 1's dim_ordering 'tf'/'th' as Keras 2's data_format."""
    return {"tf": "channels_last", "th": "channels_first"}.get(value, value)


@dataclass(frozen=True)
class LegacyName:
    """`old` keyword(s) of Keras 1/2 that became `new`.

    convert: the old values (in `old` order, None where absent) -> the new value.
    shown: how the warning writes the new form, when not just `new`.
    owners: the only classes (or methods) it applies to, by name; empty: every owner that
        takes `new` (a layer's own keyword is never renamed: ELU keeps its `alpha`).
    wins: which name counts when both are given, as in Keras 2 ('old': `lr` over
        `learning_rate`, 'new': `input_shape` over `input_dim`); None: a TypeError.
    """

    old: tuple[str, ...]
    new: str
    era: str = "Keras 1"
    convert: Callable | None = None
    shown: str | None = None
    owners: tuple[str, ...] = ()
    wins: str | None = None

    def applies(self, kinds: set, takes: set) -> bool:
        if set(self.old) & takes:
            return False
        return bool(set(self.owners) & kinds) if self.owners else self.new in takes

    def move(self, kwargs: dict, owner: str) -> None:
        values = [kwargs.pop(name, None) for name in self.old]
        if all(v is None for v in values):  # an old keyword given as None means "not given"
            return
        old_text = "/".join(self.old)
        warn_deprecated(owner, old_text, self.shown or self.new, self.era)
        note_legacy_spelling()
        if kwargs.get(self.new) is not None:
            if self.wins == "new":
                return
            if self.wins is None:
                raise TypeError(f"{owner}: got both `{old_text}` ({self.era}) and `{self.new}`; "
                                f"pass only `{self.new}`")
        kwargs[self.new] = self.convert(*values) if self.convert else values[0]


GENERATOR_METHODS = ("fit_generator", "evaluate_generator", "predict_generator")

LEGACY_NAMES = (
    # layers: Dense, Embedding, Dropout, convolutions, poolings, recurrent layers
    LegacyName(("output_dim",), "units"),
    LegacyName(("init",), "kernel_initializer"),
    LegacyName(("init",), "embeddings_initializer"),
    LegacyName(("inner_init",), "recurrent_initializer"),
    LegacyName(("inner_activation",), "recurrent_activation"),
    LegacyName(("W_regularizer",), "kernel_regularizer"),
    LegacyName(("U_regularizer",), "recurrent_regularizer"),
    LegacyName(("b_regularizer",), "bias_regularizer"),
    LegacyName(("W_constraint",), "kernel_constraint"),
    LegacyName(("b_constraint",), "bias_constraint"),
    LegacyName(("bias",), "use_bias"),
    LegacyName(("p",), "rate"),
    LegacyName(("dropout_W",), "dropout"),
    LegacyName(("dropout_U",), "recurrent_dropout"),
    LegacyName(("nb_filter",), "filters"),
    LegacyName(("filter_length",), "kernel_size"),
    LegacyName(
        ("nb_row", "nb_col"),
        "kernel_size",
        convert=lambda r, c: (r, c),
        shown="kernel_size=(rows, cols)",
    ),
    LegacyName(("subsample_length",), "strides"),
    LegacyName(("subsample",), "strides"),
    LegacyName(("pool_length",), "pool_size"),
    LegacyName(("stride",), "strides"),
    LegacyName(("border_mode",), "padding"),
    LegacyName(("dim_ordering",), "data_format", convert=as_data_format),
    LegacyName(("alpha",), "negative_slope", era="Keras 1/2"),
    # Keras 1's Conv1D took channels as input_dim and steps as input_length.
    LegacyName(
        ("input_dim", "input_length"),
        "input_shape",
        convert=lambda channels, steps: (steps, channels),
        shown="input_shape=(steps, channels)",
        owners=("Conv1D",),
    ),
    LegacyName(
        ("input_dim",),
        "input_shape",
        convert=lambda d: (d,),
        shown="input_shape=(input_dim,)",
        owners=("Layer",),
        wins="new",
    ),
    # models, training, optimizers, callbacks
    LegacyName(("input",), "inputs", owners=("Model",)),
    LegacyName(("output",), "outputs", owners=("Model",)),
    LegacyName(("nb_epoch",), "epochs", owners=("fit", "fit_generator")),
    # Keras 1's generator methods, renamed as Keras 2 did (samples_per_epoch: see
    # frontend/models/generator_methods.py)
    LegacyName(("nb_val_samples",), "validation_steps", owners=("fit_generator",)),
    LegacyName(("val_samples",), "steps", owners=("evaluate_generator", "predict_generator")),
    LegacyName(("nb_worker",), "workers", owners=GENERATOR_METHODS),
    LegacyName(("pickle_safe",), "use_multiprocessing", owners=GENERATOR_METHODS),
    LegacyName(("max_q_size",), "max_queue_size", owners=GENERATOR_METHODS),
    LegacyName(("lr",), "learning_rate", era="Keras 2", owners=("Optimizer",), wins="old"),
    LegacyName(("epsilon",), "min_delta", era="Keras 2", owners=("ReduceLROnPlateau",)),
)


def modernize(kwargs: dict, owner: str, kinds: set, takes: set) -> dict:
    """`kwargs` with the Keras 1/2 names that apply to `owner` moved to their new names, one
    DeprecationWarning each. kinds: the owner's names for LegacyName.owners (a class's
    whole MRO); takes: the keywords the owner accepts."""
    kwargs = dict(kwargs)
    for legacy in LEGACY_NAMES:
        if any(name in kwargs for name in legacy.old) and legacy.applies(kinds, takes):
            legacy.move(kwargs, owner)
    return kwargs


@functools.cache
def class_keywords(cls) -> tuple[frozenset, frozenset]:
    """(names of cls and its bases, keywords any `__init__` along its MRO takes)."""
    inits = [c.__init__ for c in cls.__mro__ if "__init__" in vars(c) and c is not object]
    kinds = frozenset(c.__name__ for c in cls.__mro__)
    return kinds, frozenset(signature_names(*inits))


@functools.cache
def positional_names(cls) -> tuple | None:
    """The names positional arguments of `cls(...)` bind to; None if it takes *args."""
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    if any(p.kind in (p.VAR_POSITIONAL, p.POSITIONAL_ONLY) for p in params):
        return None
    return tuple(p.name for p in params if p.kind == p.POSITIONAL_OR_KEYWORD)


def as_keywords(cls, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """Positional arguments as keywords, so a rename sees every argument given (`Adam(.1,
    lr=.2)`); unchanged where they cannot bind (Python then raises its usual error)."""
    names = positional_names(cls)
    if not args or names is None or len(args) > len(names) or set(names[:len(args)]) & set(kwargs):
        return args, kwargs
    return (), {**dict(zip(names, args)), **kwargs}


class TakesLegacyNames(type):
    """Metaclass: calling the class first moves Keras 1/2 keywords to their Keras 3 names."""

    def __call__(cls, *args, **kwargs):
        kinds, takes = class_keywords(cls)
        if kwargs:
            args, kwargs = as_keywords(cls, args, kwargs)
            kwargs = modernize(kwargs, cls.__name__, kinds, takes)
        instance = super().__call__(*args, **kwargs)
        if "Optimizer" in kinds:  # Keras 1/2 code may rely on a default that has changed
            bound = (positional_names(cls) or ())[: len(args)]
            note_optimizer(cls.__name__, set(bound) | set(kwargs))
        return instance
