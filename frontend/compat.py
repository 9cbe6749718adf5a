"""Keyword checking shared by layers, models and compile/fit: Keras 1 spellings are accepted
with a DeprecationWarning naming the new one; an unknown keyword is a TypeError that suggests
the closest valid name."""

from __future__ import annotations

import difflib
import inspect
import os
import sys
import warnings

from graphc.ir import user_site

_OWN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_OWN_PACKAGES = tuple(os.path.join(_OWN_DIR, p) + os.sep for p in ("frontend", "graphc", "passes"))


def user_stacklevel() -> int:
    """The `stacklevel` that makes a warning point at the user's own line."""
    level, frame = 1, sys._getframe(1)
    while frame is not None:
        path = os.path.abspath(frame.f_code.co_filename)
        if not path.startswith(_OWN_PACKAGES) and "importlib" not in path:
            return level
        frame, level = frame.f_back, level + 1
    return level


def warn_deprecated(owner: str, old: str, new: str, era: str = "Keras 1") -> None:
    warnings.warn(
        f"{owner}: `{old}` is the {era} name of `{new}`; use `{new}` instead. "
        f"`{old}` will be removed.",
        DeprecationWarning,
        stacklevel=user_stacklevel(),
    )


def refuse_unsupported(owner: str, **options) -> None:
    """ValueError for Keras options graphc does not implement when given anything but their
    default (False/None): refused, never silently ignored."""
    given = {k: v for k, v in options.items() if v}
    if given:
        received = ", ".join(f"{k}={v!r}" for k, v in given.items())
        raise ValueError(
            f"{owner}: {', '.join(given)} not supported by graphc; leave at the default. "
            f"Received: {received} (at {user_site()})"
        )


def suggest(name: str, valid) -> str:
    close = difflib.get_close_matches(name, list(valid), n=1, cutoff=0.5)
    return f" Did you mean `{close[0]}`?" if close else ""


def reject_unknown(kwargs: dict, valid, owner: str) -> None:
    """TypeError for the first keyword not in `valid`, suggesting the closest valid one."""
    for key in kwargs:
        if key not in valid:
            raise TypeError(
                f"{owner} got an unexpected keyword argument `{key}`.{suggest(key, valid)}"
                f" Valid keywords: {', '.join(sorted(valid))}"
            )


def signature_names(*functions) -> set:
    """Parameter names of `functions` (without self and **kwargs)."""
    names = set()
    for fn in functions:
        for p in inspect.signature(fn).parameters.values():
            if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and p.name != "self":
                names.add(p.name)
    return names


def lookup(identifier: str, table: dict, kind: str):
    """`table[identifier]`, or a ValueError naming the closest known name of this `kind`."""
    if identifier in table:
        return table[identifier]
    key = identifier.lower() if isinstance(identifier, str) else identifier
    if key in table:
        return table[key]
    raise ValueError(
        f"Unknown {kind}: {identifier!r}.{suggest(str(key), table)} "
        f"Known {kind} names: {', '.join(sorted(table))}"
    )
