"""A saved model's config, checked before the model is rebuilt from it: the structure the
loader walks (a missing key, a list where a dict belongs) and each layer's arguments against
the types of their defaults. A hand-edited config fails with a ConfigError naming the file and
the key, e.g. `model.keras: config.json['config']['layers'][1]['config']['use_bias']: expected
a bool, found 'yes'`, not with a raw KeyError or TypeError from deep inside the loader."""

from __future__ import annotations

import contextlib
import inspect

from frontend.layers.base import Layer
from frontend.layers.registry import get_layer_class
from frontend.layers.stored_weights import StoredWeightMismatch
from frontend.models.archive import FileFormatError

# The JSON types a saved argument may have, by the type of the argument's default (None is
# always allowed: many arguments take it to mean "the default").
ALLOWED_BY_DEFAULT = {
    bool: (bool,),
    int: (int, list),  # an int, or one per dimension
    float: (int, float),
    str: (str, dict),  # a name, or a serialized object
    tuple: (list, int),
}
TYPE_NAMES = {
    bool: "a bool",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "a list",
    dict: "a dict (JSON object)",
}


# Arguments of saved metrics and losses that size the state they allocate, with the power of
# the argument that state grows by; the state may have at most MAX_STATE_ELEMENTS elements.
SIZE_ARGUMENTS = {"num_thresholds": 1, "num_classes": 2}
MAX_STATE_ELEMENTS = 10**6


class ConfigError(ValueError):
    """A saved config that does not describe a model (its message names the file and key)."""


@contextlib.contextmanager
def config_faults_named(where: str):
    """Errors that a checked config's values still cause (a layer refusing an argument's
    value, a shape that does not fit), as a ConfigError naming `where` and the layer."""
    try:
        yield
    except (StoredWeightMismatch, FileFormatError, ConfigError):
        raise  # these name the file already
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, ArithmeticError) as err:
        place = getattr(err, "config_location", None)
        raise ConfigError(
            f"{where}: {place + ': ' if place else ''}{type(err).__name__}: {err}"
        ) from err


def field(container: dict, key: str, types: tuple, at: str, required: bool = True):
    """container[key], checked to be one of `types` (bools are not numbers here)."""
    if key not in container:
        if required:
            raise ConfigError(f"{at}: the key {key!r} is missing")
        return None
    value = container[key]
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        expected = " or ".join(TYPE_NAMES.get(t, t.__name__) for t in types)
        raise ConfigError(f"{at}[{key!r}]: expected {expected}, found {short(value)}")
    return value


