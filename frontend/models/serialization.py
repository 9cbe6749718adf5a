"""Model configs (JSON-able dicts) and rebuilding models from them.

A functional config lists each layer's class and config with its inbound calls (which
layer, call index and output each input came from), as Keras does, plus the model's input
and output tensors. Deserialization never runs code, except a Lambda layer's function, which
loads only outside safe mode.
"""

from __future__ import annotations

import inspect

from frontend.layers import deserialize, serialize
from frontend.layers.core import InputLayer
from frontend.layers.registry import config_location
from frontend.layers.tensor import KerasTensor, flatten, map_structure


def tensor_ref(t: KerasTensor) -> list:
    layer, call_index, tensor_index = t.history
    return [layer.name, call_index, tensor_index]


def functional_config(model) -> dict:
    graph = model._require_graph()
    layers = []
    for layer in graph.layers:
        entry = serialize(layer)
        entry["name"] = layer.name
        entry["inbound_nodes"] = [
            {"args": map_structure(tensor_ref, rec.inputs), "kwargs": rec.kwargs}
            for rec in graph.records
            if rec.layer is layer and not isinstance(layer, InputLayer)
        ]
        layers.append(entry)
    refs = lambda s: map_structure(tensor_ref, s)  # noqa: E731
    return {
        "name": model.name,
        "trainable": model.trainable,
        "layers": layers,
        "input_layers": refs(graph.inputs),
        "output_layers": refs(graph.outputs),
    }


def functional_from_config(config: dict, custom_objects, model_cls):
    """The functional Model a `functional_config` describes: its layers created from their
    configs, then called on each other's outputs as recorded."""
    created = _create_layers(config, custom_objects)
    tensor_at = _replay_calls(config, created)
    inputs = _map_refs(tensor_at, _as_refs(config["input_layers"]))
    outputs = _map_refs(tensor_at, _as_refs(config["output_layers"]))
    return model_cls(
        inputs=inputs,
        outputs=outputs,
        name=config.get("name"),
        trainable=config.get("trainable", True),
    )


def _create_layers(config: dict, custom_objects) -> dict:
    """layer name -> (layer, its recorded inbound calls); no layer is called yet."""
    created = {}
    for entry in config["layers"]:
        layer = deserialize(entry, custom_objects)
        created[entry.get("name", layer.name)] = (layer, entry.get("inbound_nodes", []))
    return created


def _replay_calls(config: dict, created: dict):
    """Call every layer on its recorded inputs, each call once all its inputs exist (a
    layer may be called several times: calls replay in their recorded order). Returns the
    function from a [layer name, call index, tensor index] reference to its KerasTensor."""
    outputs_of = {}  # layer name -> list of output structures, one per replayed call

    def tensor_at(ref):
        name, call_index, tensor_index = ref
        layer = created[name][0]
        if isinstance(layer, InputLayer):
            return layer.output
        return flatten(outputs_of[name][call_index])[tensor_index]

    pending = [
        (name, i, call) for name, (_, calls) in created.items() for i, call in enumerate(calls)
    ]
    while pending:
        progressed = []
        for name, i, call in pending:
            if len(outputs_of.get(name, [])) != i or not _ready(call["args"], created, outputs_of):
                continue
            args = _map_refs(tensor_at, _as_refs(call["args"]))
            layer = created[name][0]
            with config_location(f"layer {name!r} ({type(layer).__name__}), call {i}"):
                outputs_of.setdefault(name, []).append(layer(args, **call.get("kwargs", {})))
            progressed.append((name, i))
        if not progressed:
            raise ValueError(
                f"Cannot rebuild model '{config.get('name')}': its layer graph "
                f"references layers that are missing from the config"
            )
        done = set(progressed)
        pending = [p for p in pending if (p[0], p[1]) not in done]
    return tensor_at


class _Ref(tuple):
    """A [layer name, call index, tensor index] reference (kept apart from lists of refs)."""


def _is_ref(value) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 3
        and isinstance(value[0], str)
        and isinstance(value[1], int)
        and isinstance(value[2], int)
    )


def _as_refs(structure):
    if _is_ref(structure):
        return _Ref(structure)
    if isinstance(structure, list):
        return [_as_refs(s) for s in structure]
    if isinstance(structure, dict):
        return {k: _as_refs(v) for k, v in structure.items()}
    return structure


def _ready(args, created, outputs_of) -> bool:
    for name, call_index, _ in _flat_refs(_as_refs(args)):
        if name not in created:
            raise ValueError(f"The model config refers to an unknown layer {name!r}")
        if (
            not isinstance(created[name][0], InputLayer)
            and len(outputs_of.get(name, [])) <= call_index
        ):
            return False
    return True


def _map_refs(fn, structure):
    if isinstance(structure, _Ref):
        return fn(structure)
    if isinstance(structure, list):
        return [_map_refs(fn, s) for s in structure]
    if isinstance(structure, dict):
        return {k: _map_refs(fn, v) for k, v in structure.items()}
    return structure


def _flat_refs(structure):
    if isinstance(structure, _Ref):
        return [structure]
    if isinstance(structure, list):
        return [r for s in structure for r in _flat_refs(s)]
    if isinstance(structure, dict):
        return [r for s in structure.values() for r in _flat_refs(s)]
    return []


def is_functional_config(config: dict) -> bool:
    return "layers" in config and "input_layers" in config


def subclass_from_config(cls, config: dict):
    """A subclassed model from its config: `cls(**config)`, leaving out the base keys
    (name, trainable) that its `__init__` does not take, and setting them afterwards."""
    params = inspect.signature(cls.__init__).parameters
    takes_any = any(p.kind == p.VAR_KEYWORD for p in params.values())
    base = {k: config[k] for k in ("name", "trainable") if k in config}
    arguments = {
        k: v for k, v in config.items() if takes_any or k in params or k not in base
    }
    try:
        model = cls(**arguments)
    except TypeError as err:
        raise TypeError(
            f"Unable to revive model {cls.__name__} from its config {sorted(config)}: {err}. "
            f"When a model's __init__ takes arguments, its get_config() must return them "
            f"(and from_config must accept what get_config returns)"
        ) from None
    for key, value in base.items():
        if key not in arguments:
            setattr(model, key, value)
    return model


def model_to_dict(model) -> dict:
    class_name = type(model).__name__
    if class_name == "Model":
        class_name = "Functional"
    spec = {"class_name": class_name, "config": model.get_config(), "module": "frontend"}
    build_config = model.get_build_config()
    if build_config is not None:
        spec["build_config"] = build_config
    return spec
