"""Checking the arguments of compile / fit / evaluate / predict: Keras options graphc does
not implement, or that a batch source makes meaningless, are refused (never ignored), unknown
keywords suggest the closest name, and every error names the user's line."""

from __future__ import annotations

import math

import numpy as np

from frontend import backend as settings
from frontend.compat import reject_unknown, signature_names
from frontend.legacy_names import modernize
from frontend.models.data import is_batch_source
from graphc.backends import BACKENDS, get_backend
from graphc.ir import user_site


def verbosity(verbose) -> int:
    """Keras's verbose="auto" is 1 (a progress bar)."""
    return 1 if verbose == "auto" else int(verbose)


def whole_number(method: str, name: str, value, minimum: int) -> int:
    """`value` as an int >= `minimum`, or a ValueError in Keras's style naming the argument."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= minimum:
        return int(value)
    need = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
    raise ValueError(
        f"{method}: {name} must be {need}. Received: {name}={value!r} (at {user_site()})"
    )


def batch_size_or_default(method: str, batch_size, name: str = "batch_size") -> int:
    """Keras's default batch size (32) for None; otherwise a positive integer."""
    return 32 if batch_size is None else whole_number(method, name, batch_size, 1)


def fit_counts(epochs, initial_epoch, batch_size, validation_batch_size) -> tuple:
    """fit's counts, checked: (epochs, initial_epoch, batch_size, validation_batch_size)."""
    batch_size = batch_size_or_default("fit", batch_size)
    if validation_batch_size is None:
        validation_batch_size = batch_size
    return (
        whole_number("fit", "epochs", epochs, 0),
        whole_number("fit", "initial_epoch", initial_epoch, 0),
        batch_size,
        whole_number("fit", "validation_batch_size", validation_batch_size, 1),
    )


def require_samples(method: str, arrays: list) -> None:
    """Training or evaluating on no data is a mistake (a loss over 0 samples means nothing)."""
    if len(arrays[0]) == 0:
        raise ValueError(
            f"{method}: x has 0 samples (shape {np.shape(arrays[0])}); there is nothing to "
            f"{'train on' if method == 'fit' else 'evaluate'} (at {user_site()})"
        )


def step_counts(method: str, **steps) -> dict:
    """steps_per_epoch / validation_steps / steps: None (all the data) or a positive integer;
    a positive float (Keras 2's docs pass `len(x_train) / 32`) counts up, as Keras 2 ran it."""
    return {
        k: None if v is None else whole_number(method, k, _counted_up(v), 1)
        for k, v in steps.items()
    }


def _counted_up(value):
    if isinstance(value, (float, np.floating)) and np.isfinite(value) and value > 0:
        return math.ceil(value)
    return value


def refuse_with_batch_source(method: str, x, **given) -> None:
    """With a generator or Sequence as `x`, batches come from it: y, sample_weight,
    batch_size and validation_split given besides would be silently unused (Keras refuses)."""
    if not is_batch_source(x):
        return
    extra = {
        k: f"array of shape {np.shape(v)}" if hasattr(v, "shape") else v
        for k, v in given.items()
        if v is not None and not (isinstance(v, (bool, int, float)) and not v)
    }
    if extra:
        names = ", ".join(extra)
        split = "validation_split" in extra
        raise ValueError(
            f"{method}: {names} cannot be given when x is a {type(x).__name__} (a batch "
            f"source): its batches carry x, y and sample weights and set the batch size"
            f"{'; pass validation_data instead of validation_split' if split else ''}. "
            f"Received: {extra} (at {user_site()})"
        )


def reject_execution_options(run_eagerly, steps_per_execution, jit_compile):
    """Keras's execution switches have no graphc meaning other than their defaults: refuse
    other values rather than ignore them (the numpy backend is graphc's 'eager' mode)."""
    if run_eagerly or jit_compile is False:
        given = "run_eagerly=True" if run_eagerly else "jit_compile=False"
        raise ValueError(
            f"compile: {given} is not supported: every step is compiled; pass "
            f"backend='numpy' to run the reference interpreter instead (at {user_site()})"
        )
    if steps_per_execution != 1:
        raise ValueError(
            f"compile: steps_per_execution must be 1 (one compiled call per batch). "
            f"Received: steps_per_execution={steps_per_execution!r} (at {user_site()})"
        )


def resolve_backend(backend) -> str:
    """The backend name compile() uses, checked now so a typo fails at the user's line."""
    if backend is None:
        backend = settings.default_backend()
    if backend not in BACKENDS:
        raise ValueError(
            f"compile: unknown backend {backend!r}; choose one of "
            f"{', '.join(BACKENDS)} (at {user_site()})"
        )
    get_backend(backend)  # a clear NotImplementedError now rather than at the first step
    return backend


def check_kwargs(method, kwargs):
    """Move Keras 1/2 keywords (frontend/legacy_names.py) to their new names with a warning;
    refuse the rest of the keywords `method` does not take."""
    if not kwargs:  # the common call: nothing to rename or refuse (skips inspect.signature)
        return {}
    known = signature_names(method)
    kwargs = modernize(kwargs, method.__name__, {method.__name__}, known)
    reject_unknown({k: v for k, v in kwargs.items() if k not in known}, known, method.__name__)
    return kwargs
