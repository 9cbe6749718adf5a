"""A Program: the compiled function's kernels in execution order, with the buffers each one
reads and writes (what the memory plan makes of a schedule, and what the emit stage and the runtime
read)."""

from __future__ import annotations

from dataclasses import dataclass, field

from graphc.backends.llvm.conv_bf16_parts import allocates_per_thread
from graphc.backends.llvm.gemm import gemm_workspace_elems
from graphc.backends.llvm.gemm_bf16 import program_workspace_words
from graphc.backends.llvm.loop_plan import LoopPlan
from graphc.backends.llvm.wait_ir import extra_words
from passes.symbols import Poly


@dataclass(eq=False)
class Buffer:
    """One buffer: kind in input, shared, constant, output, temp, scratch, workspace."""

    kind: str
    dtype: str
    elems: object  # Poly, or fn(symbol values, nthreads) -> int
    node: object = None
    index: int = 0  # position among the inputs / outputs
    array: object = None  # the fixed array of shared variables and constants
    slot: int = -1  # args[2 + slot] holds its address
    first: int = 0  # lifetime: phases of its writer and last reader
    last: int = 0

    def count(self, values, nthreads) -> int:
        if isinstance(self.elems, Poly):
            return self.elems.evaluate(values)
        return self.elems(values, nthreads)


@dataclass(frozen=True)
class Workspace:
    """Elements of a GEMM's packing workspace, for the run-time sizes (M, N, K)."""

    dims: tuple
    dtype: str

    def __call__(self, values, nthreads) -> int:
        m, n, k = (d.evaluate(values) for d in self.dims)
        if self.dtype == "bfloat16":  # words of two bfloat16 (gemm_bf16.py), in elements
            return 2 * program_workspace_words(m, n, k)
        return gemm_workspace_elems(m, n, k, nthreads, self.dtype)


@dataclass(eq=False)
class Call:
    """One kernel call: its body, its buffers in pointer-argument order, the LoopPlan of a
    loop kernel (else the data input nodes of an op or GEMM kernel) and its phase."""

    body: object
    pointers: list
    plan: LoopPlan | None = None
    inputs: list = field(default_factory=list)
    phase: int = 0  # kernels of one phase run without a barrier between them

    @property
    def name(self):
        return self.body.name

    def writes(self) -> set:
        """Buffers this kernel writes (outputs, scratch, workspace)."""
        if self.plan is None:
            out = [self.pointers[0]] + [b for b in self.pointers if b.kind == "workspace"]
        else:
            out = [self.pointers[a.ptr] for a in self.plan.stores.values()]
            out += [b for b in self.pointers if b.kind == "scratch"]
        return {id(b) for b in out}

    def reads(self) -> set:
        return {id(b) for b in self.pointers} - self.writes()


@dataclass
class Program:
    graph: object  # the expanded graph (sizes are computed on it)
    syms: object
    calls: list
    buffers: list
    outputs: list  # Buffer per output position
    copies: list  # (dst Buffer, src Buffer) run after the last kernel
    inplace: list = field(default_factory=list)  # names of shared variables updated in place
    values: dict = field(default_factory=dict)  # (id(body), output index) -> Buffer
    # per kernel call: the node whose kernel checks index values (writing the call's status
    # word when one is out of range), else None
    checked: list = None

    def __post_init__(self):
        if self.checked is None:
            self.checked = [checked_node(call) for call in self.calls]

    @property
    def status_words(self) -> int:
        """i64 status words of a run (args[1]): word 0, one per call (index errors, block
        claims), then the words of the dependency waits between calls (wait_ir.py)."""
        return 1 + len(self.checked) + extra_words(len(self.checked))


INDEXING_OPS = {"take", "take_grad"}  # their kernels check index values as they run


def checked_node(call: Call):
    node = getattr(call.body, "node", getattr(call.body, "gemm", None))  # gemm: a conv's
    if call.plan is not None or node is None:
        return None
    return node if node.op in INDEXING_OPS or allocates_per_thread(node) else None
