"""Keras 3's `keras.config`: the session's settings. Each function is the same object as in
`frontend.backend` (K.*) or `frontend.image_format`, so there is one source of truth."""

from frontend.backend import epsilon, floatx, set_epsilon, set_floatx
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
]
