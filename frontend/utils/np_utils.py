"""Keras 1/2 import path `keras.utils.np_utils` (to_categorical, normalize)."""

from frontend.utils import normalize, to_categorical

__all__ = ["to_categorical", "normalize"]
