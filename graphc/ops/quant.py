"""int8 inference: `quantized_matmul`, a dense product with int8 weights, its inputs quantized
to int8 on the fly, exact int32 sums and a dequantize + bias + activation epilogue; and the
scheme's helpers (weight quantization, the packed weight layout) that layers and the LLVM
kernel (backends/llvm/gemm_int8.py, emit_quant.py) share.

The scheme (Keras 3's int8 Dense: symmetric abs-max, scales as multipliers):
  weights, per output channel n:  kernel_scale[n] = 127 / (max_k |w[k, n]| + EPSILON),
                                  q_w = clip(round(w * kernel_scale), -127, 127)   (int8)
  inputs, per row (dynamic):      s = 127 / (max_k |x[k]| + EPSILON)   (or a static scale)
                                  q_x = clip(round(x * s), -127, 127)
  output: f(acc) * ((1 / s) * (1 / kernel_scale[n])) + bias[n], acc = q_x @ q_w in int32,
  then relu or nothing. Every step is one rounding in x's dtype (round half to even), so the
  NumPy reference here and the kernel agree bit for bit.

Packed weights: int8 [ceil(K/4), round_up(N, 16), 4] (4 consecutive k of one column per
32-bit lane, as vpdpbusd reads them), zero-padded; `pack_weights` / `unpack_weights`.
"""

from __future__ import annotations

import numpy as np

from graphc.ir import DtypeError, ShapeError
from graphc.ops import defop, dims_equal, require_float
from graphc.ops.cases import In, case

EPSILON = 1e-7  # Keras's backend.epsilon(), added to the abs-max as Keras's abs_max_quantize
QMAX = 127
LANES = 16  # output columns per vector of the int8 GEMM
GROUP = 4  # k values per 32-bit lane
QUANTIZED_ACTIVATIONS = ("linear", "relu")  # exact in every backend; others follow as ops


def padded_k(K: int) -> int:
    return -(-K // GROUP) * GROUP


def packed_shape(K: int, N: int) -> tuple:
    return (padded_k(K) // GROUP, -(-N // LANES) * LANES, GROUP)


def pack_weights(w) -> np.ndarray:
    """int8 [K, N] -> the packed layout (module doc)."""
    w = np.asarray(w)
    if w.dtype != np.int8 or w.ndim != 2:
        raise TypeError(f"pack_weights: needs an int8 matrix, received {w.shape} {w.dtype}")
    groups, width, _ = packed_shape(*w.shape)
    padded = np.zeros((groups * GROUP, width), np.int8)
    padded[:w.shape[0], :w.shape[1]] = w
    return np.ascontiguousarray(padded.reshape(groups, GROUP, width).transpose(0, 2, 1))


def unpack_weights(packed, K: int, N: int) -> np.ndarray:
    """The packed layout -> int8 [K, N]."""
    groups, width, _ = packed.shape
    return packed.transpose(0, 2, 1).reshape(groups * GROUP, width)[:K, :N]


def abs_max_scale(x, axis, dtype="float32"):
    """127 / (max |x| + EPSILON) along `axis` (keepdims), in `dtype`."""
    amax = np.max(np.abs(np.asarray(x, dtype)), axis=axis, keepdims=True)
    return (np.asarray(QMAX, dtype) / (amax + np.asarray(EPSILON, dtype))).astype(dtype)


def quantize_values(x, scale) -> np.ndarray:
    """clip(round(x * scale), -127, 127) as int8 (round half to even)."""
    return np.clip(np.rint(x * scale), -QMAX, QMAX).astype(np.int8)


def quantize_kernel(w) -> tuple:
    """float [K, N] -> (int8 [K, N], float32 kernel_scale [N]): per output channel."""
    scale = abs_max_scale(w, axis=0)
    return quantize_values(np.asarray(w, np.float32), scale), scale[0]


def quantized_matmul_reference(x, packed, kernel_scale, bias=None, *, activation="linear",
                               input_scale=None):
    """The op's semantics in NumPy (see the module doc)."""
    dtype = x.dtype
    K, N = x.shape[-1], kernel_scale.shape[0]
    rows = x.reshape(-1, K)
    s = (abs_max_scale(rows, axis=1, dtype=dtype) if input_scale is None
         else np.full((rows.shape[0], 1), input_scale, dtype))
    q = quantize_values(rows, s).astype(np.int64)
    acc = (q @ unpack_weights(packed, K, N).astype(np.int64)).astype(np.int32)
    one = np.asarray(1, dtype)
    out = acc.astype(dtype) * ((one / s) * (one / kernel_scale.astype(dtype))[None, :])
    if bias is not None:
        out = out + bias.astype(dtype)
    if activation == "relu":
        out = np.maximum(out, np.asarray(0, dtype))
    return out.reshape(x.shape[:-1] + (N,)).astype(dtype)


def infer_quantized_matmul(inputs, *, activation="linear", input_scale=None):
    x, packed, scale, *bias = inputs
    dtype = require_float(x.dtype)
    if packed.dtype != "int8" or packed.ndim != 3:
        raise DtypeError(f"the packed kernel must be int8 of 3 dimensions (graphc.ops.quant."
                         f"pack_weights), got {packed.dtype} {tuple(packed.shape)}")
    if scale.ndim != 1 or any(i.dtype != dtype for i in (scale, *bias)):
        raise DtypeError(f"kernel_scale (and bias) must be vectors of x's dtype {dtype}")
    K, N = x.shape[-1] if x.ndim else None, scale.shape[0]
    if K is None or N is None or tuple(packed.shape) != packed_shape(K, N):
        raise ShapeError(f"a packed kernel for {K} inputs and {N} units has shape "
                         f"{packed_shape(K, N) if K and N else '?'}")
    if bias and not dims_equal(bias[0].shape[0] if bias[0].ndim == 1 else -1, N):
        raise ShapeError(f"bias must have shape ({N},)")
    if activation not in QUANTIZED_ACTIVATIONS:
        raise ShapeError(f"activation {activation!r} is not fused; choose one of "
                         f"{QUANTIZED_ACTIVATIONS} and apply others after the op")
    if input_scale is not None and not (np.isfinite(input_scale) and input_scale > 0):
        raise ShapeError(f"a static input_scale must be a positive number, got {input_scale}")
    return x.shape[:-1] + (N,), dtype


def dims_quantized_matmul(node, ins, syms):
    return list(ins[0][:-1]) + [node.shape[-1]]


def flops_quantized_matmul(node, shape_of) -> int:
    return 2 * int(np.prod(shape_of(node))) * shape_of(node.inputs[0])[-1]


def packed_case(K, N, kind="int"):
    return In(packed_shape(K, N), kind, "int8", high=QMAX + 1)


defop(
    "quantized_matmul",
    infer=infer_quantized_matmul,
    impl=quantized_matmul_reference,
    fusion="opaque",
    dims=dims_quantized_matmul,
    flops=flops_quantized_matmul,
    cases=[
        case(In((3, 5)), packed_case(5, 7), In((7,), "positive"), grad=False),
        case(In((2, 3, 33)), packed_case(33, 17, "normal"), In((17,), "positive"),
             In((17,)), activation="relu", grad=False),
        case(In((4, 8)), packed_case(8, 3), In((3,), "positive"), In((3,)), input_scale=20.0,
             grad=False),
    ],
    doc="x @ w with int8 weights (packed) and inputs quantized per row; not differentiable.",
)
