"""The executable of a compiled function: one native call per call.

When the input shapes change (the first call, a smaller last batch) it computes the run-time
sizes with the op table's shape rules, plans the arena of intermediate buffers (passes.memory;
64-byte aligned, allocated once and only regrown for a larger batch) and fills the pointer
table. Each call then only stores the input and output addresses and calls
threads.parallel_run(step, args) once; the code itself never changes with the batch size.
"""

from __future__ import annotations

import ctypes
import os
import threading
import weakref
from dataclasses import dataclass

import numpy as np

from graphc.backends.llvm import guards, threads, wait_ir
from graphc.backends.llvm.conv_bf16_parts import ALLOCATION_FAILED
from graphc.backends.llvm.irutil import ITEMSIZE
from graphc.backends.llvm.program import INDEXING_OPS
from graphc.ops.leaves import aligned_copy
from passes.memory import plan_offsets
from passes.symbols import SizeOneBroadcast, concrete_shapes

ARENA_KINDS = ("temp", "scratch", "workspace")
_LIVE = weakref.WeakSet()  # executables whose lock a fork()ed child must renew
# A call another parent thread was making holds the lock in the child forever: renew it.
os.register_at_fork(after_in_child=lambda: [setattr(e, "lock", threading.Lock()) for e in _LIVE])
REMEMBERED_SHAPES = 256  # input-shape signatures whose sizes and arena plan are kept


@dataclass
class KernelInfo:
    """One compiled kernel, as `f.kernels` lists it.

    compile_ms is this kernel's share of the module's compile time, in proportion to the
    size of its LLVM IR (the module is compiled as a whole); shapes and flops are those of the
    most recent call (None before the first, and for a function loaded from the program cache,
    which keeps no kernel bodies)."""

    name: str
    kind: str
    ops: tuple
    function: str
    shapes: list | None = None
    flops: int | None = None
    compile_ms: float = 0.0
    flops_of: object = None
    nodes: tuple = ()

    def __repr__(self):
        return (f"<kernel {self.name} ({self.kind}) ops={' '.join(self.ops) or 'copy'} "
                f"shapes={self.shapes} flops={self.flops} compile~{self.compile_ms:.1f}ms>")


