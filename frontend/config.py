"""Keras 3's `keras.config`: the session's settings. Each function is the same object as in
`frontend.backend` (K.*), `frontend.image_format` or `frontend.config_switches`, so there is
one source of truth."""

from frontend.backend import backend, epsilon, floatx, set_epsilon, set_floatx
from frontend.config_switches import (
    disable_traceback_filtering,
    enable_traceback_filtering,
    enable_unsafe_deserialization,
    is_traceback_filtering_enabled,
    is_unsafe_deserialization_enabled,
)
from frontend.image_format import (
    image_data_format,
    image_dim_ordering,
    set_image_data_format,
    set_image_dim_ordering,
)
from frontend.seeding import set_random_seed

__all__ = [
    "epsilon",
    "floatx",
    "set_epsilon",
    "set_floatx",
    "image_data_format",
    "set_image_data_format",
    "image_dim_ordering",
    "set_image_dim_ordering",
    "set_random_seed",
    "backend",
    "disable_traceback_filtering",
    "enable_traceback_filtering",
    "is_traceback_filtering_enabled",
    "enable_unsafe_deserialization",
    "is_unsafe_deserialization_enabled",
]
