"""The ops Keras 3 records for a functional model's masks, read as the masks graphc propagates.

Keras 3 computes Embedding(mask_zero=True)'s mask as `not_equal(tokens, 0)` and Masking's as
`any(not_equal(x, mask_value), axis=-1)`; a functional model records these ops as layers (module
keras.src.ops.*) and hands their output to the next layers as `mask=`. graphc propagates the
same masks by Keras's rules (frontend/layers/masks.py), so when the recorded ops are exactly
that computation, they and the `mask=` arguments they feed are dropped. Any other recorded
Keras op is an error naming it.
"""

from __future__ import annotations

from frontend.models.archive import FileFormatError

KERAS_OPS_MODULE = "keras.src.ops"
MASK_OPS = ("NotEqual", "Any")  # legacy .h5 configs name no modules: known by class


def is_keras_op(spec) -> bool:
    """A raw Keras layer config that is a recorded Keras op, not a layer."""
    if not isinstance(spec, dict):
        return False
    if "module" not in spec:
        return spec.get("class_name") in MASK_OPS
    return str(spec["module"]).startswith(KERAS_OPS_MODULE)


def keras_op_names(raw_layers: list) -> set:
    """The names of a functional config's layers that are recorded Keras ops."""
    return {layer.get("name") for layer in raw_layers if is_keras_op(layer)}


def only_call(layer: dict):
    """The layer's one Keras 3 call ({"args", "kwargs"}), or None."""
    calls = layer.get("inbound_nodes") or []
    return calls[0] if len(calls) == 1 and isinstance(calls[0], dict) else None


def ref_key(value):
    return tuple(value) if isinstance(value, list) and len(value) == 3 else None


def masked_inputs(layers: list) -> dict:
    """{(input reference, compared value): kind} of the Embedding(mask_zero) and Masking calls."""
    found = {}
    for layer in layers:
        config, call = layer.get("config", {}), only_call(layer)
        if call is None or len(call.get("args", [])) != 1 or ref_key(call["args"][0]) is None:
            continue
        source = ref_key(call["args"][0])
        if layer["class_name"] == "Embedding" and config.get("mask_zero"):
            found[(source, 0)] = "Embedding"
        elif layer["class_name"] == "Masking":
            found[(source, config.get("mask_value", 0.0))] = "Masking"
    return found


def classify_op(layer: dict, sources: dict, kinds: dict):
    """'mask' (its output is a layer's mask), 'masking_compare' (Masking's NotEqual, fed to
    an Any) or None (not Keras's mask computation)."""
    call = only_call(layer)
    if call is None or call.get("kwargs"):
        return None
    args = call.get("args", [])
    if layer["class_name"] == "NotEqual" and len(args) == 2 and ref_key(args[0]) is not None:
        kind = next(
            (
                k
                for (ref, v), k in sources.items()
                if ref == ref_key(args[0]) and v == args[1] and not isinstance(args[1], bool)
            ),
            None,
        )
        return {"Embedding": "mask", "Masking": "masking_compare"}.get(kind)
    config = layer.get("config", {})
    if layer["class_name"] == "Any" and len(args) == 1 and ref_key(args[0]) is not None:
        compared = kinds.get(args[0][0]) == "masking_compare"
        if compared and config.get("axis") == -1 and not config.get("keepdims"):
            return "mask"
    return None


def mask_op_kinds(layers: list, op_names: set) -> dict:
    """{op layer name: kind} of the recorded ops that are Keras's mask computation."""
    sources, kinds = masked_inputs(layers), {}
    for layer in layers:  # a functional config lists a layer after the layers it calls
        if layer.get("name") in op_names:
            kinds[layer["name"]] = classify_op(layer, sources, kinds)
    return kinds


def drop_mask_ops(config: dict, op_names: set, where: str) -> dict:
    """`config` (a functional model's, inbound calls in Keras 3's form) without Keras's
    recorded mask ops and the `mask=` arguments they feed (see the module docstring)."""
    if not op_names:
        return config
    kinds = mask_op_kinds(config["layers"], op_names)
    strange = [name for name in op_names if not kinds.get(name)]
    if strange:
        raise FileFormatError(
            f"{where}: the functional model records the Keras ops {sorted(strange)} as layers; "
            f"graphc reads recorded ops only as the mask computation of "
            f"Embedding(mask_zero=True) or Masking"
        )
    kept = [layer for layer in config["layers"] if layer.get("name") not in op_names]
    for layer in kept:
        for call in layer.get("inbound_nodes") or []:
            drop_mask_argument(call, kinds)
    used = [name for name in op_names if references(config.get("output_layers"), name)]
    refuse_other_uses(kept, op_names, used, where)
    return {**config, "layers": kept}


def drop_mask_argument(call, kinds: dict) -> None:
    """Remove `mask=` from a call when a dropped mask op computes it."""
    kwargs = call.get("kwargs") if isinstance(call, dict) else None
    mask = ref_key((kwargs or {}).get("mask"))
    if mask is not None and kinds.get(mask[0]) == "mask":
        del kwargs["mask"]


def refuse_other_uses(layers: list, op_names: set, used: list, where: str) -> None:
    """A mask op's output used other than as `mask=` would be lost with the op."""
    for layer in layers:
        used += [name for name in op_names if references(layer.get("inbound_nodes"), name)]
    if used:
        raise FileFormatError(
            f"{where}: the outputs of the Keras mask ops {sorted(set(used))} are used as "
            f"values, not only as layers' masks; graphc cannot rebuild that model"
        )


def references(structure, name: str) -> bool:
    if ref_key(structure) is not None and structure[0] == name:
        return True
    if isinstance(structure, list):
        return any(references(item, name) for item in structure)
    if isinstance(structure, dict):
        return any(references(value, name) for value in structure.values())
    return False
