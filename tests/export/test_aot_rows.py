"""An exported predict runs in chunks of rows only when it keeps its rows apart: graphc proves
it (graphc.export.rows) or exports the function for at most batch_chunk rows (or refuses)."""

import re

import numpy as np
import pytest

import graphc as gc
from frontend.layers import (
    GRU,
    Conv1D,
    Dense,
    Dropout,
    GlobalAveragePooling1D,
    Input,
    LayerNormalization,
    Softmax,
    TimeDistributed,
)
from frontend.models import Sequential
from graphc.export import UnsupportedForExport
from graphc.export.rows import mixing_node
from tests.export.aot_helpers import Library, needs_cc, small_model

BAD_ARGUMENT = 1


def mixes(outputs_of, shape=(None, 6)):
    x = gc.placeholder(shape, "float32", name="x")
    return mixing_node(gc.function([x], outputs_of(x)).graph("optimized"))


@pytest.mark.parametrize("kind", ["mlp", "cnn", "lstm"])
def test_keras_models_keep_their_rows_apart(kind):
    function = small_model(kind).make_predict_function("llvm")
    assert mixing_node(function.graph("optimized")) is None


def test_sequence_layers_keep_their_rows_apart():
    model = Sequential([Input((5, 3)), Conv1D(4, 2, padding="same"), TimeDistributed(Dense(3)),
                        GRU(4, return_sequences=True), LayerNormalization(), Dropout(0.5),
                        GlobalAveragePooling1D(), Dense(2), Softmax()])
    assert mixing_node(model.make_predict_function("llvm").graph("optimized")) is None


@pytest.mark.parametrize("outputs_of", [
    lambda x: x - gc.mean(x, axis=1, keepdims=True),
    lambda x: gc.softmax(gc.transpose(gc.reshape(x, (-1, 2, 3)), (0, 2, 1)), axis=1),
    lambda x: gc.concatenate([x[:, 1:], gc.exp(x)], axis=1) @ gc.constant(np.ones((11, 2),
                                                                                 "float32")),
    lambda x: gc.reshape(gc.reshape(gc.tanh(gc.reshape(gc.reshape(x, (-1, 2, 3)), (-1, 3))),
                                    (-1, 2, 3)), (-1, 6)),
])
def test_row_wise_functions_are_proven(outputs_of):
    assert mixes(outputs_of) is None


@pytest.mark.parametrize("outputs_of, op, reason", [
    (lambda x: x - gc.mean(x, axis=0, keepdims=True), "mean", "reduces over the batch axis"),
    (lambda x: x @ gc.sum(gc.transpose(x) @ x, axis=1, keepdims=True), "matmul",
     "sums over the batch axis"),
    (lambda x: gc.reshape(x, (-1, 4)), "reshape", r"reshapes \(None, 6\) to \(None, 4\)"),
    (lambda x: x / gc.cast(gc.size(x, axis=0), "float32"), "size", "counts the batch rows"),
    (lambda x: x * gc.random_uniform(gc.constant(np.int64(3)), x), "random_uniform",
     "draws random numbers"),
    (lambda x: gc.softmax(x, axis=0), "softmax", "works along the batch axis"),
    (lambda x: x[1:], "getitem", "indexes into the batch axis"),
])
def test_mixing_is_named_with_the_op_and_the_users_line(outputs_of, op, reason):
    assert mixes(outputs_of) is not None
    assert mixes(outputs_of).startswith(op + " at ")
    assert "test_aot_rows.py:" in mixes(outputs_of)
    assert re.search(reason, mixes(outputs_of))


def centered(backend="llvm"):
    x = gc.placeholder((None, 3), "float32", name="x")
    return gc.function([x], x - gc.mean(x, axis=0, keepdims=True), name="center",
                       backend=backend)


@needs_cc
@pytest.mark.parametrize("threads", [1, 2])
def test_a_function_that_mixes_rows_is_exported_for_at_most_batch_chunk_rows(tmp_path,
                                                                              threads):
    function, oracle = centered(), centered("numpy")
    with pytest.warns(UserWarning, match=r"center mixes the rows of its batch \(mean at .*"
                                         r"test_aot_rows.py:\d+ reduces over the batch axis\)"):
        gc.export(function, tmp_path, batch_chunk=4)
    header = (tmp_path / "center.h").read_text()
    assert "#define CENTER_MAX_BATCH 4" in header and "BATCH_CHUNK" not in header
    library = Library(tmp_path / "libcenter.so", "center", inputs=1, outputs=1)
    ctx = library.create(threads)
    try:
        for rows in (1, 3, 4):
            x = np.random.default_rng(rows).normal(size=(rows, 3)).astype("float32")
            code, (y,) = library.run(ctx, [x], [(rows, 3)])
            assert code == 0
            np.testing.assert_allclose(y, oracle(x), atol=1e-6)
        code, _ = library.run(ctx, [np.ones((10, 3), "float32")], [(10, 3)])
        assert code == BAD_ARGUMENT
        assert library.last_error(ctx).decode() == (
            "center_predict: n (rows) must be at most 4, the batch it was exported for; "
            "received 10")
    finally:
        library.destroy(ctx)


@needs_cc
def test_a_row_wise_function_still_takes_any_number_of_rows(tmp_path):
    x = gc.placeholder((None, 3), "float32", name="x")
    function = gc.function([x], x - gc.mean(x, axis=1, keepdims=True), name="rowwise")
    gc.export(function, tmp_path, batch_chunk=4)
    assert "#define ROWWISE_BATCH_CHUNK 4" in (tmp_path / "rowwise.h").read_text()
    library = Library(tmp_path / "librowwise.so", "rowwise", inputs=1, outputs=1)
    ctx = library.create(2)
    xs = np.arange(30, dtype="float32").reshape(10, 3) ** 2
    code, (y,) = library.run(ctx, [xs], [(10, 3)])
    library.destroy(ctx)
    assert code == 0
    np.testing.assert_allclose(y, xs - xs.mean(axis=1, keepdims=True), rtol=1e-6)


def test_refuse_names_the_op_and_the_users_line(tmp_path):
    with pytest.raises(UnsupportedForExport, match=r"center mixes the rows of its batch \(mean "
                                                   r"at .*test_aot_rows.py:\d+ reduces over the "
                                                   r"batch axis\), so it cannot run in chunks "
                                                   r"of 4 rows"):
        gc.export(centered(), tmp_path, batch_chunk=4, mixed_rows="refuse")
    with pytest.raises(ValueError, match="mixed_rows must be one of max_batch, refuse; "
                                         "received 'chunks'"):
        gc.export(centered(), tmp_path, mixed_rows="chunks")
    assert not any(tmp_path.iterdir())

