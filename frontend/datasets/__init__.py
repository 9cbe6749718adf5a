"""Datasets with Keras's `load_data()` API: `mnist` and `fashion_mnist`."""

from frontend.datasets import fashion_mnist, mnist

__all__ = ["mnist", "fashion_mnist"]
