"""Keras 2's `keras.utils.data_utils` path of Sequence and get_file (the same objects as
frontend.utils.Sequence and frontend.utils.get_file)."""

from frontend.utils.downloads import get_file
from frontend.utils.sequence import PyDataset, Sequence

__all__ = ["PyDataset", "Sequence", "get_file"]
