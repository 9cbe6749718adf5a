"""Queries with no key that counts (padded queries under Embedding(mask_zero=True), an all-False
attention_mask row, a causal mask over padded first keys) get what real Keras 3 gives: the
uniform average of all the values (Keras scores masked keys -1e9, so such a row's softmax is
1/Lk everywhere) on the blocked path; with the attention scores returned, Keras's masked
Softmax layer zeroes such a row's weights. Both backends, checked against Keras in a fresh
interpreter with the same weights."""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import frontend
import graphc as gc
from frontend import layers
from frontend.models import Model
from tests.export.onnx_checks import assert_model_matches_predict
from tests.frontend.conftest import BACKENDS
from tests.frontend.layer_checks import assert_gradients_match
from tests.frontend.test_keras_files_out import keras_backend, needs_keras

TOKENS = np.array([[1, 2, 0, 0, 0], [0, 0, 3, 4, 5], [1, 0, 2, 0, 3]], "int32")

# Each case builds the same computation in Keras from the saved arrays `a` and returns it.
KERAS_CASES = {
    "embedded_mha": """
i = keras.Input((5,), dtype="int32")
e = keras.layers.Embedding(6, 4, mask_zero=True)(i)
model = keras.Model(i, keras.layers.MultiHeadAttention(2, 3)(e, e))
model.set_weights(weights)
result = model.predict(a["tokens"], verbose=0)
""",
    "mha_masks": """
layer = keras.layers.MultiHeadAttention(2, 3)
layer(a["query"], a["value"], attention_mask=a["mask"], use_causal_mask=causal)
layer.set_weights(weights)
result = layer(a["query"], a["value"], attention_mask=a["mask"], use_causal_mask=causal)
""",
    "mha_scores": """
layer = keras.layers.MultiHeadAttention(2, 3)
layer(a["query"], a["value"], attention_mask=a["mask"], use_causal_mask=causal)
layer.set_weights(weights)
result = np.concatenate([np.ravel(r) for r in layer(
    a["query"], a["value"], attention_mask=a["mask"], use_causal_mask=causal,
    return_attention_scores=True)])
""",
    "mha_dropout": """
layer = keras.layers.MultiHeadAttention(2, 3, dropout=0.5)
layer(a["query"], a["value"], attention_mask=a["mask"], use_causal_mask=causal)
layer.set_weights(weights)
result = layer(a["query"], a["value"], attention_mask=a["mask"], use_causal_mask=causal)
""",
    "attention_masks": """
layer = keras.layers.Attention()
masks = [a["query_mask"], a["value_mask"]]
result = layer([a["query"], a["value"]], mask=masks, use_causal_mask=causal)
""",
}

KERAS_RUNS = """
import json, sys, numpy as np, keras
for spec in json.load(open(sys.argv[1])):
    a = np.load(spec["arrays"])
    weights = [a[f"w{i}"] for i in range(spec["weights"])]
    causal = spec["causal"]
    exec(spec["code"])
    np.save(spec["out"], np.asarray(result))
"""


def mha_weights(embedding=False):
    """MultiHeadAttention(2, 3) on 4 features (after Embedding(6, 4) if `embedding`)."""
    shapes = [(4, 2, 3), (2, 3)] * 3 + [(2, 3, 4), (4,)]
    shapes = [(6, 4)] * embedding + shapes
    rng = np.random.default_rng(len(shapes))
    return [rng.normal(0, 0.5, shape).astype("float32") for shape in shapes]


def mha_arrays():
    rng = np.random.default_rng(5)
    query = rng.standard_normal((2, 5, 4)).astype("float32")
    value = rng.standard_normal((2, 6, 4)).astype("float32")
    mask = rng.random((2, 5, 6)) > 0.4
    mask[0, 1] = False  # a query with no key at all
    mask[1, 0] = [False, True, True, False, False, True]  # causal: key 0 only, and it is False
    mask[1, 2] = True
    return {"query": query, "value": value, "mask": mask}


def attention_arrays():
    rng = np.random.default_rng(6)
    return {"query": rng.standard_normal((2, 4, 3)).astype("float32"),
            "value": rng.standard_normal((2, 5, 3)).astype("float32"),
            "query_mask": np.array([[True, True, True, False], [True, False, True, True]]),
            "value_mask": np.array([[False, False, True, True, False], [False] * 5])}


JOBS = {  # name: (case, arrays, weights, causal)
    "embedded_mha": ("embedded_mha", {"tokens": TOKENS}, mha_weights(embedding=True), False),
    **{f"mha {causal}": ("mha_masks", mha_arrays(), mha_weights(), causal)
       for causal in (False, True)},
    **{f"mha scores {causal}": ("mha_scores", mha_arrays(), mha_weights(), causal)
       for causal in (False, True)},
    "mha dropout": ("mha_dropout", mha_arrays(), mha_weights(), True),
    **{f"attention {causal}": ("attention_masks", attention_arrays(), [], causal)
       for causal in (False, True)},
}


