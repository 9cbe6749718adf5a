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
    reference implementation). flops and bytes are per call; thread_seconds are the time each
    thread spent inside the kernel itself."""

    name: str
    kind: str
    ops: tuple
    calls: int
    seconds: float
    flops: int = 0
    bytes: int = 0
    thread_seconds: list = field(default_factory=list)
    nodes: list = field(default_factory=list)  # names of the graph nodes it computes

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
    peak_flops: the machine's measured peak FLOP/s (gc.machine_peak) or None."""

    backend: str
    kernels: list
    calls: int
    step_seconds: float
    threads: int = 1
    peak_flops: float | None = None

    @property
    def kernel_seconds(self) -> float:
        """Per call, the sum of the kernels' times (compare with step_seconds)."""
        return sum(k.seconds for k in self.kernels) / self.calls if self.calls else 0.0

    def share(self, row: KernelTime) -> float:
        total = sum(k.seconds for k in self.kernels)
        return row.seconds / total if total else 0.0

    def peak_percent(self, row: KernelTime) -> float | None:
        return 100.0 * row.gflops * 1e9 / self.peak_flops if self.peak_flops else None

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
                       gflops=k.gflops, peak_percent=self.peak_percent(k))
            rows.append(row)
        return {"backend": self.backend, "calls": self.calls, "threads": self.threads,
                "step_seconds": self.step_seconds, "kernel_seconds": self.kernel_seconds,
                "peak_flops": self.peak_flops, "thread_busy": self.thread_busy(),
                "kernels": rows}

    def to_json(self, indent: int = 1) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def __str__(self) -> str:
        head = (f"{'kernel':<30} {'kind':<8} {'calls':>5} {'total ms':>9} {'mean us':>9} "
                f"{'busy us':>9} {'share':>6} {'MFLOP':>8} {'GFLOP/s':>8} {'%peak':>6} "
                f"{'KB':>8}  ops")
        lines = [head, "-" * len(head)]
        for k in self.kernels:
            peak = self.peak_percent(k)
            lines.append(
                f"{k.name[:30]:<30} {k.kind[:8]:<8} {k.calls:>5} {k.seconds * 1e3:>9.3f} "
                f"{k.mean_seconds * 1e6:>9.1f} {k.busy_seconds * 1e6:>9.1f} "
                f"{100 * self.share(k):>5.1f}% "
                f"{k.flops / 1e6:>8.3f} {k.gflops:>8.2f} "
                f"{'' if peak is None else f'{peak:.1f}':>6} {k.bytes / 1024:>8.1f}  "
                f"{' '.join(k.ops)[:40]}")
        lines.append(f"step: {self.step_seconds * 1e6:.1f} us measured, kernels sum to "
                     f"{self.kernel_seconds * 1e6:.1f} us ({self.backend}, {self.threads} "
                     f"thread(s), {self.calls} calls)")
        busy = ", ".join(f"t{t} {100 * b:.0f}%" for t, b in enumerate(self.thread_busy()))
        lines.append(f"inside kernels, per thread: {busy}")
        if self.peak_flops:
            lines.append(f"machine peak: {self.peak_flops / 1e9:.1f} GFLOP/s float32")
        return "\n".join(lines)
