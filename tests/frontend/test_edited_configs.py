"""A saved config edited by hand (issue 10, defect 11): a missing key or a value of the wrong
type fails at load with a ValueError naming the file and the key (or the layer whose argument
it is), never with a raw KeyError or TypeError from deep inside the loader."""

import copy
import json
import zipfile

import numpy as np
import pytest

from frontend.layers import LSTM, BatchNormalization, Dense, Embedding, Input, concatenate
from frontend.models import Model, load_model
from frontend.models.config_check import ConfigError


def saved_functional_model(path):
    a, b = Input(shape=(3,), name="a"), Input(shape=(4,), dtype="int32", name="b")
    h = BatchNormalization()(Dense(4, activation="relu")(a))
    s = LSTM(2)(Embedding(10, 3)(b))
    model = Model([a, b], Dense(1)(concatenate([h, s])))
    model.compile("adam", "mse", metrics=["mae"], backend="numpy")
    model.fit([np.ones((4, 3)), np.ones((4, 4), "int32")], np.ones((4, 1)), verbose=0)
    model.save(path)


def members_of(path) -> dict:
    with zipfile.ZipFile(path) as archive:
        return {n: archive.read(n) for n in archive.namelist()}


def with_config(path, members, config) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, json.dumps(config) if name == "config.json" else data)


def key_paths(value, prefix=()):
    """Every (path to a dict key or list item) in a JSON value."""
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, inner in items:
        yield prefix + (key,)
        if isinstance(inner, (dict, list)):
            yield from key_paths(inner, prefix + (key,))


def mutated(config, path, value):
    config = copy.deepcopy(config)
    container = config
    for key in path[:-1]:
        container = container[key]
    if value == "<delete>":
        del container[path[-1]]
    else:
        container[path[-1]] = value
    return config


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("edited") / "model.keras"
    saved_functional_model(path)
    members = members_of(path)
    return path, members, json.loads(members["config.json"])


def test_every_single_edit_loads_or_fails_naming_the_file(saved, tmp_path):
    _, members, config = saved
    target = tmp_path / "edited.keras"
    raw = []
    for path in key_paths(config):
        for value in ("<delete>", None, "x", 1.5, [], {}):
            with_config(target, members, mutated(config, path, value))
            try:
                load_model(target)
            except ValueError as err:  # ConfigError and the file-format errors
                if str(target) not in str(err):
                    raw.append((path, value, repr(err)))
            except Exception as err:  # noqa: BLE001 - a raw error is what the test looks for
                raw.append((path, value, repr(err)))
    assert raw == []


@pytest.mark.parametrize(
    "path, value, message",
    [
        (("config",), "<delete>", r"config\.json: the key 'config' is missing"),
        (
            ("config", "layers"),
            7,
            r"config\.json\['config'\]\['layers'\]: expected a list, found 7",
        ),
        (
            ("config", "layers", 2, "config", "use_bias"),
            "yes",
            r"\['layers'\]\[2\]\['config'\]\['use_bias'\]: expected a bool, found 'yes'",
        ),
        (
            ("config", "layers", 2, "config", "kernel_initializer"),
            {"config": {}},
            r"\['kernel_initializer'\]: the key 'class_name' is missing",
        ),
        (
            ("config", "layers", 2, "config", "units"),
            -2,
            r"config\.json: layer 'dense' \(Dense\): .*Received: units=-2",
        ),
        (
            ("config", "layers", 2, "inbound_nodes", 0, "args"),
            ["a", "zero", 0],
            r"\['args'\]: expected a \[layer name.*found \['a', 'zero', 0\]",
        ),
        (("compile_config", "metrics"), 3, r"\['compile_config'\]\['metrics'\]: expected a list"),
        (("config", "layers", 2, "class_name"), "Dense2", r"\['class_name'\]: Unknown layer"),
    ],
)
def test_an_edit_is_reported_with_the_file_and_the_key(saved, tmp_path, path, value, message):
    _, members, config = saved
    target = tmp_path / "edited.keras"
    with_config(target, members, mutated(config, path, value))
    with pytest.raises(ConfigError, match=message) as err:
        load_model(target)
    assert str(err.value).startswith(f"{target}: config.json")
