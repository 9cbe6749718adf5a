"""Interpreted vs compiled: run one function with the NumPy interpreter and the LLVM backend on
the same inputs and report how far apart they are, per output, per updated shared variable and
per kernel, with each backend's time per call.

    report = gc.compare(f, x_batch, y_batch)              # f: a Function (either backend)
    report = gc.compare([x, y], loss, updates=updates, args=[x_batch, y_batch])
    print(report.table())
    assert report.ok()                                     # within tolerances for the dtypes

Signature: compare(fn_or_inputs, *args, outputs=None, updates=None, repeat=5, rtol=None,
atol=None) -> CompareReport. With a list of placeholders, `outputs` is the second positional
argument (or keyword) and `args=` carries the input arrays.

CompareReport fields:
  outputs   [Agreement]: one per output ('output 0', ...)
  updates   [Agreement]: one per updated shared variable (its new value)
  kernels   [Agreement]: one per compiled kernel (its name, kind and ops): every value the kernel
            writes against the interpreter's value of the same node of the 'expanded' stage
  times     {'numpy': seconds per call, 'llvm': seconds per call} (best of `repeat`)
  ok() -> bool (no element beyond rtol/atol);  table() -> str;  worst -> the largest max_rel
An Agreement has name, shape, dtype, max_abs = max |llvm - numpy|, max_rel = max_abs / max
|numpy| (0 when both are 0), mismatches (elements beyond tolerance) and ops (kernels only).
Shared variables are left as they were before the call: both runs start from the same state.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from graphc.backends import get_backend
from graphc.backends.numpy_backend import Interpreter
from graphc.function import Function, coerce_input, function
from graphc.ops.leaves import leaf_value
from passes.manager import PipelineRun

# float32 kernels reassociate sums and use vectorized exp/log (1-2 ulp): relative error near
# 1e-5 of the largest value is expected after a few dozen ops; float64 keeps about 1e-12.
DEFAULT_RTOL = {"float32": 2e-4, "float64": 1e-9}


@dataclass
class Agreement:
    name: str
    shape: tuple
    dtype: str
    max_abs: float
    max_rel: float
    mismatches: int = 0
    ops: tuple = ()

    def row(self) -> str:
        shape = "x".join(map(str, self.shape)) or "scalar"
        return (f"{self.name:<28} {shape:>12} {self.dtype:>8} {self.max_abs:>11.3e} "
                f"{self.max_rel:>11.3e} {self.mismatches:>6}")


@dataclass
class CompareReport:
    outputs: list = field(default_factory=list)
    updates: list = field(default_factory=list)
    kernels: list = field(default_factory=list)
    times: dict = field(default_factory=dict)

    @property
    def worst(self) -> float:
        return max((a.max_rel for a in self.outputs + self.updates + self.kernels), default=0.0)

    def ok(self) -> bool:
        """No element beyond the tolerances the comparison was made with."""
        return all(a.mismatches == 0 for a in self.outputs + self.updates + self.kernels)

    def table(self) -> str:
        head = f"{'':<28} {'shape':>12} {'dtype':>8} {'max abs':>11} {'max rel':>11} {'bad':>6}"
        lines = [head, "-" * len(head)]
        for title, rows in (("outputs", self.outputs), ("updates", self.updates),
                            ("kernels", self.kernels)):
            if rows:
                lines.append(f"[{title}]")
                lines += [a.row() for a in rows]
        t_np, t_llvm = self.times.get("numpy"), self.times.get("llvm")
        if t_np and t_llvm:
            lines.append(f"time per call: numpy {t_np * 1e3:.3f} ms, llvm {t_llvm * 1e3:.3f} ms "
                         f"({t_np / t_llvm:.1f}x)")
        return "\n".join(lines)


def agreement(name, got, ref, rtol=None, atol=None, ops=()) -> Agreement:
    got, ref = np.asarray(got), np.asarray(ref)
    if got.shape != ref.shape:
        return Agreement(name, ref.shape, str(ref.dtype), np.inf, np.inf, ref.size, ops)
    if ref.dtype.kind in "fc":
        g, r = got.astype(np.float64), ref.astype(np.float64)
        same = (g == r) | (np.isnan(g) & np.isnan(r))
        diff = np.where(same, 0.0, np.abs(g - r))
        max_abs = float(diff.max()) if diff.size else 0.0
        scale = float(np.nanmax(np.abs(r[np.isfinite(r)]))) if np.isfinite(r).any() else 0.0
        max_rel = 0.0 if max_abs == 0 else (max_abs / scale if scale else np.inf)
        tol_r = DEFAULT_RTOL.get(str(ref.dtype), 1e-6) if rtol is None else rtol
        tol_a = tol_r * scale if atol is None else atol
        bad = int(np.sum(diff > tol_a + tol_r * np.abs(r)))
    else:
        bad = int(np.sum(got != ref))
        max_abs = float(np.max(np.abs(got.astype(np.float64) - ref.astype(np.float64)))) \
            if ref.size else 0.0
        max_rel = 0.0 if bad == 0 else 1.0
    return Agreement(name, ref.shape, str(ref.dtype), max_abs, max_rel, bad, ops)


def best_time(fn, repeat) -> float:
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def compare(fn_or_inputs, *values, outputs=None, updates=None, args=None, repeat: int = 5,
            rtol=None, atol=None) -> CompareReport:
    """Run a function with both backends on the same inputs; see the module doc.

    Args:
        fn_or_inputs: a Function, or the list of placeholders of the function to build.
        values: the input arrays (after `outputs` when building from placeholders).
        outputs, updates: what the built function computes (as for gc.function).
        args: the input arrays, as a list (instead of `values`).
        repeat: calls timed per backend (the best counts).
        rtol, atol: tolerances for `mismatches` (default: DEFAULT_RTOL of the dtype, relative
            to the largest magnitude of each value).
    """
    values = list(values)
    if isinstance(fn_or_inputs, Function):
        f = fn_or_inputs
    else:
        if outputs is None and values:
            outputs = values.pop(0)
        f = function(fn_or_inputs, outputs, updates=updates, backend="llvm")
    arrays = list(args) if args is not None else values
    if f.backend != "llvm":
        raw = f.graph("raw")
        f = function(f.inputs, raw.outputs[0] if f.single else list(raw.outputs),
                     updates=list(raw.updates), backend="llvm")
    arrays = [coerce_input(p, a, i) for i, (p, a) in enumerate(zip(f.inputs, arrays))]
    return run_both(f, arrays, repeat, rtol, atol)


def detailed(f):
    """(expanded graph, executable) with every kernel's detail: a function loaded from the
    program cache is compiled again (without the cache) for its kernels' buffers."""
    if f.executable.program.calls:
        return f.graph("expanded"), f.executable
    run = PipelineRun(stages={k: f.graph(k) for k in ("raw", "grad", "optimized")})
    executable = get_backend("llvm").compile(run, use_cache=False)
    return run.stages["expanded"], executable


