"""The LLVM backend: the optimized graph becomes fused kernels in one native module, run by a
pool of native threads with one call per function call.

`compile(run)` is the whole pipeline, top to bottom; every step is a function of the step
before it, timed on the PipelineRun (run.seconds), the graph stages kept in run.stages:

    expanded     passes.expand.expand_composites softmax/log_softmax into reductions, relu masks
                 (+ bias_grad_fusion)            conv-bias gradients into the weight gradients
    fused        passes.fuse.fuse_kernels        typed dense / conv / loop / op kernels
    schedule     schedule.schedule_kernels       kernel order, updates written in place
    plan memory  buffers.plan_memory             buffers, calls, phases, lifetimes: a Program
    emit         emit.generate                   the module's LLVM IR text
    compile      jit.compile_ir                  O3 for the host CPU (disk cache of objects)
    load         runtime.Executable              the callable, its pointer table and arena

`compile` returns a callable taking one array per graph input, returning one array per
output, applying updates in place; its `.kernels` describes each kernel (runtime.KernelInfo).
A function whose expanded graph has the structure of one compiled before (in any process) is
loaded from the program cache instead ('cache'); its 'fused' stage is then deferred: computed
only when read. When the passes before 'expanded' are still deferred (graphc.function defers
them) and the user's graph was compiled before, the expanded graph itself comes from the disk
(expanded_cache.py) and those passes never run unless their stages are read.

GRAPHC_DEBUG=1 prints each compile and one line per kernel (ops, LLVM function, its share of
the compile time); 2 also dumps the optimized LLVM IR of the module (every kernel is one
function in it), 3 also the assembly (jit.py; GRAPHC_DEBUG_DIR sends dumps to files).
"""

from __future__ import annotations

import hashlib
import sys
import time

from graphc.backends.llvm import expanded_cache, jit, parallel_compile, program_cache
from graphc.backends.llvm.bandwidth import roofline_levels  # noqa: F401 (for gc.profile)
from graphc.backends.llvm.bias_grad_fusion import expand_for_llvm
from graphc.backends.llvm.buffers import plan_memory
from graphc.backends.llvm.emit import generate, generate_units  # noqa: F401 (generate: API)
from graphc.backends.llvm.kernel_info import describe_kernels
from graphc.backends.llvm.peak import cycle_counter, machine_peak  # noqa: F401 (for gc.profile)
from graphc.backends.llvm.profiling import ProfiledExecutable
from graphc.backends.llvm.runtime import Executable
from graphc.backends.llvm.schedule import schedule_kernels
from passes.fuse import fuse_kernels


def compile(run, use_cache: bool = True, profile: bool = False):  # noqa: A001 - protocol name
    """Compile the last stage of `run` (see the module doc); profile=True makes the profiling
    build (profiling.py), which never goes through the program cache."""
    use_cache = use_cache and not profile
    shortcut = expanded_cache.shortcut_key(run, expand_for_llvm) if use_cache else None
    cached = load_shortcut(run, shortcut) if shortcut else None
    if cached is not None:
        return cached
    expanded = run.run("expanded", expand_for_llvm)
    key, nodes = program_cache.fingerprint(expanded) if use_cache else (None, None)
    cached = load_cached(run, key, nodes, expanded) if use_cache else None
    if cached is not None:
        run.defer("fused", fuse_kernels)
        if shortcut:
            expanded_cache.store(shortcut, run.stages["raw"], expanded, key)
        return cached
    fused = run.run("fused", fuse_kernels)
    schedule = run.measure("schedule", schedule_kernels, fused)
    program = run.measure("plan memory", plan_memory, schedule, expanded)
    units, functions = run.measure("emit", generate_units, program, profile)
    text = units.text()
    module = "graphc_fn_" + hashlib.sha1(text.encode()).hexdigest()[:10]
    parts = module_parts(units, text)
    compiled = run.measure("compile", jit.compile_ir, text, module, None, 3, parts)
    kernels = describe_kernels(program, functions, text, compiled.seconds)
    if jit.debug_level() >= 1:
        print_kernels(module, kernels)
    if use_cache:
        program_cache.store(key, nodes, program, kernels, text, compiled.seconds)
        if shortcut:
            expanded_cache.store(shortcut, run.stages["raw"], expanded, key)
    executable = ProfiledExecutable if profile else Executable
    return run.measure("load", executable, program, compiled, functions, kernels)


def module_parts(units, text: str) -> list | None:
    """The module in parts, one per kernel (each cached apart, compiled at once in several
    processes: jit.compile_ir), when it is big enough to pay."""
    if len(text) < parallel_compile.MIN_SPLIT_CHARS:
        return None
    return units.parts(len(units.units))


def load_shortcut(run, shortcut: str):
    """The Executable of a hit of both the expanded-graph and the program cache (the passes
    before 'expanded' stay deferred: computed only when read), or None."""
    start = time.perf_counter()
    found = expanded_cache.load(shortcut, run.stages["raw"])
    if found is None:
        return None
    key, nodes, expanded = found
    executable = load_cached(run, key, nodes, expanded)
    if executable is None:
        return None
    run.seconds["cache"] = time.perf_counter() - start - run.seconds["load"]
    run.stages.add("expanded", expanded)
    run.defer("fused", fuse_kernels)
    return executable


def load_cached(run, key, nodes, expanded):
    """The Executable of a program-cache hit (timed as 'cache' and 'load'), or None (a miss
    records no 'cache' time: its presence tells a hit)."""
    start = time.perf_counter()
    hit = program_cache.load(key, nodes, expanded)
    if hit is None:
        return None
    run.seconds["cache"] = time.perf_counter() - start
    program, compiled, kernels = hit
    functions = [k.function for k in kernels]
    return run.measure("load", Executable, program, compiled, functions, kernels)


def print_kernels(module: str, kernels) -> None:
    """GRAPHC_DEBUG >= 1: one line per kernel (its LLVM function is in the module's dumps)."""
    for k in kernels:
        print(f"graphc: {module}: {k.name} [{k.kind}] -> @{k.function}: "
              f"{' '.join(k.ops) or 'copy'} (~{k.compile_ms:.1f} ms of LLVM)", file=sys.stderr)
