"""The Layer base class (Keras 3 pattern: `__init__` stores and validates config, `build`
creates weights with `add_weight`, `call` is plain graphc math, `get_config` round-trips
through `from_config`) and the registry that deserialization looks classes up in. Every
subclass registers itself by class name, so layers defined in other modules (convolutional,
recurrent, user code) load from saved configs once their module is imported. Masks: masks.py.
"""

from __future__ import annotations

import inspect
from contextlib import nullcontext

import numpy as np

import graphc as gc
from frontend import backend, constraints, initializers, mixed_precision, regularizers
from frontend.layers.eager_call import call_eagerly
from frontend.layers.masks import MaskedCalls
from frontend.layers.registry import (  # noqa: F401 - re-exported for layer modules
    BASE_KWARGS,
    LAYERS,
    check_keywords,
    get_layer_class,
    register_layer,
)
from frontend.layers.stored_weights import claim_stored_weight
from frontend.layers.tensor import (
    CallRecord,
    KerasTensor,
    call_context,
    current_context,
    flatten,
    has_nodes,
    is_symbolic,
    map_structure,
)
from frontend.layers.tracking import (
    auto_config,
    fold_symbolic_keywords,
    init_arguments,
    layers_in,
    marks_built,
    restructure,
    unique,
)
from frontend.legacy_names import TakesLegacyNames
from frontend.variables import variable
from graphc.ir import GraphError, user_site


def shape_of(structure):
    """Static shapes (tuples) of a structure of nodes or KerasTensors."""
    return map_structure(lambda t: tuple(t.shape), structure)


