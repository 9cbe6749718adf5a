"""Datasets with Keras's `load_data()` API: mnist, fashion_mnist, imdb, reuters, cifar10,
cifar100, boston_housing (downloaded once into `$GRAPHC_HOME/datasets`, checksums checked)."""

from frontend.datasets import (
    boston_housing,
    cifar10,
    cifar100,
    fashion_mnist,
    imdb,
    mnist,
    reuters,
)

__all__ = ["mnist", "fashion_mnist", "imdb", "reuters", "cifar10", "cifar100", "boston_housing"]
