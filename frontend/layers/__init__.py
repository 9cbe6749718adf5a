"""Keras-style layers: `from frontend.layers import Input, Dense, Dropout, ...`.

The layer modules in EXPORTING_MODULES each list their public names in `__all__`.
"""

import importlib

from frontend.layers.advanced_activations import ELU, LeakyReLU, PReLU, ReLU, Softmax
from frontend.layers.attention import AdditiveAttention, Attention
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
from frontend.layers.einsum_dense import EinsumDense
from frontend.layers.identity import Identity
from frontend.layers.lambda_layer import Lambda
from frontend.layers.layer_normalization import (
    GroupNormalization,
    LayerNormalization,
    RMSNormalization,
    UnitNormalization,
)
from frontend.layers.merging import (
    Add,
    Average,
    Concatenate,
    Dot,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    concatenate,
    dot,
    maximum,
    minimum,
    multiply,
    subtract,
)
from frontend.layers.multi_head_attention import MultiHeadAttention
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
    "LayerNormalization",
    "RMSNormalization",
    "GroupNormalization",
    "UnitNormalization",
    "MultiHeadAttention",
    "Attention",
    "AdditiveAttention",
    "EinsumDense",
    "Identity",
    "Dot",
    "dot",
    "ELU",
    "LeakyReLU",
    "PReLU",
    "ReLU",
    "Softmax",
    "KerasTensor",
    "serialize",
    "deserialize",
]

# Modules whose public names (`__all__`) join this package's.
EXPORTING_MODULES = (
    "convolutional", "pooling", "recurrent", "reshaping", "noise", "preprocessing_layers", "rnn",
    "rnn_cells", "conv_transpose", "depthwise_separable", "deconvolution",
)


def _export(module_name: str) -> None:
    module = importlib.import_module(f"frontend.layers.{module_name}")
    for name in module.__all__:
        globals()[name] = getattr(module, name)
        __all__.append(name)


for _name in EXPORTING_MODULES:
    _export(_name)