class Layer(MaskedCalls, metaclass=TakesLegacyNames):
    """Base class of all layers.

    Subclasses implement `__init__` (store config; errors say `Received: units=...`),
    `build(input_shape)` (create weights with `add_weight`), `call(inputs)` (graphc math) and
    `get_config()`. Calling a layer on KerasTensors builds a functional model; on graphc nodes it
    returns graphc nodes; on arrays it computes eagerly with the NumPy interpreter.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            LAYERS[cls.__name__] = cls
        cls._call_takes_training = "training" in inspect.signature(cls.call).parameters
        if "build" in vars(cls):  # Keras 3: `layer.build(shape)` called directly marks it built
            cls.build = marks_built(vars(cls)["build"])

    def __new__(cls, *args, **kwargs):
        layer = super().__new__(cls)
        layer._init_arguments = init_arguments(cls, args, kwargs)
        return layer

    def __init__(self, name=None, dtype=None, trainable=True, **kwargs):
        owner = type(self).__name__
        check_keywords(type(self), kwargs, Layer.__init__)
        self.name = name or backend.unique_name(backend.to_snake_case(owner))
        self.dtype_policy = mixed_precision.as_policy(dtype)  # Keras 3: a name or DTypePolicy
        self.dtype = self.dtype_policy.variable_dtype
        self._trainable = bool(trainable)
        self.built = False
        self._trainable_weights, self._non_trainable_weights = [], []
        self._weight_info: dict[int, dict] = {}
        self._added_losses: list = []  # standing add_loss terms (nodes or callables)
        self._last_call_losses: list = []  # what the last call on arrays added (Keras's losses)
        self._inbound_calls: list[CallRecord] = []
        self.activity_regularizer = regularizers.get(kwargs.get("activity_regularizer"))
        self._initial_weights = kwargs.get("weights")
        self._batch_input_shape = self._input_shape_from(kwargs)

    @staticmethod
    def _input_shape_from(kwargs):
        if kwargs.get("batch_input_shape") is not None:
            return tuple(kwargs["batch_input_shape"])
        shape = kwargs.get("input_shape")
        if shape is None:
            return None
        return (kwargs.get("batch_size"),) + ((shape,) if isinstance(shape, int) else tuple(shape))

    compute_dtype = property(lambda self: self.dtype_policy.compute_dtype)  # Keras 3's names
    variable_dtype = property(lambda self: self.dtype_policy.variable_dtype)

    @property
    def _tracked_layers(self) -> list:
        """Layers held in public attributes, directly or in lists, tuples and dicts (as Keras
        tracks them), in assignment order; read at each use, so later appends count."""
        found = [
            item
            for name, value in vars(self).items()
            if not name.startswith("_")
            for item in layers_in(value, Layer)
            if item is not self
        ]
        return unique(found)

    # ---- weights ----------------------------------------------------------------------------

    def add_weight(
        self,
        shape=(),
        initializer=None,
        dtype=None,
        trainable=True,
        regularizer=None,
        constraint=None,
        name=None,
    ):
        """Create a weight (a graphc shared variable named '<layer>/<name>').

        Args:
            shape: static shape; initializer: name, Initializer or callable(shape, dtype);
            trainable: updated by the optimizer or not; regularizer: penalty added to the loss;
            constraint: applied after each optimizer update.
        """
        dtype = gc.ir.normalize_dtype(dtype or self.dtype)
        shape = tuple(int(d) for d in shape)
        name = name or f"variable_{len(self._weight_info)}"
        claim_stored_weight(shape, dtype, f"{self.name}/{name}")
        init = initializers.get(
            initializer or ("glorot_uniform" if dtype.startswith("float") else "zeros")
        )
        value = np.asarray(init(shape, dtype), dtype=dtype).reshape(shape)
        var = variable(value, name=f"{self.name}/{name}")
        (self._trainable_weights if trainable else self._non_trainable_weights).append(var)
        self._weight_info[id(var)] = {
            "name": name,
            "regularizer": regularizers.get(regularizer),
            "constraint": constraints.get(constraint),
        }
        return var

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool):
        self._trainable = bool(value)
        for layer in self._tracked_layers:
            layer.trainable = value

    def _sublayers(self) -> list:
        return list(self._tracked_layers)

    def _collect(self, own) -> list:
        out, seen = [], set()
        for w in own + [w for layer in self._sublayers() for w in layer.weights]:
            if id(w) not in seen:
                seen.add(id(w))
                out.append(w)
        return out

    @property
    def weights(self) -> list:
        """All weights in Keras 3 order: own trainable, own non-trainable, then sublayers'."""
        return self._collect(self._trainable_weights + self._non_trainable_weights)

    @property
    def trainable_weights(self) -> list:
        if not self.trainable:
            return []
        subs = [w for layer in self._sublayers() for w in layer.trainable_weights]
        return unique(self._trainable_weights + subs)

    @property
    def non_trainable_weights(self) -> list:
        trainable = {id(w) for w in self.trainable_weights}
        return [w for w in self.weights if id(w) not in trainable]

    variables = weights
    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    def weight_info(self, var) -> dict:
        """{'name', 'regularizer', 'constraint'} of a weight created by this layer or a sublayer."""
        if id(var) in self._weight_info:
            return self._weight_info[id(var)]
        for layer in self._sublayers():
            info = layer.weight_info(var)
            if info is not None:
                return info
        return None

    def get_weights(self) -> list:
        return [w.get_value() for w in self.weights]

    def set_weights(self, weights) -> None:
        own = self.weights
        weights = list(weights)
        if len(weights) != len(own):
            raise ValueError(
                f"Layer '{self.name}' expects {len(own)} weight arrays "
                f"({', '.join(w.name for w in own)}), received {len(weights)}"
            )
        for var, value in zip(own, weights):
            value = np.asarray(value)
            if value.shape != var.shape:
                raise ValueError(
                    f"Layer '{self.name}': weight {var.name!r} has shape {var.shape}, "
                    f"received an array of shape {value.shape}"
                )
            var.set_value(value.astype(var.dtype))

    quantization = None  # {"mode": "int8", "input_scale": ...} once quantized (Dense, Conv)

    @property
    def quantization_mode(self):
        """Keras 3: None, or the mode the layer's weights are quantized to."""
        return None if self.quantization is None else self.quantization["mode"]

    def quantize(self, mode, **kwargs):
        """Keras 3: quantize this layer's weights (layers with an int8 path override it)."""
        raise NotImplementedError(
            f"Layer {type(self).__name__} does not have a `quantize()` method implemented."
        )

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(
                f"Layer '{self.name}' is not built yet, so its weights do not exist: "
                f"call it on an input (or build the model) first"
            )
        return int(sum(int(np.prod(w.shape)) for w in self.weights))

    @property
    def losses(self) -> list:
        """Penalties of the weights, and losses added to the layer or sublayers outside call."""
        out = []
        for w in self.trainable_weights + self.non_trainable_weights:
            info = self.weight_info(w)
            if info and info["regularizer"] is not None:
                out.append(info["regularizer"](w))
        return out + self._standing_losses() + self._last_call_losses

    def _standing_losses(self) -> list:
        own = [loss() if callable(loss) else loss for loss in self._added_losses]
        return own + [loss for layer in self._sublayers() for loss in layer._standing_losses()]

    # ---- calling ------------------------------------------------------------------------------

    def build(self, input_shape) -> None:
        """Create weights; `input_shape` has None for the batch dimension."""
        self.built = True

    def call(self, inputs, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must implement call(inputs)")

    def __call__(self, *args, **kwargs):
        if not args:
            if "inputs" not in kwargs:
                raise TypeError(f"Layer '{self.name}' was called without inputs")
            args = (kwargs.pop("inputs"),)
        inputs, rest = args[0], args[1:]
        if is_symbolic(inputs):
            inputs, kwargs = fold_symbolic_keywords(self, inputs, kwargs)
            return self._call_symbolic(inputs, rest, kwargs)
        if has_nodes(inputs):
            return self._call_graph(inputs, rest, kwargs)
        return self._call_eager(inputs, rest, kwargs)

    def _maybe_build(self, inputs) -> None:
        if self.built:
            return
        shapes = shape_of(inputs)
        self.build(shapes)
        self.built = True
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def _call_graph(self, inputs, rest=(), kwargs=None):
        kwargs = dict(kwargs or {})
        training = kwargs.pop("training", None)
        if training is None:
            ctx = current_context()
            training = bool(ctx and ctx.training)
        if self._call_takes_training:
            kwargs["training"] = bool(training)
        # a context marks "inside a call" for add_loss, also when nothing else opened one
        scope = call_context(bool(training)) if current_context() is None else nullcontext()
        previous_mask = self._pass_mask(inputs, rest, kwargs)
        try:
            with scope:
                self._maybe_build(inputs)
                outputs = mixed_precision.call_in_compute_dtype(self, self.call, inputs, rest,
                                                                kwargs)
        except GraphError as err:
            raise type(err)(
                f"Layer '{self.name}' ({type(self).__name__}) could not process its "
                f"input of shape {shape_of(inputs)}: {err}"
            ) from None
        self._add_activity_loss(outputs)
        self._attach_masks(inputs, outputs, previous_mask)
        return outputs

    def _add_activity_loss(self, outputs) -> None:
        ctx = current_context()
        if self.activity_regularizer is not None and ctx is not None and ctx.training:
            ctx.losses.extend(self.activity_regularizer(o) for o in flatten(outputs))

    def _call_symbolic(self, inputs, rest, kwargs):
        nodes = map_structure(lambda t: t.node, inputs)
        with call_context(training=False):
            outputs = self._call_graph(nodes, rest, kwargs)
        index = len(self._inbound_calls)
        flat = flatten(outputs)
        tensors = [
            KerasTensor(
                node, (self, index, i), name=self.name if len(flat) == 1 else f"{self.name}_{i}"
            )
            for i, node in enumerate(flat)
        ]
        self._inbound_calls.append(CallRecord(self, inputs, tensors, dict(kwargs)))
        return restructure(outputs, tensors)

    def _call_eager(self, inputs, rest, kwargs):
        """Compute on arrays right away with the NumPy interpreter (like Keras's eager mode)."""
        return call_eagerly(self, inputs, rest, kwargs)

    def add_update(self, variable, value) -> None:
        """Record a state update (e.g. a moving average) made while training."""
        ctx = current_context()
        if ctx is not None and ctx.training:
            ctx.updates.append((variable, value))

    def add_loss(self, loss) -> None:
        """Add a graph value to the training loss: inside `call`, for the training graph being
        built; outside, a standing term (a node, or Keras 2's function of no arguments)."""
        if isinstance(loss, KerasTensor):
            raise TypeError(
                f"Layer '{self.name}'.add_loss got a KerasTensor outside call; add a "
                f"functional model's symbolic losses with model.add_loss (at {user_site()})"
            )
        ctx = current_context()
        if ctx is None:
            self._added_losses.append(loss)
        elif ctx.training or ctx.eager:
            ctx.losses.append(loss)

    # ---- introspection --------------------------------------------------------------------

    def _single_call(self, what):
        if not self._inbound_calls:
            raise AttributeError(f"Layer '{self.name}' has never been called, so it has no {what}")
        if len(self._inbound_calls) > 1:
            raise AttributeError(
                f"Layer '{self.name}' has been called {len(self._inbound_calls)} "
                f"times; its {what} is ambiguous"
            )
        return self._inbound_calls[0]

    @property
    def input(self):
        return self._single_call("input").inputs

    @property
    def output(self):
        outs = self._single_call("output").outputs
        return outs[0] if len(outs) == 1 else outs

    @property
    def input_shape(self):
        return shape_of(self.input)

    @property
    def output_shape(self):
        return shape_of(self.output)

    # ---- config ------------------------------------------------------------------------------

    def get_config(self) -> dict:
        policy = self.dtype_policy
        dtype = policy.name if policy.name in mixed_precision.MIXED else self.dtype
        config = {"name": self.name, "trainable": self.trainable, "dtype": dtype}
        if type(self).get_config is Layer.get_config:
            config = {**auto_config(self), **config}
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        return config

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"

