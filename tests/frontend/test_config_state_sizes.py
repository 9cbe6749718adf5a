"""A saved compile config whose metric or loss asks for a huge state (issue 10, defect 8:
hostile model files) fails fast with a ConfigError naming the file and the key, before
anything is allocated; ordinary sizes still load."""

import json
import time
import zipfile

import numpy as np
import pytest

from frontend import metrics
from frontend.layers import Dense, Input
from frontend.models import Model, load_model
from frontend.models.config_check import MAX_STATE_ELEMENTS, ConfigError


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("auc") / "model.keras"
    x = Input(shape=(3,))
    model = Model(x, Dense(1, activation="sigmoid")(x))
    model.compile("adam", "binary_crossentropy", metrics=[metrics.AUC(num_thresholds=10)],
                  backend="numpy")
    model.fit(np.ones((4, 3)), np.ones((4, 1)), verbose=0)
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        return path, {n: archive.read(n) for n in archive.namelist()}


def with_thresholds(path, members, value, tmp_path):
    config = json.loads(members["config.json"])
    config["compile_config"]["metrics"][0]["config"]["num_thresholds"] = value
    edited = tmp_path / path.name
    with zipfile.ZipFile(edited, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, json.dumps(config) if name == "config.json" else data)
    return edited


@pytest.mark.parametrize("value", [10**9, 10**100, MAX_STATE_ELEMENTS + 1, 0, -5])
def test_a_metric_asking_for_a_huge_state_is_refused_fast(saved, tmp_path, value):
    edited = with_thresholds(*saved, value, tmp_path)
    start = time.perf_counter()
    with pytest.raises(ConfigError, match=r"model.keras.*\['metrics'\]\[0\].*num_thresholds"):
        load_model(edited)
    assert time.perf_counter() - start < 5


def test_a_metric_of_an_ordinary_size_loads(saved, tmp_path):
    model = load_model(with_thresholds(*saved, 50, tmp_path))
    model.fit(np.ones((4, 3)), np.ones((4, 1)), verbose=0)
