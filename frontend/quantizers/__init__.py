"""int8 inference (Keras 3's quantization API): `model.quantize("int8")`, `layer.quantize`,
`calibrate(model, x)` for static input scales, and Keras's `abs_max_quantize`.

Supported: Dense (and layers built on it), Conv1D and Conv2D. Others stay float32 with a
warning naming them.
The arithmetic (graphc/ops/quant.py): per-output-channel symmetric int8 weights, inputs
quantized per row by their abs-max, int32 sums on AVX512-VNNI, dequantize + bias + relu fused.
"""

import numpy as np

from frontend.quantizers.int8 import MODES, unpacked_kernel
from frontend.quantizers.model import calibrate, quantize_model
from graphc.ops import quant

__all__ = ["MODES", "abs_max_quantize", "calibrate", "quantize_model", "unpacked_kernel"]


def abs_max_quantize(inputs, axis, dtype="int8"):
    """(int8 values, float32 scale) with values = clip(round(x * scale), -127, 127) and scale
    = 127 / max |x| along `axis` (keepdims), as keras.quantizers.abs_max_quantize."""
    if np.dtype(dtype) != np.int8:
        raise ValueError(f"abs_max_quantize: only dtype int8 is supported; received {dtype!r}")
    scale = quant.abs_max_scale(inputs, axis)
    return quant.quantize_values(np.asarray(inputs, np.float32), scale), scale
