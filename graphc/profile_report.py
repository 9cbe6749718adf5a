"""What gc.profile returns: per-kernel times of a compiled step (or per-op times of the
interpreter), as a table (str), as JSON and as an overlay {kernel name: share of the step}."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field


@dataclass
class KernelTime:
    """One kernel (llvm) or op (numpy) over the profiled calls.

    seconds: total time attributed to it over `calls` calls (llvm: on the calling thread, from
    its start to the next kernel's start, so a barrier wait after it counts; numpy: the op's
    reference implementation). flops and bytes (each buffer it touches, once) are per call;
    thread_seconds are the time each thread spent inside the kernel itself."""

    name: str
    kind: str
    ops: tuple
    calls: int
    seconds: float
    flops: int = 0
    bytes: int = 0
    thread_seconds: list = field(default_factory=list)
    nodes: list = field(default_factory=list)  # names of the graph nodes it computes
    written: int = 0  # of `bytes`, those of the buffers it writes (per call)

    @property
    def traffic(self) -> int:
        """Bytes the memory system moves per call: a written line is read first (write-allocate,
        or the old value of an in-place update), so written bytes count twice."""
        return self.bytes + self.written

    @property
    def mean_seconds(self) -> float:
        return self.seconds / self.calls if self.calls else 0.0

    @property
    def busy_seconds(self) -> float:
        """Per call, the longest any thread spent inside the kernel (no barrier wait)."""
        return max(self.thread_seconds, default=self.seconds) / self.calls if self.calls else 0.0

    @property
    def gflops(self) -> float:
        """The kernel's own rate: FLOPs over its busy time (barrier waits are not its)."""
        return self.flops / self.busy_seconds / 1e9 if self.busy_seconds else 0.0


