"""Keras 2's `keras.utils.data_utils` path of Sequence (the same class as
frontend.utils.Sequence)."""

from frontend.utils.sequence import PyDataset, Sequence

__all__ = ["PyDataset", "Sequence"]
