"""The ops of a fused graph (the 'fused' stage of the LLVM backend, passes.fuse).

A `kernel` node stands for one fused kernel: attr 'body' is its typed body (passes.kernels:
DenseKernel, LoopKernel, ...), whose `.outputs` are the nodes of the 'expanded' stage it
produces; the kernel node's value is the first of them, and output i >= 1 is read through a
`kernel_output` node (attr 'index'). Neither runs in the interpreter: passes.fuse.evaluate_fused
runs a fused graph with the bodies' own NumPy implementations, and compiled backends emit them.
"""

from __future__ import annotations

from graphc.ops import defop


def _not_interpreted(*_, **__):
    raise RuntimeError("kernel nodes run through passes.fuse.evaluate_fused or a compiled backend")


def infer_kernel(inputs, *, body, **_):
    return body.outputs[0].shape, body.outputs[0].dtype


def infer_kernel_output(inputs, *, body, index):
    return body.outputs[index].shape, body.outputs[index].dtype


defop("kernel", infer=infer_kernel, impl=_not_interpreted, fusion="structural",
      doc="A fused kernel (see passes.fuse); its value is the first of its outputs.")
defop("kernel_output", infer=infer_kernel_output, impl=_not_interpreted, fusion="structural",
      doc="Output `index` (>= 1) of a fused kernel.")
