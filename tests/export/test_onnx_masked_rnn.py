"""Masked recurrences through ONNX: Masking or Embedding(mask_zero=True) before SimpleRNN, LSTM
and GRU with post-padded, pre-padded and holed masks; go_backwards, return_state,
Bidirectional, stacked return_sequences. Each equals `predict` at batch sizes 1 and 7; a
masked fused op becomes a Scan, an unmasked one keeps ONNX's RNN/LSTM/GRU node."""

import numpy as np
import pytest

import frontend.layers as L
import graphc as gc
from frontend.models import Model
from tests.export.onnx_checks import (
    MIN_OPSET,
    assert_close,
    assert_model_matches_predict,
    exported_outputs,
    onnx,
)

STEPS, FEATURES = 6, 4
RECURRENT = {"SimpleRNN": L.SimpleRNN, "LSTM": L.LSTM, "GRU": L.GRU}


def kept_steps(pattern: str, batch: int) -> np.ndarray:
    """(batch, STEPS) booleans: which steps are real, row r padded by r % STEPS steps (row 0
    whole; with holes, row 6 is all padding)."""
    keep = np.ones((batch, STEPS), bool)
    for r in range(batch):
        pad = r % STEPS
        if pattern == "post" and pad:
            keep[r, -pad:] = False
        elif pattern == "pre":
            keep[r, :pad] = False
        elif pattern == "holes":
            keep[r, (np.arange(STEPS) + r) % 3 == 0] = False
            keep[r] &= r != 6
    return keep


def masked_input(pattern: str, batch: int) -> np.ndarray:
    """Random steps, zeros (what Masking(0.0) masks) where `kept_steps` says padding."""
    x = np.random.default_rng(batch).normal(size=(batch, STEPS, FEATURES)).astype("float32")
    return np.where(kept_steps(pattern, batch)[..., None], x, 0).astype("float32")


def export_matches(build, pattern, batch, tmp_path) -> None:
    inputs = L.Input((STEPS, FEATURES))
    outputs = build(L.Masking(0.0)(inputs))
    assert_model_matches_predict(Model(inputs, outputs), [masked_input(pattern, batch)], tmp_path)


# at batch 1 the only row is row 0, whole when post- or pre-padded: one case covers both
PATTERN_BATCHES = [("post", 1), ("post", 7), ("pre", 7), ("holes", 1), ("holes", 7)]


@pytest.mark.parametrize("pattern, batch", PATTERN_BATCHES)
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("layer", sorted(RECURRENT))
def test_masked_layer(layer, return_sequences, pattern, batch, tmp_path):
    rnn = RECURRENT[layer](3, return_sequences=return_sequences)
    export_matches(rnn, pattern, batch, tmp_path)


@pytest.mark.parametrize("batch", [1, 7])
@pytest.mark.parametrize("layer", sorted(RECURRENT))
def test_masked_go_backwards_with_states(layer, batch, tmp_path):
    rnn = RECURRENT[layer](3, go_backwards=True, return_sequences=True, return_state=True)
    export_matches(lambda x: rnn(x), "holes", batch, tmp_path)


@pytest.mark.parametrize("batch", [1, 7])
@pytest.mark.parametrize("merge_mode", ["concat", "sum"])
def test_masked_bidirectional_lstm(merge_mode, batch, tmp_path):
    def build(x):
        return L.Bidirectional(L.LSTM(3, return_sequences=True), merge_mode=merge_mode)(x)
    export_matches(build, "pre", batch, tmp_path)


@pytest.mark.parametrize("batch", [1, 7])
def test_masked_stack_passes_the_mask_on(batch, tmp_path):
    def build(x):
        return L.GRU(2)(L.SimpleRNN(3, activation="relu", return_sequences=True)(
            L.LSTM(3, return_sequences=True)(x)))
    export_matches(build, "holes", batch, tmp_path)


@pytest.mark.parametrize("batch", [1, 7])
def test_embedding_mask_zero_lstm(batch, tmp_path):
    inputs = L.Input((STEPS,), dtype="int32")
    outputs = L.LSTM(3)(L.Embedding(5, 2, mask_zero=True)(inputs))
    tokens = np.random.default_rng(batch).integers(1, 5, (batch, STEPS)).astype("int32")
    tokens[~kept_steps("holes", batch)] = 0
    assert_model_matches_predict(Model(inputs, outputs), [tokens], tmp_path)


@pytest.mark.parametrize("masked, wanted, unwanted", [(True, "Scan", "LSTM"),
                                                      (False, "LSTM", "Scan")])
def test_masked_lstm_is_a_scan_and_unmasked_an_lstm_node(masked, wanted, unwanted, tmp_path):
    inputs = L.Input((STEPS, FEATURES))
    x = L.Masking(0.0)(inputs) if masked else inputs
    model = Model(inputs, L.LSTM(3)(x))
    model.export(tmp_path / "m.onnx", format="onnx")
    op_types = {n.op_type for n in onnx.load(str(tmp_path / "m.onnx")).graph.node}
    assert wanted in op_types and unwanted not in op_types


@pytest.mark.parametrize("build, steps", [
    pytest.param(lambda i: L.LSTM(3, return_sequences=True)(i), None, id="LSTM run-time length"),
    pytest.param(lambda i: L.GRU(3)(i), None, id="GRU run-time length"),
    pytest.param(lambda i: L.SimpleRNN(3, activation="linear")(i), None, id="SimpleRNN linear"),
    pytest.param(lambda i: L.LSTM(3, use_bias=False)(i), None, id="LSTM use_bias=False"),
    pytest.param(lambda i: L.GRU(3, reset_after=False)(i), STEPS, id="unrolled GRU"),
])
def test_masked_variants(build, steps, tmp_path):
    inputs = L.Input((steps, FEATURES))
    model = Model(inputs, build(L.Masking(0.0)(inputs)))
    assert_model_matches_predict(model, [masked_input("holes", 7)], tmp_path)


@pytest.mark.parametrize("backend, opset", [("numpy", MIN_OPSET), ("numpy", None), ("llvm", None)])
@pytest.mark.parametrize("batch, steps", [(1, 1), (7, 7), (2, 33)])
def test_masked_ops_with_initial_states(backend, opset, batch, steps, tmp_path):
    """The ops themselves, a mask given as an input: every h, last h and last c (LSTM) and
    GRU's every h from non-zero initial states, held where the mask is False."""
    x = gc.placeholder((None, steps, FEATURES), name="x")
    mask = gc.placeholder((None, steps), "bool", name="mask")
    h0, c0 = (gc.placeholder((None, 3), name=n) for n in ("h0", "c0"))
    rng = np.random.default_rng(steps)
    W, U = (rng.normal(size=s).astype("float32") for s in ((FEATURES, 12), (3, 12)))
    every, last_h, last_c = gc.lstm(x, W, U, rng.normal(size=12).astype("float32"), h0, c0, mask)
    gru_every, _ = gc.gru(x, W[:, :9], U[:, :9], rng.normal(size=(2, 9)).astype("float32"), h0,
                          mask)
    fn = gc.function([x, mask, h0, c0], [every, last_h, last_c, gru_every], backend=backend)
    arrays = [rng.normal(size=(batch, steps, FEATURES)).astype("float32"),
              rng.random((batch, steps)) < 0.6,
              *(rng.normal(size=(batch, 3)).astype("float32") for _ in range(2))]
    want = [np.asarray(y) for y in fn(*arrays)]
    assert_close(exported_outputs(fn, arrays, tmp_path, opset), want)
