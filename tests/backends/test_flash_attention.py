"""The blocked attention kernels (flash_attention and its gradient) against the NumPy interpreter
on odd sizes (lengths 1, 7, 33, 257 and queries != keys; head dims 1, 7, 32), with key-padding
and (queries, keys) masks, rows with no key that counts, causality, on one and two threads
(fresh processes: the thread count is fixed when the runtime starts); and the op against the
masked-softmax path it replaces."""

import numpy as np
import pytest

import graphc as gc
from tests.backends.thread_runs import result_with_threads

# (queries, keys, key dim, value dim)
SIZES = ((1, 1, 1, 7), (7, 33, 7, 1), (33, 7, 32, 7), (257, 257, 32, 32), (65, 130, 7, 32))


def _graph(lq, lk, dk, dv, dtype):
    q = gc.placeholder((2, 3, lq, dk), dtype, name="q")
    k = gc.placeholder((2, 3, lk, dk), dtype, name="k")
    v = gc.placeholder((2, 3, lk, dv), dtype, name="v")
    g = gc.placeholder((2, 3, lq, dv), dtype, name="g")
    keys = gc.placeholder((2, 1, 1, lk), "bool", name="keys")
    pairs = gc.placeholder((lq, lk), "bool", name="pairs")
    padded, lse = gc.flash_attention(q, k, v, keys, scale=0.4, causal=True, return_lse=True)
    paired = gc.flash_attention(q, k, v, pairs, scale=1.3)
    loss = gc.sum(padded * g) + gc.sum(lse * gc.sum(g, axis=-1)) + gc.sum(paired * g * g)
    outputs = [padded, lse, paired, *gc.grad(loss, [q, k, v])]
    return [q, k, v, g, keys, pairs], outputs


def _arrays(lq, lk, dk, dv, dtype):
    rng = np.random.default_rng(lq * 1000 + lk)
    normal = [rng.standard_normal(s).astype(dtype) for s in
              ((2, 3, lq, dk), (2, 3, lk, dk), (2, 3, lk, dv), (2, 3, lq, dv))]
    keys = rng.random((2, 1, 1, lk)) > 0.3
    keys[1] = False  # the second sample has no key: its rows are uniform
    pairs = rng.random((lq, lk)) > 0.5
    pairs[0] = False  # so has the first query under the pair mask
    return normal + [keys, pairs]


def largest_errors() -> dict:
    """{'<sizes> <dtype>': the largest |llvm - numpy| / (1 + |numpy|) over every output."""
    errors = {}
    for sizes in SIZES:
        for dtype in ("float32", "float64"):
            inputs, outputs = _graph(*sizes, dtype)
            compiled = gc.function(inputs, outputs, backend="llvm")
            reference = gc.function(inputs, outputs, backend="numpy")
            arrays = _arrays(*sizes, dtype)
            pairs = zip(compiled(*arrays), reference(*arrays))
            errors[f"{sizes} {dtype}"] = max(
                float((np.abs(a - b) / (1 + np.abs(b))).max()) for a, b in pairs)
    return errors


@pytest.mark.parametrize("threads", [1, 2])
def test_flash_attention_matches_the_interpreter_on_odd_sizes(threads):
    errors = result_with_threads(__name__, "largest_errors", threads)
    assert len(errors) == 2 * len(SIZES)
    for name, error in errors.items():
        assert error < (2e-4 if "float32" in name else 1e-10), (name, error)


@pytest.mark.parametrize("causal", [False, True])
def test_flash_attention_is_the_masked_softmax_path(causal):
    """Values and gradients as matmul(masked_softmax(q k^T), v), rows with no key included."""
    lq, lk = 9, 9
    q, k, v = (gc.placeholder((2, 2, n, 5), "float64") for n in (lq, lk, lk))
    mask = gc.placeholder((2, 1, 1, lk), "bool")
    old = gc.matmul(gc.masked_softmax(gc.matmul(q, k, transpose_b=True), mask, scale=0.3,
                                      causal=causal), v)
    new = gc.flash_attention(q, k, v, mask, scale=0.3, causal=causal)
    outputs = [old, new, *gc.grad(gc.sum(old * old), [q, k, v]),
               *gc.grad(gc.sum(new * new), [q, k, v])]
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal((2, 2, n, 5)) for n in (lq, lk, lk)]
    keys = rng.random((2, 1, 1, lk)) > 0.4
    keys[0, ..., :] = False
    for backend in ("numpy", "llvm"):
        results = gc.function([q, k, v, mask], outputs, backend=backend)(*arrays, keys)
        for a, b in zip(results[:1] + results[2:5], results[1:2] + results[5:]):
            np.testing.assert_allclose(a, b, atol=1e-12)
        # the sample with no key: every query gets the mean of all values (Keras's -1e9 rule)
        uniform = np.broadcast_to(arrays[2][0].mean(axis=-2, keepdims=True), results[1][0].shape)
        np.testing.assert_allclose(results[1][0], uniform, atol=1e-12)


def test_flash_attention_rejects_mismatched_inputs():
    q = gc.placeholder((2, 3, 4, 5))
    with pytest.raises(gc.ShapeError, match=r"q \(2, 3, 4, 5\), k \(2, 3, 4, 6\)"):
        gc.flash_attention(q, gc.placeholder((2, 3, 4, 6)), gc.placeholder((2, 3, 4, 6)))
    with pytest.raises(gc.ShapeError, match="does not broadcast"):
        gc.flash_attention(q, q, q, gc.placeholder((3, 4), "bool"))
