"""Keras 2's `keras.preprocessing`: `sequence` (pad_sequences), `text` (Tokenizer) and
`image` (ImageDataGenerator)."""

from frontend.preprocessing import image, sequence, text

__all__ = ["image", "sequence", "text"]