class Executable:
    adaptive = True  # each call runs on the pool or serially, whichever has been faster

    def __init__(self, program, compiled, names, kernels):
        self.program, self.compiled, self.kernels = program, compiled, kernels
        self.step = compiled.address("graphc_step")
        syms = program.syms
        self.order = program.graph.nodes()
        self.slots = np.zeros(max(1, len(syms.specs) if syms else 1), np.int64)
        self.status = np.zeros(program.status_words, np.int64)
        self.budget_word = wait_ir.budget_word(len(program.calls))
        self.clear_status()
        self.args = np.zeros(2 + len(program.buffers), np.uint64)
        self.args[0], self.args[1] = self.slots.ctypes.data, self.status.ctypes.data
        self.args_address = self.args.ctypes.data
        self.inputs = [(2 + b.slot, b.index) for b in program.buffers if b.kind == "input"]
        for buf in program.buffers:
            if buf.kind in ("shared", "constant"):
                self.args[2 + buf.slot] = buf.array.ctypes.data
        self.outputs = program.outputs
        self.arena = np.zeros(0, np.uint8)
        # For the input shapes of `signature` (prepare sets them before a call uses them):
        self.out_shapes: list = []
        self.arena_bytes, self.values, self.shapes = 0, [], {}
        self.signature = None
        self.lock = threading.Lock()
        _LIVE.add(self)
        self.guarded, self.arena_blocks = guards.enabled(), []
        self.sizes_by_shapes: dict = {}
        self.index_inputs = indices_from_inputs(self.order, program.graph.inputs)
        self.arena_plans: dict = {}
        self.run_stats: dict = {}  # input shapes -> graphc_adaptive_run's record
        self.stats_address = 0

    def clear_status(self) -> None:
        """Zero the status words but the dependency waits' spin budget (GRAPHC_SPIN_US; zero,
        the compiled-in default, when it is not set)."""
        self.status[:] = 0
        self.status[self.budget_word] = threads.wait_budget_nanoseconds()

    def prepare(self, arrays, reuse: bool = True) -> None:
        """Sizes, arena layout and output shapes for inputs of these shapes (reuse=False gives
        every intermediate its own bytes, so all of them can be read after a call)."""
        program = self.program
        shapes, values = self.run_time_sizes(arrays)
        self.stats_address = self.stats_for(tuple(a.shape for a in arrays))
        self.slots[:len(values)] = values
        total = self.place_arena([b for b in program.buffers if b.kind in ARENA_KINDS], values,
                                 reuse)
        self.out_shapes = [tuple(shapes[id(b.node)]) if b.node is not None else ()
                           for b in self.outputs]
        self.arena_bytes, self.values, self.shapes = total, values, shapes
        for info in self.kernels:
            if info.flops_of is not None:
                info.shapes, info.flops = info.flops_of(shapes, values)

    def stats_for(self, signature) -> int:
        """Address of the adaptive-run record of these input shapes (0: always the pool)."""
        if not self.adaptive:
            return 0
        record = self.run_stats.get(signature)
        if record is None:
            if len(self.run_stats) >= REMEMBERED_SHAPES:
                self.run_stats.clear()
            record = self.run_stats[signature] = np.zeros(threads.ADAPTIVE_STATS_WORDS, np.int64)
        return record.ctypes.data

    def run_time_sizes(self, arrays) -> tuple:
        """(concrete shapes, symbol values) for inputs of these shapes, checked (see
        passes.symbols.concrete_shapes); remembered per input shapes, as bucketed sequence
        lengths come back every epoch."""
        key = tuple(a.shape for a in arrays)
        found = self.sizes_by_shapes.get(key)
        if found is None:
            if len(self.sizes_by_shapes) >= REMEMBERED_SHAPES:
                self.sizes_by_shapes.clear()
            found = self.sizes_by_shapes[key] = self.solve_sizes(arrays)
        if isinstance(found, SizeOneBroadcast):
            raise found
        return found

    def solve_sizes(self, arrays):
        """(concrete shapes, symbol values), or the SizeOneBroadcast of these shapes (kept, as
        the function calls another program for them every time)."""
        syms = self.program.syms
        try:
            shapes = concrete_shapes(self.order, self.program.graph.inputs, arrays)
        except SizeOneBroadcast as err:
            return err
        values = syms.values(shapes) if syms else []
        if syms:
            syms.check(values)
        return shapes, values

    def place_arena(self, temps, values, reuse: bool) -> int:
        """Sets the arena buffers' addresses (guarded ones: blocks of their own, see
        guards.py); returns the arena's bytes."""
        nthreads = threads.num_threads()
        sizes = [b.count(values, nthreads) * ITEMSIZE[b.dtype] for b in temps]
        if self.guarded:
            self.arena_blocks = [(buf, guards.Guarded(size, guards.label_of(buf)))
                                 for buf, size in zip(temps, sizes)]
            for buf, block in self.arena_blocks:
                self.args[2 + buf.slot] = block.address
            return sum(sizes)
        key = (tuple(sizes), reuse)
        if key not in self.arena_plans:
            end = len(self.program.calls)
            if len(self.arena_plans) >= REMEMBERED_SHAPES:
                self.arena_plans.clear()
            self.arena_plans[key] = plan_offsets(
                sizes, [(b.first, b.last) if reuse else (0, end) for b in temps])
        offsets, total = self.arena_plans[key]
        if total > self.arena.nbytes:
            self.arena = aligned_copy(np.zeros(total, np.uint8))
        base = self.arena.ctypes.data
        for buf, offset in zip(temps, offsets):
            self.args[2 + buf.slot] = base + offset
        return total

    def __call__(self, *arrays):
        with self.lock:  # one pointer table per executable: calls from two threads take turns
            signature = tuple([a.shape for a in arrays])  # a list is built faster than a generator
            if signature != self.signature:
                self.prepare(arrays)
                self.signature = signature
            self.check_input_indices(arrays)
            outs = self.call_prepared(arrays)
            failed = self.status[0]
            if failed:
                node, code = self.program.checked[failed - 1], self.status[failed]
                self.clear_status()
        if failed and code == ALLOCATION_FAILED:
            raise MemoryError(f"{node.op}: a thread's {node.dtype} buffers could not be "
                              f"allocated (node built at {node.site}); nothing was computed")
        if failed:
            raise IndexError(f"{node.op}: an index computed in the graph is out of range; "
                             f"indices must lie in [-n, n) for an axis of size n (node built "
                             f"at {node.site}). The kernel read index 0 in its place, so "
                             f"no memory outside a buffer was read")
        return outs

    def check_input_indices(self, arrays) -> None:
        """Index inputs are checked before the call, as no update may be half applied then
        (the kernels' own checks catch computed indices, after the call)."""
        for k, node, source in self.index_inputs:
            indices, n = arrays[k], self.shapes[id(source)][node.attr("axis") % source.ndim]
            if indices.size and (indices.min() < -n or indices.max() >= n):
                bad = indices[(indices < -n) | (indices >= n)].flat[0]
                raise IndexError(f"{node.op}: index {bad} is out of bounds for axis "
                                 f"{node.attr('axis')} with size {n} (node built at "
                                 f"{node.site})")

    def run_keeping_values(self, *arrays):
        """Call once with no buffer reuse; returns (outputs, {(kernel name, output index):
        copy of that kernel output's value}). For graphc.compare's per-kernel errors."""
        with self.lock:
            self.prepare(arrays, reuse=False)
            self.signature = None  # the next normal call plans the arena again
            outs = self.call_prepared(arrays)
        values = {}
        for call in self.program.calls:
            for index, node in enumerate(call.body.outputs):
                buf = self.program.values[(id(call.body), index)]
                values[(call.name, index)] = self.read_buffer(buf, node, outs)
        return outs, values

    def call_prepared(self, arrays):
        if self.guarded:
            return self.call_guarded(arrays)
        args = self.args
        for slot, k in self.inputs:
            args[slot] = data_address(arrays[k])
        outs = [np.empty(shape, buf.dtype) for shape, buf in zip(self.out_shapes, self.outputs)]
        for out, buf in zip(outs, self.outputs):
            args[2 + buf.slot] = data_address(out)
        threads.parallel_run(self.step, self.args_address, self.stats_address)
        return outs

    def call_guarded(self, arrays):
        """call_prepared with every buffer in a guarded block (guards.py): a read or write
        past the end of one faults, a write into a canary raises after the call."""
        args, buffers = self.args, {b.slot: b for b in self.program.buffers}
        blocks = [block for _, block in self.arena_blocks]
        for block in blocks:
            block.raw[:] = guards.CANARY
        for slot, k in self.inputs:
            blocks.append(guards.holding(arrays[k], guards.label_of(buffers[slot - 2]), True))
            args[slot] = blocks[-1].address
        state = [(buf, guards.holding(buf.array, guards.label_of(buf)))
                 for buf in self.program.buffers if buf.kind in ("shared", "constant")]
        for buf, block in state:
            args[2 + buf.slot] = block.address
        outs = []
        for shape, buf in zip(self.out_shapes, self.outputs):
            blocks.append(guards.Guarded(int(np.prod(shape)) * ITEMSIZE[buf.dtype],
                                         guards.label_of(buf)))
            outs.append(blocks[-1].view(buf.dtype, shape))
            args[2 + buf.slot] = blocks[-1].address
        threads.parallel_run(self.step, self.args_address)
        for block in blocks + [block for _, block in state]:
            block.check()
        for buf, block in state:
            if buf.kind == "shared":  # updates were written in place
                buf.array[...] = block.view(buf.array.dtype, buf.array.shape)
        return [np.array(out) for out in outs]

    def read_buffer(self, buf, node, outs):
        if buf.kind == "output":
            return np.array(outs[buf.index])
        if buf.kind in ("shared", "constant"):
            return np.array(buf.array)
        shape = tuple(self.shapes[id(node)])
        count = int(np.prod(shape, dtype=np.int64))
        nbytes = count * ITEMSIZE[buf.dtype]
        raw = (ctypes.c_char * nbytes).from_address(int(self.args[2 + buf.slot]))
        return np.frombuffer(raw, dtype=buf.dtype).reshape(shape).copy()


def data_address(array: np.ndarray) -> int:
    """The address of a C-contiguous array's data: through the buffer protocol where NumPy
    exports one (~0.6 us; `array.ctypes.data` costs ~2 us, twice per batch-1 predict call)."""
    if array.flags.writeable and array.nbytes and array.dtype.isbuiltin == 1:
        return ctypes.addressof(ctypes.c_byte.from_buffer(array))
    return array.ctypes.data  # read-only, empty, or a dtype NumPy exports no buffer of


def indices_from_inputs(order, inputs) -> list:
    """(input position, take/take_grad node, the node whose axis it indexes) for each index
    array that is one of the function's inputs."""
    position = {id(p): k for k, p in enumerate(inputs)}
    return [(position[id(n.inputs[1])], n, n.inputs[0] if n.op == "take" else n.inputs[2])
            for n in order if n.op in INDEXING_OPS and id(n.inputs[1]) in position]
