"""`Model`: a functional model `Model(inputs, outputs)` (several inputs and outputs allowed),
or a base class to subclass with your own `call`. A Model is a Layer, so models nest."""

from __future__ import annotations

import json

import numpy as np

import graphc as gc
from frontend import backend
from frontend.compat import refuse_unsupported, reject_unknown
from frontend.layers.base import Layer
from frontend.layers.tensor import call_context, current_context, flatten
from frontend.layers.tracking import auto_config
from frontend.models.custom_step import arrange_inputs, call_user_step
from frontend.models.exporting import export_model
from frontend.models.functional import FunctionalGraph
from frontend.models.input_spec import InputSpec
from frontend.models.saving import load_weights, save_model, save_weights
from frontend.models.serialization import (
    functional_config,
    functional_from_config,
    is_functional_config,
    model_to_dict,
    subclass_from_config,
)
from frontend.models.step_methods import StepMethods
from frontend.models.summary import layer_records, print_summary
from frontend.models.training import Trainer
from frontend.quantizers.model import calibrate, quantize_model
from frontend.step_trace import tracing


class Model(StepMethods, Trainer, Layer):
    """A trainable graph of layers.

    Example:
        inputs = Input(shape=(784,))
        outputs = Dense(10, activation="softmax")(Dense(64, activation="relu")(inputs))
        model = Model(inputs=inputs, outputs=outputs)
    """

    def __init__(self, *args, **kwargs):
        names = ["inputs", "outputs"]
        for name, value in zip(names, args):
            if name in kwargs:
                raise TypeError(f"Model got `{name}` twice")
            kwargs[name] = value
        reject_unknown(kwargs, {"inputs", "outputs", "name", "trainable", "dtype"}, "Model")
        inputs, outputs = kwargs.pop("inputs", None), kwargs.pop("outputs", None)
        if (inputs is None) != (outputs is None):
            raise ValueError(
                "Model needs both `inputs` and `outputs` (or neither, when "
                "subclassing Model with a `call` method)"
            )
        default = "functional" if inputs is not None else backend.to_snake_case(type(self).__name__)
        kwargs["name"] = kwargs.get("name") or backend.unique_name(default)
        Layer.__init__(self, **kwargs)
        self._graph, self._predict_functions, self.history = None, {}, None
        self._input_spec = None  # a subclassed model's inputs, once known
        if inputs is not None:
            self._set_graph(inputs, outputs)

    def _set_graph(self, inputs, outputs) -> None:
        self._graph = FunctionalGraph(inputs, outputs, self.name)
        self._predict_functions, self._steps = {}, None
        self.built = True

    # ---- structure ------------------------------------------------------------------------------

    @property
    def built_graph(self) -> bool:
        return self._graph is not None or self._known_input_spec() is not None

    def _require_graph(self):
        if self._graph is None:
            raise ValueError(
                f"Model '{self.name}' has not been built yet: give its first layer "
                f"an input shape (e.g. Input(shape=(784,))) or call fit/predict on "
                f"data first"
            )
        return self._graph

    @property
    def layers(self) -> list:
        if self._graph is not None:
            return list(self._graph.layers)
        return list(self._tracked_layers)

    def _sublayers(self) -> list:
        layers = self.layers if self._graph is not None else []
        return layers + [t for t in self._tracked_layers if all(t is not s for s in layers)]

    def get_layer(self, name=None, index=None):
        """A layer by name or by index in `model.layers`."""
        if index is not None:
            if not -len(self.layers) <= index < len(self.layers):
                raise ValueError(
                    f"Model '{self.name}' has {len(self.layers)} layers; index "
                    f"{index} is out of range"
                )
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        names = [layer.name for layer in self.layers]
        raise ValueError(f"No such layer: {name!r}. Existing layers are: {names}")

    @property
    def inputs(self):
        return list(self._require_graph().flat_inputs)

    @property
    def outputs(self):
        return list(self._require_graph().flat_outputs)

    @property
    def input(self):
        flat = self.inputs
        return flat[0] if len(flat) == 1 else flat

    @property
    def output(self):
        flat = self.outputs
        return flat[0] if len(flat) == 1 else flat

    @property
    def input_names(self) -> list[str]:
        if self._graph is None:
            return list(self._subclass_spec().names)
        if isinstance(self._graph.inputs, dict):
            return list(self._graph.inputs)
        return [t.history[0].name for t in self._graph.flat_inputs]

    @property
    def _has_call(self) -> bool:
        """False for a subclass with only a train_step (keras.io's VAE): no outputs of its own."""
        return self._graph is not None or type(self).call is not Model.call

    @property
    def output_names(self) -> list[str]:
        if not self._has_call:
            return []
        if self._graph is None:
            result = self._subclass_result()
            if isinstance(result, dict):
                return [str(k) for k in result]
            outs = flatten(result)
            return ["output"] if len(outs) == 1 else [f"output_{i}" for i in range(len(outs))]
        if isinstance(self._graph.outputs, dict):
            return list(self._graph.outputs)
        return [t.history[0].name for t in self._graph.flat_outputs]

    @property
    def input_shapes(self) -> list[tuple]:
        if self._graph is None:
            return list(self._subclass_spec().shapes)
        return [tuple(t.shape) for t in self._graph.flat_inputs]

    @property
    def input_dtypes(self) -> list[str]:
        if self._graph is None:
            return list(self._subclass_spec().dtypes)
        return [t.dtype for t in self._graph.flat_inputs]

    @property
    def output_shapes(self) -> list[tuple]:
        if not self._has_call:
            return []
        if self._graph is None:
            return [tuple(o.shape) for o in flatten(self._subclass_result())]
        return [tuple(t.shape) for t in self._graph.flat_outputs]

    # ---- running --------------------------------------------------------------------------------

    def call(self, inputs, training=False):
        if self._graph is None:
            raise NotImplementedError(
                f"Model '{self.name}' has no graph: build it with "
                f"Model(inputs, outputs) or subclass Model and define call()"
            )
        outs = self._run_graph(flatten(inputs), training)
        graph_outputs = self._graph.outputs
        if isinstance(graph_outputs, dict):
            return dict(zip(graph_outputs, outs))
        return outs if isinstance(graph_outputs, (list, tuple)) else outs[0]

    def forward(self, input_nodes: list, training: bool) -> list:
        """The flat list of output nodes for graphc input nodes (in input order)."""
        if self._graph is not None:
            return self._run_graph(input_nodes, training)
        arg = self._subclass_spec().arrange(list(input_nodes))
        return flatten(self._call_graph(arg, (), {"training": training}))

    def _run_graph(self, input_nodes: list, training: bool) -> list:
        """The functional graph's outputs; tensors given to add_loss are computed alongside
        and added to the losses of the training or test graph being built."""
        if not self._symbolic_losses:
            return self._graph.run(input_nodes, training)
        outputs = self._graph.flat_outputs
        extended = FunctionalGraph(self._graph.inputs, outputs + self._symbolic_losses, self.name)
        nodes = extended.run(input_nodes, training)
        ctx = current_context()
        if ctx is not None:
            ctx.losses.extend(gc.mean(n) if n.shape else n for n in nodes[len(outputs):])
        return nodes[: len(outputs)]

    def _targets(self, y, method):
        # fit(x) alone: a custom step, or losses added with add_loss, need no targets
        custom = self._custom_step("train") or self._custom_step("test")
        if y is None and (custom or not self._has_compiled_loss()):
            return []
        return Trainer._targets(self, y, method)

    def _has_compiled_loss(self) -> bool:
        return any(loss is not None for loss in self._step_functions().output_losses)

    def make_predict_function(self, backend_name: str):
        """A compiled function from the inputs to the outputs (inference mode), cached."""
        if backend_name not in self._predict_functions:
            xs = [
                gc.placeholder(shape, dtype, name=name)
                for name, shape, dtype in zip(
                    self.input_names, self.input_shapes, self.input_dtypes
                )
            ]
            with call_context(training=False) as context:  # stateful RNNs update states
                outputs = self._predict_outputs(xs)
            self._predict_functions[backend_name] = gc.function(
                xs, list(outputs), updates=context.updates, backend=backend_name,
                name=f"{self.name}_predict",
            )
        return self._predict_functions[backend_name]

    def _predict_outputs(self, xs: list) -> list:
        step = self._custom_step("predict")
        if step is None:
            return self.forward(xs, training=False)
        with tracing(self, "predict"):  # inside make_predict_function's call context
            return flatten(call_user_step(step, arrange_inputs(self, xs), "predict"))

    def _inputs(self, x, method):
        # a subclassed model first given several arrays learns all their shapes
        if type(self).call is not Model.call and not self.built_graph and is_several_arrays(x):
            arrays = list(x.values()) if isinstance(x, dict) else list(x)
            specs = [((None,) + a.shape[1:], input_dtype(a)) for a in arrays]
            shapes = dict(zip(x, (s for s, _ in specs))) if isinstance(x, dict) else [
                s for s, _ in specs
            ]
            self._input_spec = InputSpec.of_shapes(shapes, None)
            self._input_spec.dtypes = [d for _, d in specs]
            self.build()
        return Trainer._inputs(self, x, method)

    def build_from_data(self, x) -> None:
        """Build a model whose input shape was not given, from the first data it sees."""
        self.build((None,) + tuple(x.shape[1:]), input_dtype(x))

    def build(self, input_shape=None, dtype=None):
        """Create the weights for inputs of `input_shape` (batch dimension None; a list or
        dict of shapes for several inputs) by tracing `call` once."""
        if self._graph is not None:
            return
        if self._input_spec is None:
            if input_shape is None:
                raise ValueError(f"Model '{self.name}': build() needs an input_shape")
            dtype = gc.ir.normalize_dtype(dtype or backend.floatx())
            self._input_spec = InputSpec.of_shapes(input_shape, dtype)
        self.built = True  # first: the trace calls the model, which must not build it again
        if self._has_call:  # keras.io's VAE has only a train_step: nothing to trace
            self._subclass_result()

    def build_from_config(self, config: dict) -> None:
        """Build a subclassed model as `get_build_config()` describes (used by load_model)."""
        self._input_spec = InputSpec.from_config(config)
        self.build()

    def get_build_config(self):
        """The inputs a built subclassed model takes (None for a functional model)."""
        if self._graph is not None or self._input_spec is None:
            return None
        return self._input_spec.to_config()

    def _maybe_build(self, inputs) -> None:
        # A subclassed model learns its inputs from the first call (Keras's deferred build).
        if self._graph is None and self._input_spec is None:
            self._input_spec = InputSpec.of_nodes(inputs)
        Layer._maybe_build(self, inputs)

    def _known_input_spec(self) -> InputSpec | None:
        # a build(input_shape) of the user's own that did not call super() still tells it
        shape = getattr(self, "_build_input_shape", None)
        if self._input_spec is None and self._graph is None and self.built and shape:
            self._input_spec = InputSpec.of_shapes(shape, backend.floatx())
        return self._input_spec

    def _subclass_spec(self) -> InputSpec:
        if self._known_input_spec() is None:
            self._require_graph()
        return self._input_spec

    def _subclass_result(self):
        """The outputs of `call` traced once on placeholders (inference mode), cached."""
        if getattr(self, "_traced_result", None) is None:
            spec = self._subclass_spec()
            self.built = True
            with call_context(training=False):
                arg = spec.arrange(spec.placeholders())
                self._traced_result = self._call_graph(arg, (), {"training": False})
        return self._traced_result

    def quantize(self, mode, **kwargs):
        """Keras 3: quantize every layer with an int8 path in place (frontend/quantizers); the
        others stay float32, named in a warning."""
        quantize_model(self, mode)

    def calibrate(self, x, batch_size=256) -> dict:
        """After quantize: static input scales from the data `x` (frontend.quantizers)."""
        return calibrate(self, x, batch_size)

    # ---- description -------------------------------------------------------------------------

    def summary(
        self,
        line_length=None,
        positions=None,
        print_fn=None,
        expand_nested=False,
        show_trainable=False,
        layer_range=None,
    ):
        """Print Keras's table of layers, output shapes and parameter counts.

        Args:
            line_length, positions: the table's width and column stops (Keras defaults).
            print_fn: called with each line instead of print.
            expand_nested, show_trainable, layer_range: Keras options graphc does not draw;
                anything but their defaults raises ValueError.
        Example: `model.summary(print_fn=lines.append)`
        """
        refuse_unsupported(
            "summary",
            expand_nested=expand_nested,
            show_trainable=show_trainable,
            layer_range=layer_range,
        )

        print_summary(self, line_length, positions, print_fn)

    def layer_records(self) -> list[dict]:
        """One dict per layer (name, type, shapes, dtype, params, trainable, activation,
        inbound layer names): what `frontend.utils.plot_model` draws."""
        return layer_records(self)

    def get_config(self) -> dict:
        if self._graph is not None or type(self) is Model:
            return functional_config(self)
        config = {"name": self.name, "trainable": self.trainable}
        if type(self).get_config is Model.get_config:  # Keras 3: automatic for plain arguments
            config = {**auto_config(self), **config}
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        if cls is not Model and not is_functional_config(config):
            return subclass_from_config(cls, config)
        # A Sequential reads a functional config as a plain functional Model.
        model_cls = Model if cls.__name__ == "Sequential" else cls
        return functional_from_config(config, custom_objects, model_cls)

    def to_json(self, **kwargs) -> str:
        return json.dumps(model_to_dict(self), **kwargs)

    def save(self, filepath, overwrite=True, include_optimizer=True, **kwargs):
        """Save architecture, weights, compile settings and optimizer state to one zip file.

        Args:
            filepath: the file to write ('.keras' or '.zip' is usual; it is always graphc's
                zip format, written to a temporary file and renamed).
            overwrite: replace an existing file (else FileExistsError).
            include_optimizer: also keep the optimizer's state, so training resumes exactly.
            save_format: accepted for Keras 2 code. format: None (graphc's zip) or "keras3".
        Example: `model.save("mnist_mlp.keras")`, then `load_model("mnist_mlp.keras")`
        """
        reject_unknown(kwargs, {"save_format", "format"}, "save")
        save_model(self, filepath, overwrite, include_optimizer, format=kwargs.get("format"))

    def export(self, filepath, format="so", verbose=True, **kwargs):  # noqa: A002 - Keras's
        """Write the model for use without graphc (Keras 3's export; models/exporting.py)."""
        return export_model(self, filepath, format, verbose, **kwargs)

    def save_weights(self, filepath, overwrite=True):
        """Save the weights (in `model.weights` order) to an .npz archive."""
        save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath, skip_mismatch=False):
        """Weights from `save_weights` output or from a whole saved model (`model.save`);
        every weight's shape must match (`skip_mismatch=True` is not supported)."""
        refuse_unsupported("load_weights", skip_mismatch=skip_mismatch)
        load_weights(self, filepath)


def input_dtype(array) -> str:
    """The input dtype for data: int32 for integer arrays (token ids), else floatx."""
    return "int32" if array.dtype.kind in "iu" else backend.floatx()


def is_several_arrays(x) -> bool:
    items = list(x.values()) if isinstance(x, dict) else x
    return (
        isinstance(x, (list, tuple, dict))
        and len(items) > 1
        and all(isinstance(a, np.ndarray) and a.ndim >= 1 for a in items)
    )
