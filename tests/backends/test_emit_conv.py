"""Compiled convolutions (im2col + packed GEMM, emit_conv.py) and pooling against the NumPy
interpreter: random geometries (hypothesis), forward and both gradients in one function,
chunked batches, the 1 x 1 shortcut, run-time batch sizes."""

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import graphc as gc
from graphc.backends.llvm import conv_gemm, emit_conv, emit_conv_grad
from tests.fuzz.profiles import examples
from tests.strategies import conv_geometries


@pytest.fixture(autouse=True)
def fresh_code(monkeypatch):
    """Compile afresh: the program cache is keyed by the graph, not by the emitters' code."""
    monkeypatch.setenv("GRAPHC_CACHE", "0")


TOL = {"float64": dict(rtol=1e-11, atol=1e-11), "float32": dict(rtol=2e-4, atol=2e-5)}


def conv_step(rank, x_shape, k_shape, dtype, **conv_args):
    """A function (x, w, r) -> [y, d(sum(y * r))/dx, .../dw] on both backends."""
    x = gc.placeholder((None, *x_shape[1:]), dtype, name="x")
    w = gc.placeholder(k_shape, dtype, name="w")
    y = (gc.conv1d if rank == 1 else gc.conv2d)(x, w, **conv_args)
    r = gc.placeholder((None, *y.shape[1:]), dtype, name="r")
    outputs = [y, *gc.grad(gc.sum(y * r), [x, w])]
    return (
        gc.function([x, w, r], outputs),
        gc.function([x, w, r], outputs, backend="numpy"),
        y.shape,
    )


def check(rank, x_shape, k_shape, dtype="float64", seed=0, batches=None, **conv_args):
    llvm, numpy, y_shape = conv_step(rank, x_shape, k_shape, dtype, **conv_args)
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(k_shape).astype(dtype)
    for batch in batches or [x_shape[0]]:
        x = rng.standard_normal((batch, *x_shape[1:])).astype(dtype)
        r = rng.standard_normal((batch, *y_shape[1:])).astype(dtype)
        for got, want in zip(llvm(x, w, r), numpy(x, w, r)):
            assert got.shape == want.shape
            np.testing.assert_allclose(got, want, **TOL[dtype])


GEOMETRIES = conv_geometries(max_size=9, max_kernel=3)


@examples(15)
@given(GEOMETRIES, st.integers(1, 4), st.integers(1, 5), st.integers(1, 3))
def test_conv_and_its_gradients_match_the_interpreter(geometry, cin, cout, batch):
    check(
        geometry.rank,
        (batch, *geometry.sizes, cin),
        (*geometry.kernel, cin, cout),
        strides=geometry.strides,
        dilation_rate=geometry.dilation,
        padding=geometry.padding,
    )


def test_float32_conv2d_in_many_uneven_blocks(monkeypatch):
    monkeypatch.setattr(conv_gemm, "BLOCK_ROWS", 7)  # 7 * 20 = 140 pixels: 20 blocks a pass
    monkeypatch.setattr(emit_conv_grad, "WGRAD_ROWS", 11)
    check(2, (7, 9, 8, 3), (3, 3, 3, 5), "float32", padding="same", strides=2)
    check(2, (3, 9, 8, 6), (2, 2, 6, 4), "float64", batches=[3, 1])


def test_long_im2col_rows_split_into_column_blocks(monkeypatch):
    # K = 3 * 3 * 32 = 288: each thread's share of dW's rows takes two GEMMs of <= 128 rows
    check(2, (3, 7, 6, 32), (3, 3, 32, 4), "float32", padding="same")
    monkeypatch.setattr(conv_gemm, "BLOCK_BYTES", 4096)  # long rows: blocks of only 8 pixels
    check(2, (3, 7, 6, 32), (3, 3, 32, 4), "float64", strides=2)


def test_pointwise_conv_skips_im2col_and_runs_any_batch():
    check(1, (4, 10, 17), (1, 17, 7), batches=[4, 1, 5])  # 17 channels: the GEMM path
    g = conv_gemm.conv_geometry(
        gc.conv1d(gc.placeholder((None, 10, 17)), gc.placeholder((1, 17, 7))),
        (None, 10, 17),
        (1, 17, 7),
    )
    assert conv_gemm.is_pointwise(g) and g.K >= emit_conv.DIRECT_BELOW


