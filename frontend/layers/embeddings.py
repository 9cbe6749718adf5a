"""Keras 2's `keras.layers.embeddings` module path of Embedding (the same class as
frontend.layers.Embedding)."""

from frontend.layers.core import Embedding

__all__ = ["Embedding"]