def short(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_saved_config(spec, at: str, custom_objects=None) -> None:
    """ConfigError unless `spec` (a parsed config.json; `at` names it) has the layout that
    `model.save` writes, with layer arguments of the right types."""
    if not isinstance(spec, dict):
        raise ConfigError(f"{at}: expected a dict (JSON object), found {short(spec)}")
    field(spec, "class_name", (str,), at)
    check_model_config(field(spec, "config", (dict,), at), f"{at}['config']", custom_objects)
    if spec.get("compile_config") is not None:  # None: saved uncompiled
        check_compile_config(field(spec, "compile_config", (dict,), at), f"{at}['compile_config']")


def check_compile_config(config: dict, at: str) -> None:
    optimizer = field(config, "optimizer", (str, dict), at)
    if isinstance(optimizer, dict):
        check_serialized_object(optimizer, f"{at}['optimizer']")
    field(config, "loss", (str, dict, list), at)
    for key in ("loss_weights", "metrics", "weighted_metrics"):
        if config.get(key) is not None:
            field(config, key, (list, dict), at)
    for key in ("loss", "metrics", "weighted_metrics"):
        check_state_sizes(config.get(key), f"{at}[{key!r}]")


def check_state_sizes(structure, at: str) -> None:
    """Each saved metric or loss in `structure` (nested lists and dicts) asks for at most
    MAX_STATE_ELEMENTS elements of state, so a hostile file cannot make loading allocate
    gigabytes (AUC(num_thresholds=10**9))."""
    if isinstance(structure, list):
        for i, value in enumerate(structure):
            check_state_sizes(value, f"{at}[{i}]")
    elif isinstance(structure, dict) and isinstance(structure.get("config"), dict):
        for key, power in SIZE_ARGUMENTS.items():
            check_state_size(structure["config"], key, power, f"{at}['config']")
    elif isinstance(structure, dict):
        for key, value in structure.items():
            check_state_sizes(value, f"{at}[{key!r}]")


def check_state_size(config: dict, key: str, power: int, at: str) -> None:
    size = field(config, key, (int,), at, required=False)
    if size is not None and (size < 1 or size ** power > MAX_STATE_ELEMENTS):
        raise ConfigError(f"{at}[{key!r}]: {size:,} asks for {size ** power:,} elements of "
                          f"state; a saved metric or loss may ask for 1 to "
                          f"{MAX_STATE_ELEMENTS:,}")


def check_model_config(config: dict, at: str, custom_objects) -> None:
    field(config, "name", (str,), at, required=False)
    field(config, "trainable", (bool,), at, required=False)
    for i, entry in enumerate(field(config, "layers", (list,), at)):
        check_layer_entry(entry, f"{at}['layers'][{i}]", custom_objects)
    for key in ("input_layers", "output_layers"):
        if key in config:
            check_references(config[key], f"{at}[{key!r}]")


def check_layer_entry(entry, at: str, custom_objects) -> None:
    if not isinstance(entry, dict):
        raise ConfigError(f"{at}: expected a dict (JSON object), found {short(entry)}")
    class_name = field(entry, "class_name", (str,), at)
    try:
        cls = get_layer_class(class_name, custom_objects)
    except ValueError as err:
        raise ConfigError(f"{at}['class_name']: {err}") from None
    config = field(entry, "config", (dict,), at)
    field(entry, "name", (str,), at, required=False)
    for j, call in enumerate(field(entry, "inbound_nodes", (list,), at, required=False) or []):
        call_at = f"{at}['inbound_nodes'][{j}]"
        if not isinstance(call, dict):
            raise ConfigError(f"{call_at}: expected a dict (JSON object), found {short(call)}")
        check_references(field(call, "args", (list, dict), call_at), f"{call_at}['args']")
        field(call, "kwargs", (dict,), call_at, required=False)
    if "layers" in config:  # a nested model
        check_model_config(config, f"{at}['config']", custom_objects)
    elif isinstance(cls, type) and issubclass(cls, Layer):
        check_arguments(cls, config, f"{at}['config']")


def check_references(structure, at: str) -> None:
    """Every leaf of a (nested) input/output structure must be a [layer name, call index,
    tensor index] reference."""
    if isinstance(structure, dict):
        for key, value in structure.items():
            check_references(value, f"{at}[{key!r}]")
    elif is_reference(structure):
        return
    elif isinstance(structure, list) and structure and not isinstance(structure[0], str):
        for i, value in enumerate(structure):
            check_references(value, f"{at}[{i}]")
    else:
        raise ConfigError(
            f"{at}: expected a [layer name, call index, tensor index] reference, found "
            f"{short(structure)}"
        )


def is_reference(value) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 3
        and isinstance(value[0], str)
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value[1:])
    )


def check_arguments(cls: type, config: dict, at: str) -> None:
    """Each argument the layer's (or Layer's) signature gives a default must have a JSON type
    that default allows (ALLOWED_BY_DEFAULT)."""
    defaults = {**signature_defaults(Layer.__init__), **signature_defaults(cls.__init__)}
    for key, value in config.items():
        allowed = ALLOWED_BY_DEFAULT.get(type(defaults.get(key)))
        if value is not None and allowed is not None:
            field(config, key, allowed, at)
        if isinstance(value, dict) and allowed == ALLOWED_BY_DEFAULT[str]:
            check_serialized_object(value, f"{at}[{key!r}]")


def check_serialized_object(value: dict, at: str) -> None:
    """An initializer, regularizer, constraint or optimizer saved as {class_name, config}."""
    field(value, "class_name", (str,), at)
    field(value, "config", (dict,), at, required=False)


def signature_defaults(function) -> dict:
    return {
        p.name: p.default
        for p in inspect.signature(function).parameters.values()
        if p.default is not inspect.Parameter.empty
    }