@pytest.fixture(scope="module")
def keras_results(tmp_path_factory):
    """{job name: Keras 3's output}, every job of JOBS in one fresh interpreter."""
    folder, specs = tmp_path_factory.mktemp("keras_rows"), []
    for number, (case, arrays, weights, causal) in enumerate(JOBS.values()):
        path = folder / f"{number}.npz"
        np.savez(path, **arrays, **{f"w{i}": w for i, w in enumerate(weights)})
        specs.append({"arrays": str(path), "weights": len(weights), "causal": causal,
                      "code": KERAS_CASES[case], "out": str(folder / f"{number}.npy")})
    (folder / "jobs.json").write_text(json.dumps(specs))
    env = dict(os.environ, KERAS_BACKEND=keras_backend())
    done = subprocess.run([sys.executable, "-c", KERAS_RUNS, str(folder / "jobs.json")],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return {name: np.load(spec["out"]) for name, spec in zip(JOBS, specs)}


@needs_keras
@pytest.mark.parametrize("backend", BACKENDS)
def test_padded_queries_of_embedded_mha_equal_keras(keras_results, backend):
    tokens = layers.Input((5,), dtype="int32")
    embedded = layers.Embedding(6, 4, mask_zero=True)(tokens)
    model = Model(tokens, layers.MultiHeadAttention(2, 3)(embedded, embedded))
    model.set_weights(JOBS["embedded_mha"][2])
    expected = keras_results["embedded_mha"]
    frontend.backend.set_default_backend(backend)  # the fixture restores it
    got = model.predict(TOKENS, verbose=0)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    values_mean = got[0, 2]  # a padded query: the same uniform average for every padded one
    np.testing.assert_allclose(got[0, 3:], np.broadcast_to(values_mean, (2, 4)), atol=1e-6)


@needs_keras
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("backend", BACKENDS)
def test_mha_keyless_rows_of_attention_mask_equal_keras(keras_results, backend, causal):
    """The blocked (flash) path: a keyless query attends uniformly to every key."""
    got = mha_outputs(backend, causal, scores=False)
    np.testing.assert_allclose(got, keras_results[f"mha {causal}"], rtol=1e-5, atol=1e-5)


@needs_keras
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("backend", BACKENDS)
def test_mha_returned_scores_equal_keras(keras_results, backend, causal):
    """The masked-softmax path: Keras's Softmax layer gives a keyless query zero weights."""
    output, scores = mha_outputs(backend, causal, scores=True)
    assert not scores[0, :, 1].any()
    got = np.concatenate([output.ravel(), scores.ravel()])
    np.testing.assert_allclose(got, keras_results[f"mha scores {causal}"], rtol=1e-5,
                               atol=1e-5)


@needs_keras
@pytest.mark.parametrize("backend", BACKENDS)
def test_mha_with_dropout_at_inference_equals_keras(keras_results, backend):
    """Keras takes its masked Softmax layer whenever dropout > 0: keyless queries get 0."""
    got = mha_outputs(backend, True, scores=False, dropout=0.5)
    np.testing.assert_allclose(got, keras_results["mha dropout"], rtol=1e-5, atol=1e-5)


def mha_outputs(backend, causal, scores, dropout=0.0):
    _, arrays, weights, _ = JOBS[f"mha {causal}"]
    layer = layers.MultiHeadAttention(2, 3, dropout=dropout)
    holders = [gc.placeholder(arrays[n].shape, arrays[n].dtype.name) for n in arrays]
    out = layer(*holders[:2], attention_mask=holders[2], use_causal_mask=causal,
                return_attention_scores=scores)
    layer.set_weights(weights)
    return gc.function(holders, out, backend=backend)(*arrays.values())


@needs_keras
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("backend", BACKENDS)
def test_attention_keyless_rows_equal_keras(keras_results, backend, causal):
    arrays = attention_arrays()
    holders = [gc.placeholder(a.shape, a.dtype.name) for a in arrays.values()]
    out = layers.Attention()(holders[:2], mask=holders[2:], use_causal_mask=causal)
    got = gc.function(holders, out, backend=backend)(*arrays.values())
    np.testing.assert_allclose(got, keras_results[f"attention {causal}"], rtol=1e-5, atol=1e-5)
    no_key = arrays["value"][1].mean(0)  # the second sample has no key: the values' mean
    np.testing.assert_allclose(got[1, 0], no_key, atol=1e-5)


@pytest.mark.parametrize("scores", [False, True])
@pytest.mark.parametrize("backend", BACKENDS)
def test_keyless_rows_gradients_match_finite_differences(backend, scores):
    """Blocked path (uniform rows: only the values get a gradient from them) and the returned
    scores' path (zero rows), queries padded and a sample with no key at all."""
    rng = np.random.default_rng(8)
    query, value = rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 5, 3))
    query_mask = np.array([[True, True, False, False], [True] * 4])
    value_mask = np.array([[True, False, True, True, False], [False] * 5])
    layer = layers.MultiHeadAttention(num_heads=2, key_dim=2, dtype="float64")
    layer(gc.placeholder(query.shape, "float64"), gc.placeholder(value.shape, "float64"))

    def build(q, v, qm, vm):
        out = layer(q, v, query_mask=qm, value_mask=vm, use_causal_mask=True,
                    return_attention_scores=scores)
        return out[0] if scores else out

    assert_gradients_match(backend, build, [query, value, query_mask, value_mask],
                           weights=layer.weights)


@pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None,
                    reason="needs onnxruntime (graphc's 'onnx' extra)")
@pytest.mark.parametrize("causal", [False, True])
def test_onnx_export_of_padded_mha_matches_predict(tmp_path, causal):
    tokens = layers.Input((5,), dtype="int32")
    embedded = layers.Embedding(6, 4, mask_zero=True)(tokens)
    attended = layers.MultiHeadAttention(2, 3)(embedded, embedded, use_causal_mask=causal)
    model = Model(tokens, attended)
    model.set_weights(JOBS["embedded_mha"][2])
    assert_model_matches_predict(model, [TOKENS], tmp_path)
