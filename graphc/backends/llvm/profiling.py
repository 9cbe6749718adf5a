"""The profiling build of a program: cycle counters read around every kernel call.

In a profiling build (emit.generate(program, profile=True)) each thread of the step reads the
cycle counter (llvm.readcyclecounter: rdtsc on x86) before each kernel call, after it, and at
the end of the step, and adds into its own row of the table at args[2 + number of buffers]:

    word 2k     span of call k: its start to the start of the next (its barrier wait included)
    word 2k+1   busy time of call k: its start to its return
    slot k = number of calls: the copies after the last kernel (span only)

Rows are padded to 64 bytes so threads never share a cache line. Summing the spans of one
thread gives the whole step on that thread, which is why thread 0's spans are the kernels'
times. A normal build emits none of it (NoClock).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir

from graphc.backends.llvm import threads
from graphc.backends.llvm.irutil import I64, PTR, c64, declare
from graphc.backends.llvm.runtime import Executable

SPAN, BUSY = 0, 1


def row_words(ncalls: int) -> int:
    """Counter words per thread: two per call and two for the copies, in whole cache lines."""
    return -(-2 * (ncalls + 1) // 8) * 8


class NoClock:
    """What a normal build emits around kernel calls: nothing."""

    def start(self, k) -> None:
        pass

    def stop(self, k) -> None:
        pass


class StepClock:
    """Emits the counter reads and adds of a profiling build into the step function."""

    def __init__(self, b: ir.IRBuilder, module: ir.Module, args, tid, program):
        self.b = b
        self.read = declare(module, "llvm.readcyclecounter", I64, [])
        slot = c64(2 + len(program.buffers))
        table = b.load(b.gep(args, [slot], source_etype=PTR), typ=PTR)
        offset = b.mul(b.sext(tid, I64), c64(row_words(len(program.calls))))
        self.row = b.gep(table, [offset], source_etype=I64)
        self.current, self.started = None, None

    def add(self, word: int, cycles) -> None:
        at = self.b.gep(self.row, [c64(word)], source_etype=I64)
        self.b.store(self.b.add(self.b.load(at, typ=I64), cycles), at)

    def start(self, k) -> None:
        """Call k starts (None: the step ends): the previous call's span is complete."""
        now = self.b.call(self.read, [])
        if self.current is not None:
            self.add(2 * self.current + SPAN, self.b.sub(now, self.started))
        self.current, self.started = k, now

    def stop(self, k) -> None:
        self.add(2 * k + BUSY, self.b.sub(self.b.call(self.read, []), self.started))


class ProfiledExecutable(Executable):
    """An Executable of a profiling build: its pointer table has one more slot, the address of
    the counter table (threads x row_words int64 cycle counts, summed over calls)."""

    adaptive = False  # every thread counts its kernels in every call

    def __init__(self, program, compiled, names, kernels):
        super().__init__(program, compiled, names, kernels)
        self.args = np.append(self.args, np.uint64(0))
        self.args_address = self.args.ctypes.data
        self.counters = np.zeros((threads.num_threads(), row_words(len(program.calls))),
                                 np.int64)
        self.args[-1] = self.counters.ctypes.data

    def spans(self) -> np.ndarray:
        """(threads, calls + 1) cycles from each call's start to the next one's."""
        return self.counters[:, SPAN:2 * (len(self.program.calls) + 1):2].copy()

    def busy(self) -> np.ndarray:
        """(threads, calls) cycles each thread spent inside each kernel."""
        return self.counters[:, BUSY:2 * len(self.program.calls):2].copy()

    def bytes_moved(self, call) -> int:
        """Bytes of the buffers a call reads and writes (each counted once), at the current
        run-time sizes."""
        return self.buffers_bytes(call.pointers)

    def bytes_written(self, call) -> int:
        """Bytes of the buffers a call writes, at the current run-time sizes."""
        writes = call.writes()
        return self.buffers_bytes([buf for buf in call.pointers if id(buf) in writes])

    def buffers_bytes(self, buffers) -> int:
        """Bytes of these buffers (each counted once) at the current run-time sizes."""
        nthreads = threads.num_threads()
        unique = {id(buf): buf for buf in buffers}.values()
        return sum(buf.count(self.values, nthreads) * np.dtype(buf.dtype).itemsize
                   for buf in unique)