@dataclass
class Profile:
    """kernels: [KernelTime], slowest first; step_seconds: the measured wall time per call;
    the table's 'mean us' is a kernel's share of the step (its barrier wait included), 'busy
    us' the longest time a thread spent inside it;
    peak_flops: the machine's measured peak FLOP/s (gc.machine_peak) or None;
    bandwidth: [(level, capacity bytes, bytes/s)] from L1 out (backends/llvm/bandwidth.py's
    triad rates at the profile's thread count) or None. With both, each kernel has a roofline
    bound: max(flops / peak, traffic / the rate of the first level its bytes fit in), and the
    step's best possible % of peak is its FLOPs at peak over the sum of those bounds."""

    backend: str
    kernels: list
    calls: int
    step_seconds: float
    threads: int = 1
    peak_flops: float | None = None
    bandwidth: list | None = None

    @property
    def kernel_seconds(self) -> float:
        """Per call, the sum of the kernels' times (compare with step_seconds)."""
        return sum(k.seconds for k in self.kernels) / self.calls if self.calls else 0.0

    def share(self, row: KernelTime) -> float:
        total = sum(k.seconds for k in self.kernels)
        return row.seconds / total if total else 0.0

    def peak_percent(self, row: KernelTime) -> float | None:
        return 100.0 * row.gflops * 1e9 / self.peak_flops if self.peak_flops else None

    def roofline(self, row: KernelTime) -> tuple | None:
        """(lower-bound seconds per call, what bounds it: 'fp' or a memory level), or None
        without a peak and bandwidths."""
        if not (self.peak_flops and self.bandwidth):
            return None
        compute = row.flops / self.peak_flops
        level, _, rate = next((lv for lv in self.bandwidth if row.bytes <= lv[1]),
                              self.bandwidth[-1])
        memory = row.traffic / rate
        return (compute, "fp") if compute >= memory else (memory, level)

    def roof_percent(self, row: KernelTime) -> float | None:
        """The bound as a percentage of the kernel's busy time (100: at its roofline)."""
        bound = self.roofline(row)
        return 100.0 * bound[0] / row.busy_seconds if bound and row.busy_seconds else None

    def step_bound(self) -> float | None:
        """Per call, the sum of the kernels' bounds: no step of these kernels runs faster."""
        bounds = [self.roofline(k) for k in self.kernels]
        return sum(b[0] for b in bounds) if bounds and None not in bounds else None

    def best_peak_percent(self) -> float | None:
        """The step's FLOPs at peak as a percentage of step_bound: the best % of peak
        this step can reach with its kernels' FLOPs and bytes."""
        bound = self.step_bound()
        flops = sum(k.flops for k in self.kernels)
        return 100.0 * flops / self.peak_flops / bound if bound else None

    def thread_busy(self) -> list:
        """Per thread, the share of the measured step it spent inside kernels (the rest:
        barrier waits, dispatch and the Python side of the call)."""
        busy = [sum(k.thread_seconds[t] for k in self.kernels if len(k.thread_seconds) > t)
                for t in range(self.threads)]
        total = self.step_seconds * self.calls
        return [b / total if total else 0.0 for b in busy]

    def overlay(self) -> dict:
        """{kernel name: share of the step} (kernel names are those of f.kernels and of the
        'fused' stage's kernel nodes)."""
        return {k.name: self.share(k) for k in self.kernels}

    def to_dict(self) -> dict:
        rows = []
        for k in self.kernels:
            row = asdict(k)
            row.update(ops=list(k.ops), mean_seconds=k.mean_seconds,
                       busy_seconds=k.busy_seconds, share=self.share(k),
                       gflops=k.gflops, peak_percent=self.peak_percent(k),
                       roof_percent=self.roof_percent(k))
            bound = self.roofline(k)  # as two JSON values, so a read-back profile compares equal
            row.update(bound_seconds=bound and bound[0], bound_by=bound and bound[1])
            rows.append(row)
        return {"backend": self.backend, "calls": self.calls, "threads": self.threads,
                "step_seconds": self.step_seconds, "kernel_seconds": self.kernel_seconds,
                "peak_flops": self.peak_flops, "bandwidth": json_levels(self.bandwidth),
                "step_bound_seconds": self.step_bound(),
                "best_peak_percent": self.best_peak_percent(), "thread_busy": self.thread_busy(),
                "kernels": rows}

    def to_json(self, indent: int = 1) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def row_text(self, k: KernelTime) -> str:
        peak, bound, roof = self.peak_percent(k), self.roofline(k), self.roof_percent(k)
        return (f"{k.name[:30]:<30} {k.kind[:8]:<8} {k.calls:>5} {k.seconds * 1e3:>9.3f} "
                f"{k.mean_seconds * 1e6:>9.1f} {k.busy_seconds * 1e6:>9.1f} "
                f"{100 * self.share(k):>5.1f}% "
                f"{k.flops / 1e6:>8.3f} {k.gflops:>8.2f} "
                f"{'' if peak is None else f'{peak:.1f}':>6} "
                f"{'' if bound is None else f'{bound[0] * 1e6:.1f}':>8} "
                f"{'' if roof is None else f'{roof:.0f}':>5} "
                f"{'' if bound is None else bound[1]:<4} "
                f"{k.bytes / 1024:>8.1f}  {' '.join(k.ops)[:40]}")

    def roofline_text(self) -> list:
        """The footer's roofline lines: the step's bound against its measured time."""
        bound, best = self.step_bound(), self.best_peak_percent()
        if bound is None:
            return []
        flops = sum(k.flops for k in self.kernels)
        measured = 100.0 * flops / self.peak_flops / self.step_seconds if self.step_seconds else 0
        levels = ", ".join(f"{lv} {rate / 1e9:.0f}" for lv, _, rate in self.bandwidth)
        return [f"roofline: kernels' bounds sum to {bound * 1e6:.1f} us a step; best possible "
                f"% of peak for this step {best:.1f}% (measured {measured:.1f}%)",
                f"bandwidth (triad traffic, {self.threads} thread(s)), GB/s: {levels}"]

    def __str__(self) -> str:
        head = (f"{'kernel':<30} {'kind':<8} {'calls':>5} {'total ms':>9} {'mean us':>9} "
                f"{'busy us':>9} {'share':>6} {'MFLOP':>8} {'GFLOP/s':>8} {'%peak':>6} "
                f"{'bound us':>8} {'%roof':>5} {'by':<4} {'KB':>8}  ops")
        lines = [head, "-" * len(head), *map(self.row_text, self.kernels)]
        lines.append(f"step: {self.step_seconds * 1e6:.1f} us measured, kernels sum to "
                     f"{self.kernel_seconds * 1e6:.1f} us ({self.backend}, {self.threads} "
                     f"thread(s), {self.calls} calls)")
        busy = ", ".join(f"t{t} {100 * b:.0f}%" for t, b in enumerate(self.thread_busy()))
        lines.append(f"inside kernels, per thread: {busy}")
        if self.peak_flops:
            lines.append(f"machine peak: {self.peak_flops / 1e9:.1f} GFLOP/s float32")
        return "\n".join(lines + self.roofline_text())


def json_levels(levels) -> list | None:
    """The bandwidth levels as JSON (DRAM's capacity, unbounded, as null)."""
    if levels is None:
        return None
    return [{"level": level, "capacity_bytes": None if capacity == float("inf") else capacity,
             "bytes_per_second": rate} for level, capacity, rate in levels]
