"""The bias gradient of a bfloat16 convolution summed inside its weight-gradient kernel
(bias_grad_fusion.py makes conv{1,2}d_weight_bias_grad in bfloat16; conv_bf16_bias.py sums):
against the interpreter on odd channel counts, on AMX tiles and on the GEMM, the same bits on 1
and 2 threads, and mixed-precision gradients against float64."""

import hashlib
import os

import numpy as np
import pytest

import graphc as gc
from graphc.backends.llvm import bias_grad_fusion, gemm_amx_tiles
from graphc.ir import Graph
from graphc.ops import call
from passes.fuse import kernel_nodes
from passes.simplify import simplify
from tests.backends.thread_runs import result_with_threads
from tests.bf16.mixed_gradients import assert_normwise_within, mixed_and_exact_gradients
from tests.bf16.test_conv_bf16 import BF16, STEP, ULP

# (rank, x shape, kernel shape, keyword arguments): couts 33, 1, 7, 257 and 3; 13 x 7 x 7 = 637
# pixels (two 512-pixel passes), a 1-pixel image, a dW of 297 rows (two column passes)
CASES = [
    (2, (13, 9, 9, 3), (3, 3, 3, 33), {}),
    (2, (1, 11, 11, 16), (3, 3, 16, 1), dict(dilation_rate=2)),
    (1, (7, 33, 16), (5, 16, 7), dict(padding="same")),
    (2, (3, 5, 5, 7), (1, 1, 7, 257), {}),
    (2, (1, 3, 3, 33), (3, 3, 33, 3), {}),
]
IDS = [f"conv{c[0]}d-{c[1]}-{c[2]}" for c in CASES]


def bias_step(case, dtype):
    """(inputs, [dW, db]) of sum(cast(conv(x, W) + b) * g), computed in `dtype` from float32
    (float64 for the reference) inputs and weights."""
    rank, x_shape, w_shape, kwargs = case
    io = "float64" if dtype == "float64" else "float32"
    conv = gc.conv2d if rank == 2 else gc.conv1d
    x, w = gc.placeholder((None, *x_shape[1:]), io), gc.placeholder(w_shape, io)
    b = gc.placeholder(w_shape[-1:], io)
    y = conv(gc.cast(x, dtype), gc.cast(w, dtype), **kwargs) + gc.cast(b, dtype)
    g = gc.placeholder((None, *y.shape[1:]), io)
    return [x, w, b, g], gc.grad(gc.sum(gc.cast(y, io) * g), [w, b])


def run_case(case, backend, dtype="bfloat16", absolute=False):
    inputs, outputs = bias_step(case, dtype)
    rng = np.random.default_rng(len(IDS[0]) + case[2][-1])
    shapes = [(case[1][0], *i.shape[1:]) if i.shape[0] is None else i.shape for i in inputs]
    values = [rng.standard_normal(s).astype(BF16).astype(np.float32) for s in shapes]
    if dtype == "float64":  # sums of |terms|: the scale of float32 order effects
        values = [np.abs(v).astype(np.float64) if absolute else v.astype(np.float64)
                  for v in values]
    f = gc.function(inputs, outputs, backend=backend)
    return f, [np.asarray(r) for r in f(*values)]


def assert_matches_the_interpreter(case):
    f, got = run_case(case, "llvm")
    ops = {op for k in kernel_nodes(f.graph("fused")) for op in k.attr("ops")}
    assert f"conv{case[0]}d_weight_bias_grad" in ops, ops  # the separate sum is gone
    _, ref = run_case(case, "numpy")
    _, scales = run_case(case, "numpy", "float64", absolute=True)
    for name, a, b, scale in zip(("dw", "db"), got, ref, scales):
        assert a.shape == b.shape, name
        # both round a float32 sum once (dW, db: float32 again after the cast), in different
        # orders: one bfloat16 step plus float32 order effects, as test_conv_bf16 allows
        error = np.abs(a.astype(np.float64) - b)
        assert np.all(error <= STEP * np.abs(b) + 1e-5 * scale), (name, error.max())


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_fused_bias_gradient_matches_the_interpreter(case):
    assert_matches_the_interpreter(case)


