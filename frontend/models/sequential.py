"""`Sequential`: a stack of layers, each taking the previous one's output.

The input shape comes from an `Input`/`InputLayer` added first, from the first layer's
`input_shape` (or Keras 1's `input_dim`), or from the first data given to fit/predict.
"""

from __future__ import annotations

import warnings

from frontend import backend
from frontend.compat import user_stacklevel
from frontend.layers.base import Layer
from frontend.layers.core import InputLayer
from frontend.layers.registry import config_location, deserialize, serialize
from frontend.layers.tensor import KerasTensor
from frontend.models.functional import FunctionalGraph
from frontend.models.model import Model


class Sequential(Model):
    """Example:
    model = Sequential([Input(shape=(784,)), Dense(500, activation="relu"),
                        Dense(10, activation="softmax")])
    """

    def __init__(self, layers=None, name=None, trainable=True, **kwargs):
        self._graph_value, self._seq_layers, self._input_layer = None, [], None
        Model.__init__(
            self, name=name or backend.unique_name("sequential"), trainable=trainable, **kwargs
        )
        for layer in layers or []:
            self.add(layer)

    @property
    def _graph(self):
        if self._graph_value is None and self._input_layer is not None and self._seq_layers:
            x = self._input_layer.output
            for layer in self._seq_layers:
                x = layer(x)
            self._set_graph(self._input_layer.output, x)
        return self._graph_value

    @_graph.setter
    def _graph(self, value):
        self._graph_value = value

    def _set_graph(self, inputs, outputs):
        self._graph_value = FunctionalGraph(inputs, outputs, self.name)
        self._predict_functions, self._steps = {}, None
        self.built = True

    def add(self, layer) -> None:
        """Append a layer (or an Input, as the first element)."""
        if isinstance(layer, KerasTensor):
            layer = layer.history[0]
        if not isinstance(layer, Layer):
            raise TypeError(
                f"Only layers can be added to a Sequential model. Received: "
                f"layer={layer!r} (of type {type(layer).__name__})"
            )
        if isinstance(layer, InputLayer):
            if self._seq_layers or self._input_layer is not None:
                raise ValueError(f"Sequential '{self.name}': an Input can only be the first layer")
            self._input_layer = layer
        else:
            if any(existing.name == layer.name for existing in self._seq_layers):
                raise ValueError(
                    f"Sequential '{self.name}': all layers need unique names; "
                    f"'{layer.name}' is already in the model"
                )
            shape = declared_input_shape(layer)
            if self._input_layer is None and not self._seq_layers and shape is not None:
                self._input_layer = InputLayer(batch_shape=shape)
            self._seq_layers.append(layer)
        self._invalidate()

    def pop(self) -> Layer:
        """Remove and return the last layer."""
        if not self._seq_layers:
            raise IndexError(f"Sequential '{self.name}' has no layers to pop")
        layer = self._seq_layers.pop()
        self._invalidate()
        return layer

    def _invalidate(self):
        self._graph_value, self._predict_functions, self._steps = None, {}, None

    @property
    def layers(self) -> list:
        return list(self._seq_layers)

    def _sublayers(self) -> list:
        self._graph  # noqa: B018 - builds the layers' weights when the input shape is known
        return list(self._seq_layers)

    def build(self, input_shape=None, dtype=None):
        if self._input_layer is None:
            if input_shape is None:
                raise ValueError(f"Sequential '{self.name}': build() needs an input_shape")
            self._input_layer = InputLayer(batch_shape=tuple(input_shape), dtype=dtype)
        if self._graph is None:
            raise ValueError(f"Sequential '{self.name}' has no layers to build")

    @property
    def built_graph(self) -> bool:
        return self._graph is not None

    # ---- Keras 1/2 prediction helpers (removed in Keras 2.6; tutorials still use them) -----

    def predict_classes(self, x, batch_size=32, verbose=0):
        """Class indices: the argmax of `predict` for several outputs units, `> 0.5` for one."""
        warn_removed(
            "predict_classes",
            "np.argmax(model.predict(x), axis=-1), or (model.predict(x) > 0.5).astype('int32') "
            "for one sigmoid unit",
        )
        proba = self.predict(x, batch_size=batch_size, verbose=verbose)
        if proba.shape[-1] > 1:
            return proba.argmax(axis=-1)
        return (proba > 0.5).astype("int32")

    def predict_proba(self, x, batch_size=32, verbose=0):
        """`predict` (the model's outputs are taken to be probabilities)."""
        warn_removed("predict_proba", "model.predict(x)")
        return self.predict(x, batch_size=batch_size, verbose=verbose)

    def get_config(self) -> dict:
        layers = ([serialize(self._input_layer)] if self._input_layer is not None else []) + [
            serialize(layer) for layer in self._seq_layers
        ]
        return {"name": self.name, "trainable": self.trainable, "layers": layers}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for layer_config in config["layers"]:
            layer = deserialize(layer_config, custom_objects)
            with config_location(f"layer {layer.name!r} ({type(layer).__name__})"):
                model.add(layer)
        return model


def declared_input_shape(layer):
    """The batch input shape a layer was given (`input_shape=`), or that of a built model with
    one input (so `Sequential([trained_model, Softmax()])` is built at once, as in Keras)."""
    if layer._batch_input_shape is not None:
        return layer._batch_input_shape
    if isinstance(layer, Model) and layer.built_graph and len(layer.input_shapes) == 1:
        return layer.input_shapes[0]
    return None


def warn_removed(method: str, replacement: str) -> None:
    warnings.warn(
        f"Sequential.{method} was removed in Keras 2.6; use {replacement} instead",
        DeprecationWarning,
        stacklevel=user_stacklevel(),
    )
