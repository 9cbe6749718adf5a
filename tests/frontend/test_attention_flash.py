"""MultiHeadAttention and Attention route to the blocked kernel (gc.flash_attention) when it
applies - no attention scores returned, no dropout drawn, known lengths - and then compute what
the masked-softmax path computes (values and gradients, padding and causal masks, samples with
no key, both backends); otherwise they keep that path."""

import numpy as np
import pytest

import graphc as gc
from frontend import layers
from graphc.ir import toposort
from tests.frontend.conftest import BACKENDS

RNG = np.random.default_rng(12)


def ops_and_shapes(outputs):
    """The ops and node shapes of the differentiated graph of `outputs` (those of x)."""
    x = [n for n in toposort(outputs if isinstance(outputs, list) else [outputs])
         if n.op == "placeholder"]
    nodes = gc.function(x, outputs, backend="numpy").graph("grad").nodes()
    return {n.op for n in nodes}, {tuple(n.shape) for n in nodes}


def test_mha_routes_to_the_blocked_kernel_only_when_it_applies():
    x = gc.placeholder((2, 40, 8))
    plain, dropping = (layers.MultiHeadAttention(num_heads=2, key_dim=4, dropout=d)
                       for d in (0.0, 0.3))
    ops, shapes = ops_and_shapes(gc.grad(gc.sum(plain(x, x, use_causal_mask=True)), x))
    assert "flash_attention" in ops and "flash_attention_grad" in ops
    assert "masked_softmax" not in ops and (2, 2, 40, 40) not in shapes  # no score matrix
    assert "flash_attention" in ops_and_shapes(dropping(x, x))[0]  # inference: no dropout
    for routed_away in (dropping(x, x, training=True),
                        plain(x, x, return_attention_scores=True)[0],
                        plain(gc.placeholder((2, None, 8)), gc.placeholder((2, None, 8)))):
        ops, _ = ops_and_shapes(routed_away)
        assert "masked_softmax" in ops and "flash_attention" not in ops


def _both_paths(layer, build, arrays, backend):
    """(the blocked path's output and input gradients, the masked-softmax path's)."""
    nodes = [gc.placeholder(a.shape, str(a.dtype)) for a in arrays]
    floats = [n for n in nodes if n.dtype.startswith("float")]
    weight = gc.constant(RNG.standard_normal(build(*nodes, False).shape))
    results = []
    for scores in (False, True):
        out = build(*nodes, scores)
        grads = gc.grad(gc.sum(out * weight), floats + list(layer.weights))
        results.append(gc.function(nodes, [out, *grads], backend=backend)(*arrays))
    return results


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("causal", [False, True])
def test_mha_blocked_path_matches_the_softmax_path(backend, causal):
    query, value = RNG.standard_normal((3, 7, 6)), RNG.standard_normal((3, 33, 5))
    query_mask, value_mask = RNG.random((3, 7)) > 0.2, RNG.random((3, 33)) > 0.3
    # padded queries are keyless: uniform on the blocked path, zeros with the scores returned,
    # as in Keras (tests/frontend/test_attention_keyless_rows.py); here the rest must agree
    query_mask[:], value_mask[:, 0] = True, True
    layer = layers.MultiHeadAttention(num_heads=3, key_dim=7, value_dim=2, dtype="float64")

    def build(q, v, qm, vm, scores):
        out = layer(q, v, query_mask=qm, value_mask=vm, use_causal_mask=causal,
                    return_attention_scores=scores)
        return out[0] if scores else out

    blocked, plain = _both_paths(layer, build, [query, value, query_mask, value_mask], backend)
    assert len(blocked) == 3 + len(layer.weights)  # output, query and value, weights
    for a, b in zip(blocked, plain):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("backend", BACKENDS)
def test_attention_blocked_path_matches_the_softmax_path(backend):
    query, value, key = (RNG.standard_normal(s) for s in ((2, 9, 4), (2, 12, 3), (2, 12, 4)))
    value_mask = RNG.random((2, 12)) > 0.4
    layer = layers.Attention(use_scale=True, dtype="float64")
    layer([query, value, key])
    layer.scale.set_value(np.float64(0.6))

    def build(q, v, k, vm, scores):
        out = layer([q, v, k], mask=[None, vm], use_causal_mask=True,
                    return_attention_scores=scores)
        return out[0] if scores else out

    blocked, plain = _both_paths(layer, build, [query, value, key, value_mask], backend)
    assert len(blocked) == 5  # output, query, value, key, scale
    for a, b in zip(blocked, plain):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)
    x = gc.placeholder((2, 9, 4), "float64")
    assert "flash_attention" in ops_and_shapes(layer([x, x]))[0]
