"""Mixed-precision Dense fuses its bias (arriving as cast(b) of the float32 variable) and its
activation into the bfloat16 GEMM's epilogue, forward and in the training step, on llvm; the
results stay those of the numpy interpreter."""

import ml_dtypes
import numpy as np
import pytest

import graphc as gc
from frontend.layers import Dense

BF16 = ml_dtypes.bfloat16


def kernels(f, *args):
    return gc.profile(f, *args, repeat=1, peak=False).kernels


def mixed_mlp(activation):
    x = gc.placeholder((None, 33), "float32")
    layers = [Dense(257, activation=activation, dtype="mixed_bfloat16"),
              Dense(7, dtype="mixed_bfloat16")]
    y = layers[1](layers[0](x))
    return x, gc.cast(y, "float32"), [w for layer in layers for w in layer.weights]


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "linear"])
def test_forward_bias_and_activation_run_in_the_gemm_epilogue(activation):
    x, y, _ = mixed_mlp(activation)
    value = np.random.default_rng(0).standard_normal((7, 33)).astype(np.float32)
    report = kernels(gc.function([x], y), value)
    dense = [k for k in report if k.kind == "dense"]
    assert len(dense) == 2 and all("add" in k.ops for k in dense), [k.ops for k in report]
    if activation != "linear":
        assert activation in dense[0].ops + dense[1].ops
    strays = [k.name for k in report if k.kind == "loop" and ({"add", activation} & set(k.ops))]
    assert strays == [], strays


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_fused_forward_matches_the_interpreter(activation):
    x, y, _ = mixed_mlp(activation)
    value = np.random.default_rng(1).standard_normal((33, 33)).astype(np.float32)
    ref, got = (np.asarray(gc.function([x], y, backend=b)(value)) for b in ("numpy", "llvm"))
    # GEMM sums in another order, then bfloat16 roundings: a few bfloat16 steps of the scale
    assert np.allclose(got, ref, rtol=2**-6, atol=2**-6 * np.abs(ref).max())


def sgd_step(backend):
    x, y, weights = mixed_mlp("relu")
    t = gc.placeholder((None, 7), "float32")
    loss = gc.mean((y - t) ** 2)
    updates = [(w, w - 0.1 * g) for w, g in zip(weights, gc.grad(loss, weights))]
    return gc.function([x, t], loss, updates=updates, backend=backend), weights


def test_training_step_has_no_separate_bias_or_activation_kernel_and_matches_numpy():
    rng = np.random.default_rng(2)
    args = rng.standard_normal((100, 33)).astype(np.float32), \
        rng.standard_normal((100, 7)).astype(np.float32)
    step, _ = sgd_step("llvm")
    report = kernels(step, *args)
    names = [(k.name, k.ops) for k in report]
    assert sum(k.kind == "dense" and "add" in k.ops for k in report) == 2, names
    assert not [k for k in report if k.kind == "loop" and "relu" in k.ops], names
    losses = {}
    for backend in ("numpy", "llvm"):
        step, weights = sgd_step(backend)
        for w, seed in zip(weights, range(4)):  # the same start on both backends
            shape = w.get_value().shape
            w.set_value(np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
                        * 0.1)
        losses[backend] = [float(step(*args)) for _ in range(3)]
    assert np.allclose(losses["llvm"], losses["numpy"], rtol=2**-6), losses
