"""Max pooling and its gradient on bfloat16 (exact: a max is one of its inputs): the llvm
backend against the interpreter bit for bit on odd sizes, on 1 and 2 threads; overlapping
windows refused on llvm with an error naming the fix; MaxPooling layers under mixed_bfloat16
stay bfloat16 when fed bfloat16 by windows that tile."""

import hashlib

import numpy as np
import pytest

import graphc as gc
from frontend import mixed_precision
from frontend.layers import Conv2D, MaxPooling1D, MaxPooling2D
from graphc.ops import call
from tests.backends.thread_runs import result_with_threads

# (x shape, pool_size): odd batches, sizes and channels (1, 7, 33, 257); windows that tile
CASES = [
    ((3, 7, 9, 33), (2, 2)),
    ((1, 11, 11, 64), (2, 2)),
    ((2, 1, 257, 7), (1, 2)),
    ((7, 9, 9, 1), (3, 3)),
    ((2, 4, 4, 257), (2, 2)),
    ((7, 33, 7), (2,)),
    ((1, 257, 33), (3,)),
]


def pooled_and_gradient(x_shape, pool_size):
    """(inputs, [y, dx, the op's dx]) of max pooling on bfloat16 (x fed as float32 holding
    bfloat16 values; gc.grad's dx is the bfloat16 gradient widened), dy fed in as float32."""
    rank = len(pool_size)
    pool = gc.max_pool2d if rank == 2 else gc.max_pool1d
    x = gc.placeholder((None, *x_shape[1:]))
    y = pool(gc.cast(x, "bfloat16"), pool_size=pool_size)
    g = gc.placeholder((None, *y.shape[1:]))
    (dx,) = gc.grad(gc.sum(gc.cast(y, "float32") * g), [x])
    routed = call(f"max_pool{rank}d_grad", gc.cast(x, "bfloat16"), gc.cast(g, "bfloat16"),
                  pool_size=pool_size, strides=pool_size, padding=((0, 0),) * rank)
    return [x, g], [y, dx, routed]


def case_values(x_shape, y_shape, seed=0):
    rng = np.random.default_rng(seed)
    # quarters: bfloat16 values with many ties (the first maximum takes the gradient)
    x = np.round(rng.standard_normal(x_shape) * 4).astype(np.float32) / 4
    x.reshape(-1)[5] = np.nan
    return [x, rng.standard_normal((x_shape[0], *y_shape[1:])).astype(np.float32)]


def run_case(case, backend):
    inputs, outputs = pooled_and_gradient(*case)
    assert (outputs[0].dtype, outputs[2].dtype) == ("bfloat16", "bfloat16")
    return gc.function(inputs, outputs, backend=backend)(*case_values(case[0], outputs[0].shape))


def bits(values):
    return [np.ascontiguousarray(v).view(np.uint8) for v in values]


@pytest.mark.parametrize("case", CASES)
def test_llvm_max_pooling_on_bfloat16_equals_the_interpreter_bit_for_bit(case):
    for got, want in zip(bits(run_case(case, "llvm")), bits(run_case(case, "numpy"))):
        np.testing.assert_array_equal(got, want)


def digests_of_all_cases():
    """The llvm results' digests (run under a chosen thread count by result_with_threads)."""
    return [hashlib.sha256(b.tobytes()).hexdigest()
            for case in CASES for b in bits(run_case(case, "llvm"))]


def test_the_same_bits_on_one_and_two_threads():
    module = "tests.bf16.test_bf16_max_pooling"
    want = [hashlib.sha256(b.tobytes()).hexdigest()
            for case in CASES for b in bits(run_case(case, "numpy"))]
    for threads in (1, 2):
        assert result_with_threads(module, "digests_of_all_cases", threads) == want


def test_overlapping_windows_are_refused_on_llvm_and_computed_by_the_interpreter():
    x = gc.placeholder((None, 7, 7, 3))
    y = gc.max_pool2d(gc.cast(x, "bfloat16"), pool_size=3, strides=2)
    (dx,) = gc.grad(gc.sum(gc.cast(y, "float32")), [x])
    values = np.random.default_rng(1).standard_normal((2, 7, 7, 3)).astype(np.float32)
    assert gc.function([x], dx, backend="numpy")(values).shape == values.shape
    with pytest.raises(NotImplementedError, match=r"max_pool2d_grad on bfloat16.*strides.*float32"):
        gc.function([x], dx, backend="llvm")(values)


@pytest.fixture
def mixed_policy():
    mixed_precision.set_global_policy("mixed_bfloat16")
    yield
    mixed_precision.set_global_policy("float32")


def test_max_pooling_layers_stay_bfloat16_when_fed_bfloat16_by_tiling_windows(mixed_policy):
    first = Conv2D(8, 3, activation="relu")(gc.placeholder((None, 12, 12, 1)))  # float32 island
    assert first.dtype == "float32"
    assert MaxPooling2D(2)(first).dtype == "float32"  # pooled before the next layer's cast
    second = Conv2D(8, 3, activation="relu")(first)
    assert second.dtype == "bfloat16"
    assert MaxPooling2D(2)(second).dtype == "bfloat16"
    assert MaxPooling2D(3, strides=2)(second).dtype == "float32"  # overlapping windows
    assert MaxPooling2D(2, padding="same")(second).dtype == "float32"
    assert MaxPooling1D(2)(gc.placeholder((None, 9, 4), "bfloat16")).dtype == "bfloat16"

