"""Keras 3 `config.json` to graphc's model config and back.

Keras 3 writes every object as {module, class_name, config, registered_name} (plus
shared_object_id for shared ones), dtypes as DTypePolicy objects, and a functional layer's
inputs as `__keras_tensor__` objects holding their keras_history [layer, call, output].
graphc's configs are Keras's without those wrappers. Options that Keras 3 has and graphc
lacks load only at the value that means graphc's behaviour; any other value is an error
naming the layer, the option and the value, never a silent change of the model.
"""

from __future__ import annotations

import inspect

from frontend.compat import signature_names
from frontend.layers.base import Layer
from frontend.layers.registry import BASE_KWARGS, LAYERS
from frontend.models.keras_format_masks import drop_mask_ops, keras_op_names

# Keras 3 options graphc's layers and initializers lack -> the values that mean what graphc does.
KERAS_ONLY_OPTIONS = {
    "ragged": (False,),
    "optional": (False,),
    "quantization_config": (None,),
    "synchronized": (False,),
    "use_gate": (False,),
    "input_axes": (None,),
    "output_axes": (None,),
    "lora_rank": (None,),
    "lora_alpha": (None,),
    "flash_attention": (None,),
    "sliding_window": (None,),
    "loss_scale_factor": (None,),
    "ignore_class": (None,),  # SparseCategoricalCrossentropy's; Keras writes it always
    "renorm": (False,),
    "renorm_clipping": (None,),
    "renorm_momentum": (0.99,),  # Keras's default; used only with renorm
    "zero_output_for_mask": (False, True),  # graphc's masked steps: see test_keras_files
}
WRAPPER_KEYS = ("module", "registered_name", "shared_object_id")
DTYPE_POLICIES = ("DTypePolicy", "FloatDTypePolicy")
MODEL_CLASSES = ("Sequential", "Functional", "Model")
MODEL_MODULES = {"Sequential": "keras", "Functional": "keras.src.models.functional"}
ONE_PAIR_OPTIONS = {"ZeroPadding1D": ("padding",), "Cropping1D": ("cropping",)}
KERAS_3_NAMES = {"Deconvolution2D": "Conv2DTranspose"}  # graphc's Keras 1/2 classes Keras 3 lacks
NOT_IN_KERAS = {"SpatialDropout1D": ("trainable",), "SpatialDropout2D": ("trainable",)}


class KerasConfigError(ValueError):
    """A Keras 3 config graphc cannot rebuild faithfully (the message says what and where)."""


def from_keras(spec, where: str):
    """graphc's form of the Keras 3 object `spec` (a model, layer, initializer, ...)."""
    if isinstance(spec, list):
        return [from_keras(item, where) for item in spec]
    if not isinstance(spec, dict):
        return spec
    class_name = spec.get("class_name")
    if class_name in DTYPE_POLICIES:
        return spec.get("config", {}).get("name")
    if class_name == "__keras_tensor__":
        return list(spec["config"]["keras_history"])
    if class_name == "__lambda__":
        raise KerasConfigError(
            f"{where}: a Lambda function saved by Keras (Python bytecode calling Keras ops); "
            f"graphc never runs code from a file. Rebuild the Lambda in graphc instead"
        )
    out = {k: from_keras(v, where) for k, v in spec.items() if k not in WRAPPER_KEYS}
    if isinstance(out.get("config"), dict) and class_name:
        out["config"] = drop_keras_only(class_name, out["config"], where)
        if class_name in MODEL_CLASSES and "layers" in out["config"]:
            ops = keras_op_names(spec["config"]["layers"])
            out["config"] = model_config_from_keras(drop_mask_ops(out["config"], ops, where))
    return out


def accepted_options(class_name: str) -> set | None:
    """The keywords graphc's layer `class_name` takes (None: not a graphc layer)."""
    cls = LAYERS.get(class_name)
    if not (isinstance(cls, type) and issubclass(cls, Layer)) or class_name in MODEL_CLASSES:
        return None
    return BASE_KWARGS | signature_names(cls.__init__, Layer.__init__) | {"name", "dtype"}


def drop_keras_only(class_name: str, config: dict, where: str) -> dict:
    accepted = accepted_options(class_name)
    kept = {}
    for key, value in config.items():
        if key not in KERAS_ONLY_OPTIONS or (accepted is not None and key in accepted):
            kept[key] = value
        elif value not in KERAS_ONLY_OPTIONS[key]:
            raise KerasConfigError(
                f"{where}: {class_name} {config.get('name', '')!r} sets the Keras 3 option "
                f"{key}={value!r}, which graphc does not have (it loads only "
                f"{key}={KERAS_ONLY_OPTIONS[key][0]!r})"
            )
    return kept


def model_config_from_keras(config: dict) -> dict:
    """A functional model's inbound calls in graphc's form; Sequential configs pass as they are."""
    config.pop("build_input_shape", None)  # graphc reads the InputLayer (or build_config)
    for layer in config["layers"]:
        if "inbound_nodes" in layer:
            cls = LAYERS.get(layer["class_name"])
            layer["inbound_nodes"] = [call_from_keras(call, cls) for call in layer["inbound_nodes"]]
    return config


