"""The LLVM backend: the optimized graph becomes fused kernels in one native module, run by a
pool of native threads with one call per function call.

Pipeline (each stage is kept on the PipelineRun, so `f.graph("fused")` shows the kernels):
    expanded  passes.fuse.expand_composites  softmax/log_softmax into reductions, relu masks
    fused     passes.fuse.fuse_kernels       dense / loop / op kernels
then lower.lower (schedule, buffers, in-place updates), codegen.generate (LLVM IR text),
jit.compile_ir (O3 for the host CPU, disk cache) and runtime.Executable.

`compile(run)` is the backend protocol of graphc.backends: it returns a callable taking one
array per graph input, returning one array per output, applying updates in place; its
`.kernels` describes each kernel (graphc.backends.llvm.runtime.KernelInfo).
"""

from __future__ import annotations

import hashlib
import time

from graphc.backends.llvm import jit
from graphc.backends.llvm.codegen import generate
from graphc.backends.llvm.kernel_info import describe_kernels
from graphc.backends.llvm.lower import lower
from graphc.backends.llvm.runtime import Executable
from passes.fuse import expand_composites, fuse_kernels

STAGES = ("expanded", "fused")


def compile(run):  # noqa: A001 - the backend protocol's name
    """Compile the last stage of `run` (see the module doc); appends 'expanded' and 'fused'."""
    run.run("expanded", expand_composites)
    fused = run.run("fused", fuse_kernels)
    start = time.perf_counter()
    program = lower(fused, run.stages["expanded"])
    run.seconds["lower"] = time.perf_counter() - start
    start = time.perf_counter()
    text, names = generate(program)
    run.seconds["codegen"] = time.perf_counter() - start
    name = "graphc_fn_" + hashlib.sha1(text.encode()).hexdigest()[:10]
    compiled = jit.compile_ir(text, name)
    run.seconds["llvm"] = compiled.seconds
    kernels = describe_kernels(program, names, text, compiled.seconds)
    return Executable(program, compiled, names, kernels)
