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

GRAPHC_DEBUG=1 prints each compile and one line per kernel (ops, LLVM function, its share of
the compile time); 2 also dumps the optimized LLVM IR of the module (every kernel is one
function in it), 3 also the assembly (jit.py; GRAPHC_DEBUG_DIR sends dumps to files).
"""

from __future__ import annotations

import hashlib
import sys
import time

from graphc.backends.llvm import jit, program_cache
from graphc.backends.llvm.codegen import generate
from graphc.backends.llvm.kernel_info import describe_kernels
from graphc.backends.llvm.lower import lower
from graphc.backends.llvm.runtime import Executable
from passes.fuse import expand_composites, fuse_kernels

STAGES = ("expanded", "fused")


def compile(run, use_cache: bool = True):  # noqa: A001 - the backend protocol's name
    """Compile the last stage of `run` (see the module doc); appends 'expanded' and 'fused'.

    A function whose expanded graph has the structure of one compiled before (in any process)
    is loaded from the disk cache (program_cache); its 'fused' stage is then computed only
    when asked for.
    """
    expanded = run.run("expanded", expand_composites)
    key, nodes = program_cache.fingerprint(expanded) if use_cache else (None, None)
    start = time.perf_counter()
    hit = program_cache.load(key, nodes, expanded) if use_cache else None
    if hit is not None:
        program, compiled, kernels = hit
        run.seconds["cache"] = time.perf_counter() - start
        run.stages = LazyStages(run.stages)
        run.stages["fused"] = Lazy(lambda: fuse_kernels(expanded))
        return Executable(program, compiled, [k.function for k in kernels], kernels)
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
    if jit.debug_level() >= 1:
        print_kernels(name, kernels)
    if use_cache:
        program_cache.store(key, nodes, program, kernels, text, compiled.seconds)
    return Executable(program, compiled, names, kernels)


def print_kernels(module: str, kernels) -> None:
    """GRAPHC_DEBUG >= 1: one line per kernel (its LLVM function is in the module's dumps)."""
    for k in kernels:
        print(f"graphc: {module}: {k.name} [{k.kind}] -> @{k.function}: "
              f"{' '.join(k.ops) or 'copy'} (~{k.compile_ms:.1f} ms of LLVM)", file=sys.stderr)


class Lazy:
    """A pipeline stage computed on first access."""

    def __init__(self, make):
        self.make = make


class LazyStages(dict):
    """PipelineRun.stages whose Lazy entries are computed when read."""

    def __getitem__(self, name):
        value = dict.__getitem__(self, name)
        if isinstance(value, Lazy):
            value = value.make()
            dict.__setitem__(self, name, value)
        return value

    def get(self, name, default=None):
        if name not in self:
            return default
        return self[name]

    def values(self):
        return [self[k] for k in self]

    def items(self):
        return [(k, self[k]) for k in self]