def call_from_keras(call, cls) -> dict:
    """Keras records a call's positional arguments; graphc records its first argument (several
    tensor arguments, as MultiHeadAttention's, become one dict by parameter name)."""
    if isinstance(call, list):  # Keras 2: [[layer, call, output, kwargs], ...] per call
        refs = [list(entry[:3]) for entry in call]
        kwargs = call[0][3] if call and len(call[0]) > 3 else {}
        return {"args": refs[0] if len(refs) == 1 else refs, "kwargs": kwargs}
    args = list(call.get("args", []))
    kwargs = {k: v for k, v in call.get("kwargs", {}).items() if v is not None}  # None: default
    if len(args) == 1 or cls is None:  # an unknown class fails later, by its name
        return {"args": args[0] if len(args) == 1 else args, "kwargs": kwargs}
    names = call_parameters(cls)
    packed = dict(zip(names, args))
    for name in names[len(args) :]:
        if isinstance(kwargs.get(name), list):  # a tensor passed by keyword (e.g. key=)
            packed[name] = kwargs.pop(name)
    return {"args": packed, "kwargs": kwargs}


def call_parameters(cls) -> list:
    """The names of the tensor arguments a layer's __call__ takes, in order."""
    params = inspect.signature(cls.__call__).parameters.values()
    return [p.name for p in params if p.name != "self" and p.kind == p.POSITIONAL_OR_KEYWORD]


def to_keras(spec, tensors: dict, module: str = "keras.layers"):
    """The Keras 3 form of graphc's object `spec`; `tensors` maps a functional model's
    [layer, call, output] references to their (shape, dtype)."""
    if isinstance(spec, list):
        return [to_keras(item, tensors, module) for item in spec]
    if not isinstance(spec, dict):
        return spec
    if "class_name" not in spec or not isinstance(spec.get("config"), dict):
        return {k: to_keras(v, tensors, module_of(k, module)) for k, v in spec.items()}
    class_name = KERAS_3_NAMES.get(spec["class_name"], spec["class_name"])
    config = {k: to_keras(v, tensors, module_of(k, module)) for k, v in spec["config"].items()}
    if class_name in MODEL_CLASSES and "layers" in config:
        config["layers"] = [layer_to_keras(layer, tensors) for layer in spec["config"]["layers"]]
    for key in ONE_PAIR_OPTIONS.get(class_name, ()):
        if isinstance(config.get(key), list) and len(config[key]) == 1:
            config[key] = config[key][0]  # graphc keeps [(before, after)], Keras (before, after)
    for key in NOT_IN_KERAS.get(class_name, ()):  # Keras's __init__ does not take it
        config.pop(key, None)
    out = {"module": MODEL_MODULES.get(class_name, module), "class_name": class_name}
    registered = "Functional" if class_name == "Functional" else None
    out.update({"config": config, "registered_name": registered})
    if "build_config" in spec:
        out["build_config"] = spec["build_config"]
    return out


def module_of(key: str, parent: str) -> str:
    """The Keras module of the object stored under config key `key`."""
    for suffix, module in (
        ("initializer", "keras.initializers"),
        ("regularizer", "keras.regularizers"),
        ("constraint", "keras.constraints"),
    ):
        if key.endswith(suffix):
            return module
    return "keras.layers" if key in ("layer", "backward_layer", "cell", "cells") else parent


def layer_to_keras(entry: dict, tensors: dict) -> dict:
    out = to_keras({k: v for k, v in entry.items() if k != "inbound_nodes"}, tensors)
    if "inbound_nodes" in entry:  # a functional model's layer
        out["name"] = entry.get("name", entry["config"].get("name"))
        out["inbound_nodes"] = [call_to_keras(call, tensors) for call in entry["inbound_nodes"]]
    return out


def call_to_keras(call: dict, tensors: dict) -> dict:
    args, kwargs = call["args"], dict(call.get("kwargs", {}))
    if isinstance(args, dict):  # several tensor arguments: the first two go by position
        names = list(args)
        positional = [args[n] for n in names[:2]]
        kwargs.update({n: args[n] for n in names[2:]})
    else:
        positional = [args]
    return {
        "args": keras_tensors(positional, tensors),
        "kwargs": keras_tensors(kwargs, tensors),
    }


def is_reference(value) -> bool:
    """A [layer name, call index, output index] reference."""
    kinds = (str, int, int)
    return isinstance(value, list) and len(value) == 3 and all(map(isinstance, value, kinds))


def keras_tensors(structure, tensors: dict):
    """References replaced by Keras 3's `__keras_tensor__` objects."""
    if is_reference(structure) and tuple(structure) in tensors:
        shape, dtype = tensors[tuple(structure)]
        history = {"shape": list(shape), "dtype": dtype, "keras_history": list(structure)}
        return {"class_name": "__keras_tensor__", "config": history}
    if isinstance(structure, list):
        return [keras_tensors(item, tensors) for item in structure]
    if isinstance(structure, dict):
        return {k: keras_tensors(v, tensors) for k, v in structure.items()}
    return structure