def test_tiny_receptive_fields_take_the_direct_loop_nest():
    check(2, (3, 9, 8, 1), (3, 3, 1, 5), padding="same", strides=(1, 2))
    g = conv_gemm.conv_geometry(
        gc.conv2d(gc.placeholder((None, 9, 8, 1)), gc.placeholder((3, 3, 1, 5))),
        (None, 9, 8, 1),
        (3, 3, 1, 5),
    )
    assert g.K < emit_conv.DIRECT_BELOW


def test_empty_batch_gives_zero_weight_gradient():
    llvm, _, _ = conv_step(2, (1, 5, 5, 2), (3, 3, 2, 2), "float64")
    y, gx, gw = llvm(np.zeros((0, 5, 5, 2)), np.ones((3, 3, 2, 2)), np.zeros((0, 3, 3, 2)))
    assert y.shape == (0, 3, 3, 2) and gx.shape == (0, 5, 5, 2) and not gw.any()


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling_step_matches_the_interpreter(kind):
    x = gc.placeholder((None, 9, 8, 3), name="x")
    pool = getattr(gc, f"{kind}_pool2d")
    y = pool(gc.relu(x), (3, 2), strides=2, padding="same")
    outputs = [y, gc.grad(gc.sum(y * y), x)]
    llvm, numpy = gc.function([x], outputs), gc.function([x], outputs, backend="numpy")
    v = np.random.default_rng(2).standard_normal((5, 9, 8, 3)).astype("float32")
    for got, want in zip(llvm(v), numpy(v)):
        np.testing.assert_allclose(got, want, **TOL["float32"])


@examples(10)
@given(GEOMETRIES, st.sampled_from(["max", "avg"]), st.integers(1, 3))
def test_pooling_on_random_geometries_matches_the_interpreter(geometry, kind, batch):
    rank, sizes, window, strides, padding = (
        geometry.rank, geometry.sizes, geometry.kernel, geometry.strides, geometry.padding
    )
    if padding == "causal" or any(n < k for n, k in zip(sizes, window)):
        padding = "same"  # (a window larger than the input only fits with padding)
    x = gc.placeholder((None, *sizes, 2), "float64", name="x")
    y = getattr(gc, f"{kind}_pool{rank}d")(x, window, strides, padding)
    outputs = [y, gc.grad(gc.sum(y * y), x)]
    llvm, numpy = gc.function([x], outputs), gc.function([x], outputs, backend="numpy")
    v = np.random.default_rng(batch).standard_normal((batch, *sizes, 2))
    for got, want in zip(llvm(v), numpy(v)):
        np.testing.assert_allclose(got, want, **TOL["float64"])


# The max-pool gradient once "added 0" for padding taps at an index inside image 0's first
# pixel, from whichever thread ran the image: a read-modify-write racing with thread 0's own
# accumulation there, which now and then lost image 0's gradient (about 1 call in 4 here).
RACE_CODE = """
import numpy as np, graphc as gc
x = gc.placeholder((None, 8, 8, 1), "float64", name="x")
y = gc.max_pool2d(x, (3, 3), (1, 1), "same")
outputs = [gc.grad(gc.sum(y * y), x)]
llvm, numpy = gc.function([x], outputs), gc.function([x], outputs, backend="numpy")
for batch in (2, 3):
    v = np.random.default_rng(batch).standard_normal((batch, 8, 8, 1))
    want = numpy(v)[0]
    bad = sum(not np.allclose(llvm(v)[0], want, rtol=1e-12, atol=0) for _ in range(4000))
    assert bad == 0, f"batch {batch}: {bad} of 4000 calls wrong"
"""


def test_max_pool_gradient_threads_never_write_each_others_images():
    env = dict(os.environ, GRAPHC_NUM_THREADS="2", GRAPHC_CACHE="0")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    done = subprocess.run([sys.executable, "-c", RACE_CODE], env=env, cwd=root, timeout=60,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.parametrize("cin", [16, 20, 33])
def test_im2col_copies_whole_taps_as_vectors(cin):
    # padded and strided (not implicit): whole taps in vectors, zero in the padding; dW's
    # column blocks of <= 128 split taps, whose channels are then copied one by one
    check(2, (3, 7, 6, cin), (3, 3, cin, 5), "float32", padding="same", batches=[3, 1])
    check(2, (2, 9, 8, cin), (3, 2, cin, 4), "float64", strides=2, padding="same")
