"""Optimizer defaults that Keras changed after 2.3, and the one warning about them.

Keras 1/2 code gets graphc's (Keras 3's) defaults: an `Adadelta()` that trained with learning
rate 1.0 in Keras 2.3 now trains with 0.001 and reaches a fraction of the original accuracy.
When a process has used a Keras 1/2 spelling (`lr=`, `nb_epoch=`, `output_dim=`, ...) and an
optimizer whose changed default was not given explicitly, one UserWarning per optimizer class
names the old default and the line that created the optimizer."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from frontend.compat import user_stacklevel
from graphc.ir import user_site


@dataclass(frozen=True)
class ChangedDefault:
    argument: str
    keras3: float
    keras2: float


CHANGED_DEFAULTS = {  # Keras <= 2.3 (and Keras 1) -> Keras 3, as graphc uses
    "Adadelta": ChangedDefault("learning_rate", 0.001, 1.0),
    "Adagrad": ChangedDefault("learning_rate", 0.001, 0.01),
    "Adamax": ChangedDefault("learning_rate", 0.001, 0.002),
    "Nadam": ChangedDefault("learning_rate", 0.001, 0.002),
}

legacy_spelling_seen = False
pending: dict[str, str] = {}  # optimizer class -> where one was created with a changed default
warned: set[str] = set()


def note_legacy_spelling() -> None:
    """A Keras 1/2 name was used: the code is probably Keras 1/2 code."""
    global legacy_spelling_seen
    legacy_spelling_seen = True
    warn_pending()


def note_optimizer(class_name: str, given: set) -> None:
    """An optimizer was created with the arguments `given`; remember it if it takes a default
    that changed since Keras 2.3."""
    change = CHANGED_DEFAULTS.get(class_name)
    if change is None or change.argument in given or class_name in warned:
        return
    pending[class_name] = user_site()
    warn_pending()


def warn_pending() -> None:
    if not legacy_spelling_seen:
        return
    for class_name, site in list(pending.items()):
        change = CHANGED_DEFAULTS[class_name]
        warnings.warn(
            f"{class_name} (created at {site}): this code uses Keras 1/2 names, but "
            f"{change.argument} defaults to Keras 3's {change.keras3}; Keras <= 2.3 used "
            f"{change.keras2}: pass {change.argument}={change.keras2} to train as it did",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
        warned.add(class_name)
        pending.pop(class_name, None)  # two threads may warn at once
