"""The per-call fast paths of a compiled function (batch-1 predict is microseconds, so a call
takes data addresses through the buffer protocol and its variables' locks without an
ExitStack): every kind of argument still reaches the kernels, and the locks are released."""

import ml_dtypes
import numpy as np
import pytest

import graphc as gc
from graphc.backends.llvm.runtime import data_address
from graphc.function import shape_fits


def scaled_sum():
    W = gc.shared(np.arange(3, dtype=np.float32), name="W")
    x = gc.placeholder((None, 3), name="x")
    return W, x, (x * W).sum(axis=1)


def arguments():
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    read_only = x.copy()
    read_only.flags.writeable = False
    return {"writable": x, "read-only": read_only, "empty batch": x[:0],
            "one row": x[:1], "float64 (cast)": x.astype(np.float64)}


@pytest.mark.parametrize("kind", list(arguments()))
@pytest.mark.parametrize("backend", ["llvm", "numpy"])
def test_every_kind_of_argument_reaches_the_kernels(kind, backend):
    W, x, y = scaled_sum()
    value = arguments()[kind]
    got = gc.function([x], y, backend=backend)(value)
    np.testing.assert_array_equal(got, (value.astype(np.float32) * np.arange(3)).sum(1))


def test_data_address_is_numpys_for_every_array_kind():
    read_only = np.ones(5, np.float32)
    read_only.flags.writeable = False
    for array in (np.ones(5, np.int8), read_only, np.zeros(0, np.float32),
                  np.ones(4, ml_dtypes.bfloat16), np.ones((2, 3), np.float64)[1]):
        assert data_address(array) == array.ctypes.data, array.dtype


def test_a_bfloat16_input_runs():
    x = gc.placeholder((2,), dtype="bfloat16", name="x")
    f = gc.function([x], gc.cast(x, "float32") * 2)
    np.testing.assert_array_equal(f(np.array([1.5, -2], ml_dtypes.bfloat16)), [3.0, -4.0])


def test_shape_fits_checks_rank_and_known_sizes():
    assert shape_fits((None, 3), (7, 3)) and shape_fits((), ())
    assert not shape_fits((None, 3), (7, 4)) and not shape_fits((None, 3), (7, 3, 1))


def test_locks_are_released_when_the_block_raises():
    W, x, y = scaled_sum()
    f = gc.function([x], y, updates=[(W, W + 1)])
    with pytest.raises(RuntimeError), f.locks.held():
        raise RuntimeError("inside the block")
    assert not any(lock.locked() for lock in f.locks.locks)
    with pytest.raises(gc.ShapeError):
        f(np.ones((2, 4), np.float32))
    f(np.ones((2, 3), np.float32))  # would hang if a lock were still held
    assert not any(lock.locked() for lock in f.locks.locks)
    np.testing.assert_array_equal(W.get_value(), [1, 2, 3])