def gemm_path_matches() -> bool:
    """The kernel without AMX tiles (conv_bf16.emit_conv_weight_grad_gemm), compiled afresh."""
    os.environ["GRAPHC_CACHE"] = "0"  # the cache keys on the graph, not on the kernel's path
    gemm_amx_tiles.permission_granted = lambda: False
    for case in CASES[:2]:
        assert_matches_the_interpreter(case)
    return True


def test_the_gemm_path_sums_the_bias_too():
    assert result_with_threads("tests.bf16.test_conv_bf16_bias_grad", "gemm_path_matches", 2)


def bits_digest() -> list:
    return [hashlib.sha256(b"".join(r.tobytes() for r in run_case(c, "llvm")[1])).hexdigest()
            for c in CASES]


def test_the_same_bits_on_one_and_two_threads():
    one = result_with_threads("tests.bf16.test_conv_bf16_bias_grad", "bits_digest", 1)
    assert one == result_with_threads("tests.bf16.test_conv_bf16_bias_grad", "bits_digest", 2)


def conv_bias_loss(x, t, w, b, dtype):
    io = "float64" if dtype == "float64" else "float32"
    y = gc.conv2d(gc.cast(x, dtype), gc.cast(w, dtype), padding="same") + gc.cast(b, dtype)
    return gc.mean((gc.cast(gc.relu(y), io) - t) ** 2)


@pytest.mark.parametrize("backend", ["numpy", "llvm"])
def test_mixed_precision_bias_gradient_against_float64(backend):
    rng = np.random.default_rng(4)
    xs, ts = rng.standard_normal((7, 7, 7, 3)), rng.standard_normal((7, 7, 7, 33))
    ws, bs = rng.standard_normal((3, 3, 3, 33)) * 0.3, rng.standard_normal(33) * 0.1
    grads = mixed_and_exact_gradients(conv_bias_loss, (xs, ts), (ws, bs), backend)
    # x, W, b, y and dy each rounded to bfloat16 (2^-9 each): a few 2^-8 normwise
    assert_normwise_within(grads, 4 * ULP)


def planned_ops(widened: bool, extra_reader: bool) -> set:
    """The ops of the expanded graph of [dW, bfloat16(sum(float32 g))] for a bfloat16 g
    (widened: g = bfloat16(float32 values of a bfloat16 node), an exact round trip; else g a
    rounding of float32 values, which the float32 sum does not read), simplified as the
    pipeline does before the 'expanded' stage."""
    x = gc.placeholder((3, 7, 7, 3), "bfloat16")
    source = gc.placeholder((3, 5, 5, 5), "bfloat16" if widened else "float32")
    wide = gc.cast(source, "float32") if widened else source
    g = gc.cast(wide, "bfloat16")
    dw = call("conv2d_weight_grad", x, g, kernel_size=(3, 3), strides=(1, 1),
              dilation=(1, 1), padding=((0, 0), (0, 0)))
    total = gc.sum(wide, axis=(0, 1, 2))
    outputs = (dw, gc.cast(total, "bfloat16")) + ((total,) if extra_reader else ())
    graph = bias_grad_fusion.fuse_bias_grads(simplify(Graph((x, source), outputs)))  # as run
    return {n.op for n in graph.nodes()}


@pytest.mark.parametrize("widened, extra_reader, fused", [
    (True, False, True), (True, True, False), (False, False, False)])
def test_only_the_rounding_of_a_sum_of_g_s_own_values_fuses(widened, extra_reader, fused):
    assert ("conv2d_weight_bias_grad" in planned_ops(widened, extra_reader)) == fused
