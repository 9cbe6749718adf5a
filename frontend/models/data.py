"""Turning user data (arrays, lists, dicts) into the arrays the compiled functions take, with
errors that name the argument, the model input or output, the shapes received and the user's
line; mini-batch index plans and the validation split."""

from __future__ import annotations

import math

import numpy as np

from graphc.function import shape_text
from graphc.ir import user_site


class DefaultWeights(np.ndarray):
    """Sample weights of ones made up because the user gave none: a custom train_step then
    gets (x, y), not (x, y, sample_weight), as in Keras. Slices keep the type."""


def default_weights(n: int) -> DefaultWeights:
    return np.ones(n, np.float32).view(DefaultWeights)


def weights_given(sample_weights: list) -> bool:
    """Whether a batch's sample weights came from the user (sample_weight or class_weight)."""
    return any(not isinstance(w, DefaultWeights) for w in sample_weights)


class DataError(ValueError):
    """Data that does not fit the model."""


def is_sequence_like(data) -> bool:
    """Indexed by batch (Keras's Sequence/PyDataset protocol), and not an array or a list."""
    if isinstance(data, (np.ndarray, list, tuple, dict, str, bytes)) or hasattr(data, "__array__"):
        return False
    return hasattr(data, "__getitem__") and hasattr(data, "__len__")


def is_iterator(data) -> bool:
    """A Python generator or any other iterator (drawn with next())."""
    return hasattr(data, "__next__") and not isinstance(data, np.ndarray)


def is_batch_source(data) -> bool:
    return is_sequence_like(data) or is_iterator(data)


ACCEPTED = (
    "arrays (or a list/dict of arrays), a Python generator, or a frontend.utils.Sequence / "
    "PyDataset"
)


def as_array(value, what: str) -> np.ndarray:
    """`value` as a numeric array, or a DataError naming `what` and the user's line. Batch
    sources are refused here, never converted: NumPy would read a whole Sequence into memory."""
    if is_batch_source(value):
        raise DataError(
            f"{what}: received a {type(value).__name__} (a batch source) where arrays are "
            f"needed; pass it as `x` of fit/evaluate/predict (at {user_site()})"
        )
    try:
        array = np.asarray(value)
    except (ValueError, TypeError, OverflowError) as err:  # ragged lists, odd objects
        raise DataError(
            f"{what}: could not convert to an array ({err}) (at {user_site()})"
        ) from None
    if array.dtype == object and array.ndim == 0:
        hint = "; call it to get a generator" if callable(value) else ""
        raise DataError(
            f"{what}: expected {ACCEPTED}; received a {type(value).__name__}{hint} "
            f"(at {user_site()})"
        )
    if array.dtype.kind not in "biuf" and array.dtype.name != "bfloat16":
        raise DataError(
            f"{what}: expected numbers, received an array of dtype {array.dtype} (at {user_site()})"
        )
    return array


def by_position(data, names: list[str], argument: str, method: str) -> list:
    """`data` (an array, a list or a dict keyed by name) as a list ordered like `names`."""
    if isinstance(data, dict):
        missing = [n for n in names if n not in data]
        extra = [k for k in data if k not in names]
        if missing or extra:
            raise DataError(
                f"{method}: `{argument}` is a dict with keys {sorted(data)}, but the "
                f"model expects {names} (missing: {missing}, unknown: {extra}) "
                f"(at {user_site()})"
            )
        return [data[n] for n in names]
    if isinstance(data, (list, tuple)) and len(names) > 1:
        if len(data) != len(names):
            raise DataError(
                f"{method}: the model has {len(names)} "
                f"{'inputs' if argument == 'x' else 'outputs'} {names}, but `{argument}` "
                f"is a list of {len(data)} arrays (at {user_site()})"
            )
        return list(data)
    if isinstance(data, (list, tuple)) and len(data) == 1 and isinstance(data[0], np.ndarray):
        return [data[0]]
    if len(names) > 1:
        raise DataError(
            f"{method}: the model has {len(names)} "
            f"{'inputs' if argument == 'x' else 'outputs'} {names}; pass `{argument}` "
            f"as a list or a dict of arrays (at {user_site()})"
        )
    return [data]


