"""Masked recurrences through ONNX: Masking or Embedding(mask_zero=True) before SimpleRNN, LSTM
and GRU with post-padded, pre-padded and holed masks; go_backwards, return_state,
Bidirectional, stacked return_sequences. Each equals `predict` at batch sizes 1 and 7; a
masked fused op becomes a Scan, an unmasked one keeps ONNX's RNN/LSTM/GRU node."""

import numpy as np
import pytest

import frontend.layers as L
from frontend.models import Model
from tests.export.onnx_checks import assert_model_matches_predict, onnx

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


@pytest.mark.parametrize("batch", [1, 7])
@pytest.mark.parametrize("pattern", ["post", "pre", "holes"])
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
