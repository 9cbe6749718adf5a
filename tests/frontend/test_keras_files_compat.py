"""Keras 3 files whose configs carry what Keras always writes: compile settings with Keras-only
keys (SparseCategoricalCrossentropy's ignore_class, learning-rate schedules) and the ops Keras
records for functional masks (Embedding(mask_zero=True), Masking). The fixtures come from real
Keras (tests/data/keras3/make_fixtures.py: `compiled`, `masked`)."""

import numpy as np
import pytest

import frontend as keras
from tests.frontend.conftest import BACKENDS
from tests.frontend.test_keras_files import (
    assert_predicts_as_keras,
    fixture,
    inputs_and_predictions,
    keras_file_with,
)

pytest.importorskip("h5py", reason="Keras files need h5py (graphc's 'h5' extra)")


@pytest.mark.parametrize("ext", [".keras", ".h5"])
def test_sparse_crossentropy_from_logits_and_schedules_load(ext):
    model = keras.models.load_model(fixture("compiled", ext))
    loss = model._compile_args["loss"]
    assert type(loss).__name__ == "SparseCategoricalCrossentropy"
    assert loss.fn_kwargs["from_logits"] is True
    metrics = [type(m).__name__ for m in model._compile_args["metrics"]]
    assert metrics == [
        "SparseCategoricalAccuracy",
        "SparseTopKCategoricalAccuracy",
        "SparseCategoricalCrossentropy",
    ]
    assert model.optimizer.get_config()["learning_rate"]["class_name"] == "CosineDecay"
    assert_predicts_as_keras(model, "compiled")
    x, _ = inputs_and_predictions("compiled")
    labels = np.arange(len(x)) % 3
    before = model.evaluate(x, labels, verbose=0)[0]
    model.fit(x, labels, epochs=3, verbose=0)
    assert model.evaluate(x, labels, verbose=0)[0] < before


def test_ignore_class_loads_only_at_none(tmp_path):
    def ignore_class(config):
        config["compile_config"]["loss"]["config"]["ignore_class"] = 0

    path = keras_file_with(tmp_path, ignore_class, name="compiled")
    with pytest.raises(ValueError, match="ignore_class=0.*ignore_class=None"):
        keras.models.load_model(path)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("ext", [".keras", ".h5"])
def test_functional_masks_keras_records_as_ops_load(ext, backend):
    keras.backend.set_default_backend(backend)
    model = keras.models.load_model(fixture("masked", ext))
    assert [type(layer).__name__ for layer in model.layers if "Equal" in type(layer).__name__] == []
    assert_predicts_as_keras(model, "masked")  # padded steps in both inputs: masks matter


def mask_op(config, name):
    return next(layer for layer in config["config"]["layers"] if layer["name"] == name)


def test_recorded_ops_that_are_not_keras_masks_are_named(tmp_path):
    def other_value(config):
        mask_op(config, "not_equal_2")["inbound_nodes"][0]["args"][1] = 3

    with pytest.raises(ValueError, match=r"Keras ops \['not_equal_2'\].*mask_zero=True"):
        keras.models.load_model(keras_file_with(tmp_path, other_value, name="masked"))

    def used_as_value(config):
        history = mask_op(config, "concatenate_1")["inbound_nodes"][0]["args"][0][1]
        history["config"]["keras_history"] = ["any_1", 0, 0]

    with pytest.raises(ValueError, match=r"mask ops \['any_1'\] are used as values"):
        keras.models.load_model(keras_file_with(tmp_path, used_as_value, name="masked"))
