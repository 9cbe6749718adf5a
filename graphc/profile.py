"""gc.profile: where a compiled step spends its time, kernel by kernel.

    report = gc.profile(train, x_batch, y_batch, repeat=20)
    print(report)                     # table: calls, total/mean time, share, FLOPs, GFLOP/s,
                                      # % of the machine's peak, roofline
                                      # bound (FLOPs or bytes), bytes moved
    report.to_json(); report.overlay()  # {kernel name: share of the step}

A Function of the llvm backend is compiled once more as a profiling build (cycle counters
around each kernel, backends/llvm/profiling.py; the Function's own program is untouched) and
called `repeat` times after one warm-up call; a Function of the numpy backend has each op call
of the interpreter timed. Shared variables the step updates are restored afterwards, so
profiling a training step leaves the model as it was.
"""

from __future__ import annotations

import contextlib
import time

import numpy as np

from graphc.backends import get_backend
from graphc.function import Function, coerce_input
from graphc.ir import user_site
from graphc.ops import OPS
from graphc.ops.leaves import leaf_value
from graphc.profile_report import KernelTime, Profile
from passes.manager import PipelineRun

LEAVES = ("placeholder", "shared", "constant")  # values the interpreter looks up, not computes


def profile(f, *args, repeat: int = 10, peak: bool = True) -> Profile:
    """Profile `f` (a gc.function) called on `args`, `repeat` times; see the module doc.

    Args:
        f: a Function of the 'llvm' or 'numpy' backend.
        args: one array per input of f.
        repeat: timed calls (after one untimed warm-up call).
        peak: look up (or measure once, ~50 ms) the machine's peak FLOP/s for '% peak', and
            its memory bandwidth (~0.2 s a cache level, once) for the roofline columns.
    """
    if not isinstance(f, Function):
        raise TypeError(f"gc.profile: f must be a function made by gc.function, got "
                        f"{type(f).__name__} (at {user_site()})")
    if not isinstance(repeat, int) or repeat < 1:
        raise ValueError(f"gc.profile: repeat must be a positive int, got {repeat!r} "
                         f"(at {user_site()})")
    if len(args) != len(f.inputs):
        raise TypeError(f"gc.profile: f takes {len(f.inputs)} inputs, got {len(args)} "
                        f"arrays (at {user_site()})")
    arrays = [coerce_input(p, a, i) for i, (p, a) in enumerate(zip(f.inputs, args))]
    with restored_state(f):
        measure = profile_compiled if f.backend == "llvm" else profile_interpreted
        report = measure(f, arrays, repeat)
    # the llvm backend loads only when used: importing graphc.profile needs no llvmlite
    llvm = get_backend("llvm") if peak else None
    report.peak_flops = llvm.machine_peak() if peak else None
    largest = max((k.bytes for k in report.kernels), default=0)  # the levels the table needs
    report.bandwidth = llvm.roofline_levels(report.threads, largest) if peak else None
    report.kernels.sort(key=lambda k: -k.seconds)
    return report


@contextlib.contextmanager
def restored_state(f):
    """Shared variables the function updates get their values back afterwards."""
    storages = [var.attr("storage") for var, _ in f.graph("raw").updates]
    saved = [s.value.copy() for s in storages]
    try:
        yield
    finally:
        for storage, value in zip(storages, saved):
            np.copyto(storage.value, value)


def timed_calls(call, repeat) -> list:
    walls = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        walls.append(time.perf_counter() - start)
    return walls


def profile_compiled(f, arrays, repeat) -> Profile:
    run = PipelineRun(stages={k: f.graph(k) for k in ("raw", "grad", "optimized")})
    llvm = get_backend("llvm")
    executable = llvm.compile(run, use_cache=False, profile=True)
    executable(*arrays)  # sizes, arena and caches warm
    executable.counters[:] = 0
    cycles0, start = llvm.cycle_counter(), time.perf_counter()
    walls = timed_calls(lambda: executable(*arrays), repeat)
    hz = (llvm.cycle_counter() - cycles0) / (time.perf_counter() - start)
    spans, busy = executable.spans() / hz, executable.busy() / hz
    program = executable.program
    rows = [KernelTime(info.name, info.kind, tuple(info.ops), repeat, float(spans[0, k]),
                       info.flops or 0, executable.bytes_moved(call),
                       [float(t) for t in busy[:, k]], [node_label(n) for n in info.nodes],
                       executable.bytes_written(call))
            for k, (call, info) in enumerate(zip(program.calls, executable.kernels))]
    if program.copies:
        rows.append(KernelTime("(copies)", "copy", (), repeat, float(spans[0, -1])))
    return Profile("llvm", rows, repeat, float(np.mean(walls)), threads=spans.shape[0])


def node_label(node) -> str:
    return node.name or f"{node.op}@{id(node):x}"


def profile_interpreted(f, arrays, repeat) -> Profile:
    f(*arrays)  # the interpreter's own checks of shapes and indices
    graph = f.executable.graph
    computed = [n for n in graph.nodes() if n.op not in LEAVES]
    seconds = dict.fromkeys(map(id, computed), 0.0)
    env: dict = {}

    def step():
        env.clear()
        env.update(leaf_values(graph, arrays))
        with np.errstate(all="ignore"):  # NaN and inf in data are not errors
            for node in computed:
                values = [env[id(i)] for i in node.inputs]
                start = time.perf_counter()
                result = OPS[node.op].impl(*values, **node.attr_dict)
                seconds[id(node)] += time.perf_counter() - start
                env[id(node)] = np.asarray(result, dtype=node.dtype)

    walls = timed_calls(step, repeat)
    rows = [op_row(k, node, env, seconds[id(node)], repeat) for k, node in enumerate(computed)]
    return Profile("numpy", rows, repeat, float(np.mean(walls)))


def leaf_values(graph, arrays) -> dict:
    env = {id(p): a for p, a in zip(graph.inputs, arrays)}
    env.update((id(n), leaf_value(n)) for n in graph.nodes() if n.op in ("constant", "shared"))
    return env


def op_row(k, node, env, seconds, repeat) -> KernelTime:
    """One interpreter op as a profile row: its FLOPs from the op table, its bytes the sizes
    of its inputs and result."""
    def shape_of(n):
        return np.shape(env[id(n)])

    moved = sum(np.asarray(env[id(n)]).nbytes for n in (*node.inputs, node))
    return KernelTime(f"{node.op}_{k}", "op", (node.op,), repeat, seconds,
                      int(OPS[node.op].flops(node, shape_of)), int(moved), [seconds],
                      [node_label(node)], int(np.asarray(env[id(node)]).nbytes))
