"""gc.masked_softmax beyond its op-table cases: Keras 3's attention semantics (a row
with every key masked is uniform over all keys, its gradient 0), causality by index for
unknown lengths, broadcast masks, rows split across threads, and errors naming the shapes."""

import numpy as np
import pytest

import graphc as gc
from tests.frontend.conftest import BACKENDS

RNG = np.random.default_rng(4)


def keras_masked_softmax(x, valid):
    """Keras 3's ops.dot_product_attention weights: -1e9 where masked, then softmax."""
    scores = np.where(valid, x, np.float32(-1e9))
    e = np.exp(scores - scores.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


@pytest.mark.parametrize("backend", BACKENDS)
def test_fully_masked_rows_are_uniform(backend):
    x = RNG.standard_normal((2, 3, 5)).astype("float32")
    mask = RNG.random((2, 3, 5)) > 0.5
    mask[0, 1] = False
    xs, ms = gc.placeholder(x.shape), gc.placeholder(mask.shape, "bool")
    got = gc.function([xs, ms], gc.masked_softmax(xs, ms, scale=0.5), backend=backend)(x, mask)
    np.testing.assert_allclose(got, keras_masked_softmax(0.5 * x, mask), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(got[0, 1], np.full(5, 0.2), rtol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_causal_with_unknown_sizes_and_a_padding_mask(backend):
    x = RNG.standard_normal((3, 2, 7, 7)).astype("float32")
    padding = RNG.random((3, 1, 1, 7)) > 0.3
    xs = gc.placeholder((None, 2, None, None))
    ms = gc.placeholder((None, 1, 1, None), "bool")
    out = gc.masked_softmax(xs, ms, causal=True)
    got = gc.function([xs, ms], out, backend=backend)(x, padding)
    valid = padding & np.tril(np.ones((7, 7), bool))
    np.testing.assert_allclose(got, keras_masked_softmax(x, valid), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("backend", BACKENDS)
def test_many_rows_split_across_threads(backend):
    x = RNG.standard_normal((4, 4, 64, 64)).astype("float32")
    xs = gc.placeholder(x.shape)
    got = gc.function([xs], gc.masked_softmax(xs, causal=True), backend=backend)(x)
    valid = np.broadcast_to(np.tril(np.ones((64, 64), bool)), x.shape)
    np.testing.assert_allclose(got, keras_masked_softmax(x, valid), rtol=1e-5, atol=1e-7)


def test_bad_masks_name_the_shapes():
    x = gc.placeholder((2, 3, 4))
    with pytest.raises(gc.ShapeError, match=r"\(3, 5\).*\(2, 3, 4\)"):
        gc.masked_softmax(x, gc.placeholder((3, 5), "bool"))
    with pytest.raises(gc.DtypeError, match="bool mask"):
        gc.masked_softmax(x, gc.placeholder((3, 4)))
