"""The AMX weight gradient fed directly (conv_bf16_wgrad.py) on the edges its padding must
keep clean, and the bfloat16 convolutions' error path when a thread's heap array cannot be
allocated (conv_bf16_parts.ThreadBuffers)."""

import resource

import ml_dtypes
import numpy as np
import pytest

import graphc as gc
from graphc.backends.llvm import gemm_amx_tiles
from tests.backends.thread_runs import result_with_threads
from tests.bf16.test_conv_bf16 import assert_matches_the_interpreter

BF16 = ml_dtypes.bfloat16


@pytest.mark.skipif(not gemm_amx_tiles.permission_granted(), reason="no AMX tile data here")
@pytest.mark.parametrize("at", ["last", "first"])
def test_an_infinite_output_gradient_gives_the_interpreters_non_finite_pattern(at):
    # 7 x 5 x 5 = 175 pixels (a partial 32-pixel tile): padded pixels must add 0, never
    # inf * 0 = NaN, so inf and NaN land where the interpreter puts them
    rng = np.random.default_rng(5)
    xs = rng.standard_normal((7, 7, 7, 3)).astype(BF16)
    gs = rng.standard_normal((7, 5, 5, 33)).astype(BF16)
    gs[-1 if at == "last" else 0, -1, -1, 4] = np.inf
    x = gc.placeholder(xs.shape, "float32")
    w = gc.placeholder((3, 3, 3, 33), "float32")
    g = gc.placeholder(gs.shape, "float32")
    y = gc.conv2d(gc.cast(x, "bfloat16"), gc.cast(w, "bfloat16"))
    dw = gc.grad(gc.sum(gc.cast(y, "float32") * g), [w])[0]
    ws = np.ones((3, 3, 3, 33), np.float32)
    got, ref = (np.asarray(gc.function([x, w, g], dw, backend=backend)(
        xs.astype(np.float32), ws, gs.astype(np.float32))) for backend in ("llvm", "numpy"))
    assert np.isinf(ref).any()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(ref))


def address_space_bytes() -> int:
    with open("/proc/self/status") as status:
        line = next(s for s in status if s.startswith("VmSize:"))
    return int(line.split()[1]) * 1024


def allocation_failure() -> str:
    """A deep bfloat16 convolution (4.7 MB of packed weights a thread, from the heap) run
    once, then again with the address space capped just above what the process uses."""
    x = gc.placeholder((2, 6, 6, 512), "float32")
    w = gc.placeholder((3, 3, 512, 512), "float32")
    y = gc.conv2d(gc.cast(x, "bfloat16"), gc.cast(w, "bfloat16"), padding="same")
    f = gc.function([x, w], gc.cast(y, "float32"))
    args = (np.ones((2, 6, 6, 512), np.float32), np.ones((3, 3, 512, 512), np.float32))
    first = float(np.asarray(f(*args))[0, 2, 2, 0])
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (address_space_bytes() + (2 << 20), hard))
    try:
        f(*args)
    except MemoryError as err:
        return f"{first} {err}"
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    return "no error"


def test_a_failed_heap_allocation_raises_memory_error_naming_the_op():
    message = result_with_threads("tests.bf16.test_conv_bf16_wgrad", "allocation_failure", 1)
    assert message.startswith("4608.0 conv2d: a thread's bfloat16 buffers could not be "
                              "allocated"), message
    assert "test_conv_bf16_wgrad.py" in message  # the user's line that built the node


@pytest.mark.parametrize("case", [(2, (3, 9, 9, 1), (3, 3, 1, 5), {}),  # K = 9: the GEMM's cols
                                  (2, (2, 7, 7, 2), (3, 3, 2, 40), dict(padding="same"))],
                         ids=["im2col-row-9", "im2col-row-18"])
def test_short_im2col_rows_match_the_interpreter(case):
    # under 16 values the input gradient's columns come from the GEMM, from 16 on from tiles
    # whose rows spill into the next row (18: each tile row spans the row's end)
    assert_matches_the_interpreter(case)
