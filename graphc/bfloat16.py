"""bfloat16 in the IR: which ops take it, and its rounding as the interpreter computes it.

A bfloat16 value is the upper half of a float32. Every op that takes bfloat16 computes in float32
and rounds its result once, to nearest even (NaN becomes the quiet NaN of its sign, as ml_dtypes
does; denormals are kept). The interpreter and the llvm backend follow this same rule, so their
results are equal bit for bit. Ops outside `BFLOAT16_OPS` and the elementwise/leaf/view classes
refuse bfloat16 with an error that names them: their accumulations (sums, statistics) belong in
float32, where a cast puts them.
"""

from __future__ import annotations

import numpy as np

from graphc.ir import DtypeError

# Fusion classes whose ops compute element by element (or only move data): bfloat16 passes.
ELEMENTWISE_CLASSES = ("elementwise", "leaf", "view", "structural")
# Other ops with a bfloat16 kernel of their own (operands bfloat16, float32 accumulation).
BFLOAT16_OPS = {"matmul", "conv1d", "conv2d", "conv1d_input_grad", "conv2d_input_grad",
                "conv1d_weight_grad", "conv2d_weight_grad",
                "conv1d_weight_bias_grad", "conv2d_weight_bias_grad",  # llvm's bias_grad_fusion
                # the max of bfloat16 values is one of them: exact, nothing accumulates
                "max_pool1d", "max_pool2d", "max_pool1d_grad", "max_pool2d_grad"}


def check_bfloat16_support(op: str, fusion: str, inputs, dtype: str) -> None:
    """A DtypeError if `op` would read or produce bfloat16 but has no bfloat16 computation."""
    touches = dtype == "bfloat16" or any(i.dtype == "bfloat16" for i in inputs)
    if not touches or fusion in ELEMENTWISE_CLASSES or op in BFLOAT16_OPS:
        return
    raise DtypeError(
        f"{op} does not compute in bfloat16 (its {fusion} work accumulates, which needs float32); "
        f"cast its bfloat16 inputs with gc.cast(x, 'float32') and the result back if needed")


def widen(values) -> list:
    """bfloat16 arrays as float32 (exact), so an op's reference computes in float32."""
    return [v.astype(np.float32) if getattr(v, "dtype", None) == "bfloat16" else v
            for v in values]


def round_bits(x) -> np.ndarray:
    """float32 values rounded to bfloat16, as uint16 bit patterns, by integer arithmetic only:
    the specification the llvm emitters follow (and ml_dtypes' astype agrees with)."""
    bits = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    quiet_nan = ((bits >> 16) & 0x8000) | 0x7FC0
    is_nan = np.isnan(np.asarray(x, np.float32))
    return np.where(is_nan, quiet_nan, rounded).astype(np.uint16)