def check_feature_shape(array, spec_shape, label: str, method: str) -> None:
    """The non-batch dimensions of `array` must match the model's static shape."""
    expected = tuple(spec_shape)
    ok = array.ndim == len(expected) and all(
        e is None or e == a for e, a in zip(expected[1:], array.shape[1:])
    )
    if not ok:
        raise DataError(
            f"{method}: {label} expects data of shape {shape_text(expected)} (None = "
            f"any number of samples), but received an array of shape {array.shape} "
            f"(at {user_site()})"
        )


def cast_to(array: np.ndarray, dtype: str) -> np.ndarray:
    return np.ascontiguousarray(array.astype(dtype, copy=False))


def check_same_length(groups: list[tuple[str, list[str], list]], method: str) -> int:
    """All arrays must have the same number of samples; returns it."""
    counts = [
        (arg, name, len(a))
        for arg, names, arrays in groups
        for name, a in zip(names, arrays)
        if a is not None
    ]
    sizes = {c for _, _, c in counts}
    if len(sizes) > 1:
        listing = ", ".join(f"{arg} ('{name}') has {c}" for arg, name, c in counts)
        raise DataError(
            f"{method}: x and y must have the same number of samples, but {listing} "
            f"(at {user_site()})"
        )
    return sizes.pop() if sizes else 0


def check_class_labels(y: np.ndarray, classes, name: str, method: str) -> None:
    """Sparse labels must be whole numbers in [0, classes), as Keras checks."""
    if y.size == 0:
        return
    if y.dtype.kind == "f" and not np.all(np.mod(y, 1) == 0):
        bad = y[np.mod(y, 1) != 0].ravel()[:3].tolist()
        raise DataError(
            f"{method}: sparse class labels for output '{name}' must be integers, but y "
            f"(dtype {y.dtype}) holds values such as {bad} (at {user_site()})"
        )
    low, high = y.min(), y.max()
    if low < 0 or (classes not in (None, 1) and high >= classes):
        raise DataError(
            f"{method}: sparse class labels for output '{name}' must be in [0, {classes}) "
            f"(the output has {classes} classes), but y has min {low:g} and max {high:g} "
            f"(at {user_site()})"
        )


def class_weights_for(y: np.ndarray, class_weight: dict) -> np.ndarray:
    """One weight per sample from a {class index: weight} dict (labels one-hot or indices)."""
    classes = (
        np.argmax(y, axis=-1)
        if y.ndim >= 2 and y.shape[-1] > 1
        else y.reshape(len(y), -1)[:, 0].astype(np.int64)
    )
    unknown = sorted(set(np.unique(classes).tolist()) - set(int(k) for k in class_weight))
    if unknown:
        raise DataError(
            f"fit: class_weight has no entry for classes {unknown}. Received: "
            f"class_weight={class_weight} (at {user_site()})"
        )
    table = {int(k): float(v) for k, v in class_weight.items()}
    return np.array([table[int(c)] for c in classes], dtype=np.float32)


def batch_plan(n: int, batch_size: int, shuffle: bool, rng: np.random.Generator) -> list:
    """Index arrays of the mini-batches of one epoch; the last one may be smaller."""
    if not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise DataError(
            f"batch_size must be a positive integer. Received: "
            f"batch_size={batch_size!r} (at {user_site()})"
        )
    order = rng.permutation(n) if shuffle else np.arange(n)
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]


def steps_for(n: int, batch_size: int) -> int:
    return math.ceil(n / batch_size)


def split_validation(arrays: list, validation_split: float):
    """(train, validation) lists: the validation part is the last samples, before shuffling."""
    if not 0 < validation_split < 1:
        raise DataError(
            f"fit: validation_split must be in (0, 1). Received: "
            f"validation_split={validation_split} (at {user_site()})"
        )
    n = len(next(a for a in arrays if a is not None))
    split_at = int(math.floor(n * (1.0 - validation_split)))
    if split_at in (0, n):
        raise DataError(
            f"fit: {n} samples cannot be split into training and validation sets "
            f"with validation_split={validation_split} (at {user_site()})"
        )
    train = [None if a is None else a[:split_at] for a in arrays]
    val = [None if a is None else a[split_at:] for a in arrays]
    return train, val