def run_both(f, arrays, repeat, rtol, atol) -> CompareReport:
    graph, executable = detailed(f)
    shared = {id(v.attr("storage")): v.attr("storage") for v, _ in graph.updates}
    saved = {k: s.value.copy() for k, s in shared.items()}

    def restore():
        for k, s in shared.items():
            np.copyto(s.value, saved[k])

    interpreter = Interpreter(graph)
    env = {k: np.array(v) for k, v in interpreter.run(arrays).items()}  # copies: updates
    ref_out = [np.array(env[id(o)]) for o in graph.outputs]
    ref_upd = [np.array(env[id(e)]) for _, e in graph.updates]
    outs, values = executable.run_keeping_values(*arrays)
    new = [np.array(v.attr("storage").value) for v, _ in graph.updates]
    restore()
    report = CompareReport()
    report.outputs = [agreement(f"output {k}", o, r, rtol, atol)
                      for k, (o, r) in enumerate(zip(outs, ref_out))]
    report.updates = [agreement(f"update {v.name or k}", n, r, rtol, atol)
                      for k, ((v, _), n, r) in enumerate(zip(graph.updates, new, ref_upd))]
    report.kernels = kernel_agreements(executable, env, values, rtol, atol)
    report.times["numpy"] = best_time(lambda: interpreter(*arrays), repeat)
    restore()
    report.times["llvm"] = best_time(lambda: executable(*arrays), repeat)
    restore()
    return report


def kernel_agreements(executable, env, values, rtol, atol) -> list:
    """Per kernel, the worst of its outputs against the interpreter's value of the same node."""
    rows = []
    for call, info in zip(executable.program.calls, executable.kernels):
        worst = None
        for index, node in enumerate(call.body.outputs):
            ref = env.get(id(node))
            ref = leaf_value(node) if ref is None else ref
            a = agreement(call.name, values[(call.name, index)], ref, rtol, atol, info.ops)
            if worst is None or (a.mismatches, a.max_rel) > (worst.mismatches, worst.max_rel):
                worst = a
        if worst is not None:
            rows.append(worst)
    return rows
