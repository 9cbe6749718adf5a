"""model.quantize("int8") on MultiHeadAttention: its four EinsumDense projections go int8, the
attention between them (q k^T, softmax, weighted sum of values) stays float32 and the warning
says so; predictions follow a NumPy model of exactly that, on both backends; reloads stay int8."""

import numpy as np
import pytest

from frontend import layers, models
from tests.int8.test_einsum import numpy_int8_einsum

RNG = np.random.default_rng(5)
X = RNG.standard_normal((7, 6, 32)).astype(np.float32)
PROJECTIONS = ("query_dense", "key_dense", "value_dense", "output_dense")


def attention_model(backend="llvm", causal=False):
    x = layers.Input((6, 32))
    mha = layers.MultiHeadAttention(num_heads=2, key_dim=16, bias_initializer="glorot_uniform")
    model = models.Model(x, mha(x, x, use_causal_mask=causal))
    model.compile(loss="mse", backend=backend)
    return model, mha


def float_projections(mha):
    return {name: (getattr(mha, name).kernel.get_value(), getattr(mha, name).bias.get_value())
            for name in PROJECTIONS}


def numpy_attention(x, weights, causal):
    """int8 projections (the NumPy scheme), float32 attention between them."""
    q, k, v = (numpy_int8_einsum("abc,cde->abde", x, *weights[n], False)
               for n in PROJECTIONS[:3])
    scores = np.einsum("aqhd,akhd->ahqk", q, k) / np.float32(np.sqrt(16))
    if causal:
        scores = np.where(np.tril(np.ones((6, 6), bool)), scores, -np.inf)
    p = np.exp(scores - scores.max(-1, keepdims=True))
    context = np.einsum("ahqk,akhd->aqhd", p / p.sum(-1, keepdims=True), v)
    return numpy_int8_einsum("abcd,cde->abe", context, *weights["output_dense"], False)


@pytest.mark.parametrize("backend, causal", [("llvm", False), ("llvm", True), ("numpy", True)])
def test_projections_are_int8_and_follow_the_numpy_model(backend, causal):
    model, mha = attention_model(backend, causal)
    before = model.predict(X, verbose=0)
    weights = float_projections(mha)
    with pytest.warns(UserWarning, match=r"stay float32: MultiHeadAttention 'multi_head_attention"
                                         r".*' \(the attention scores q k\^T, their softmax and "
                                         r"the weighted sum of values stay float32; its "
                                         r"query/key/value/output projections are int8\)"):
        model.quantize("int8")
    assert [getattr(mha, n).kernel.dtype for n in PROJECTIONS] == ["int8"] * 4
    after = model.predict(X, verbose=0)
    np.testing.assert_allclose(after, numpy_attention(X, weights, causal), rtol=1e-4, atol=2e-5)
    assert np.abs(after - before).max() < 0.05 * np.abs(before).max()


def test_quantized_attention_saves_and_reloads_int8(tmp_path):
    model, _ = attention_model()
    with pytest.warns(UserWarning, match="MultiHeadAttention"):
        model.quantize("int8")
    want = model.predict(X, verbose=0)
    model.save(tmp_path / "mha.keras")
    loaded = models.load_model(tmp_path / "mha.keras")
    mha = loaded.layers[1]
    assert [getattr(mha, n).kernel.dtype for n in PROJECTIONS] == ["int8"] * 4
    assert mha.get_config()["quantization"]["query"] == {"mode": "int8", "input_scale": None}
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), want)
