"""Keras-style layers: `from frontend.layers import Input, Dense, Dropout, ...`.

Layer modules written elsewhere (convolutional, pooling, recurrent) are picked up here when
present; each exports its public names in `__all__`.
"""

import importlib

from frontend.layers.advanced_activations import ELU, LeakyReLU, PReLU, ReLU, Softmax
from frontend.layers.base import LAYERS, Layer, get_layer_class, register_layer
from frontend.layers.core import (
    Activation,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    Input,
    InputLayer,
    Masking,
    Reshape,
)
from frontend.layers.lambda_layer import Lambda
from frontend.layers.merging import (
    Add,
    Average,
    Concatenate,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    concatenate,
    maximum,
    minimum,
    multiply,
    subtract,
)
from frontend.layers.normalization import BatchNormalization
from frontend.layers.registry import deserialize, serialize
from frontend.layers.tensor import KerasTensor

__all__ = [
    "LAYERS",
    "Layer",
    "get_layer_class",
    "register_layer",
    "Activation",
    "Dense",
    "Dropout",
    "Embedding",
    "Flatten",
    "Input",
    "InputLayer",
    "Masking",
    "Reshape",
    "Lambda",
    "Add",
    "Average",
    "Concatenate",
    "Maximum",
    "Minimum",
    "Multiply",
    "Subtract",
    "add",
    "average",
    "concatenate",
    "maximum",
    "minimum",
    "multiply",
    "subtract",
    "BatchNormalization",
    "ELU",
    "LeakyReLU",
    "PReLU",
    "ReLU",
    "Softmax",
    "KerasTensor",
    "serialize",
    "deserialize",
]

OPTIONAL_MODULES = ("convolutional", "pooling", "recurrent")
OPTIONAL_MODULES += ("reshaping", "noise", "preprocessing_layers", "rnn", "rnn_cells")  # issue 12


def _import_optional(module_name: str) -> None:
    try:
        module = importlib.import_module(f"frontend.layers.{module_name}")
    except ModuleNotFoundError as err:
        if err.name != f"frontend.layers.{module_name}":
            raise
        return
    for name in getattr(module, "__all__", ()):
        globals()[name] = getattr(module, name)
        __all__.append(name)


for _name in OPTIONAL_MODULES:
    _import_optional(_name)
