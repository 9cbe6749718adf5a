"""Keras 2 import path `keras.utils.vis_utils` (plot_model)."""

from frontend.utils import plot_model

__all__ = ["plot_model"]
