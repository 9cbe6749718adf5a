"""LLVM kernels of the transposed convolutions: conv{1,2}d_transpose is the input gradient of
a forward convolution with the same attributes, and that kernel (emit_conv_grad) reads its
geometry from the node's own output shape and attributes, so it serves both ops."""

from __future__ import annotations

from graphc.backends.llvm.emit_conv_grad import emit_conv_input_grad
from graphc.backends.llvm.emitters import register

for _r in (1, 2):
    register(f"conv{_r}d_transpose", "kernel", emit_conv_input_grad)
