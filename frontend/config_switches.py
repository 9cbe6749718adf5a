"""Keras 3's process-wide switches in `keras.config` that concern how errors are shown and
what loading may do.

graphc never filters tracebacks (its errors name the user's file:line themselves), so
filtering is always off: `disable_traceback_filtering()` is true to its word, and
`enable_traceback_filtering()` is refused rather than pretended.
"""

from __future__ import annotations

from frontend.layers.lambda_layer import UNSAFE_EVERYWHERE
from graphc.ir import user_site


def is_traceback_filtering_enabled() -> bool:
    """Always False: graphc shows whole tracebacks."""
    return False


def disable_traceback_filtering() -> None:
    """Keras 3's switch to show whole tracebacks, which graphc always does."""


def enable_traceback_filtering() -> None:
    raise NotImplementedError(
        f"keras.config.enable_traceback_filtering: graphc does not filter tracebacks; its "
        f"errors name the line of your code that caused them (at {user_site()})"
    )


def enable_unsafe_deserialization() -> None:
    """Let every later load deserialize Lambda layers' Python bytecode (as
    `load_model(..., safe_mode=False)` does for one file). Only for files you trust."""
    UNSAFE_EVERYWHERE["enabled"] = True


def is_unsafe_deserialization_enabled() -> bool:
    return UNSAFE_EVERYWHERE["enabled"]
