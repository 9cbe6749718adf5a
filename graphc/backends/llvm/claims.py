"""Dynamic work claiming: the threads of a run take a kernel's blocks one at a time from a shared
counter (an atomic add), instead of a fixed share each. A thread that the OS deschedules (a core
taken by another process) holds up at most the one block it claimed; the others take the rest.

The counter is the kernel call's own i64 word of the step's status array (emit.py passes
status + 1 + k to call k; only take/take_grad kernels use theirs for index errors), zero between
runs. Each thread claims until a claim comes back >= nblocks; the n threads' failed claims return
nblocks .. nblocks + n - 1, and the thread that gets the last of them is the last one to touch
the counter, so it puts it back to zero for the next run (the barrier or the run's join after
the kernel orders that store before any later claim).

Which thread runs a block never changes what the block computes (the blocks are fixed by the
sizes), so results stay bit-identical for any thread count and any claiming order.

A kernel of another family (a GEMM splitting its tiles) can claim the same way, with the
`own_status` word emit.py passes it (unused unless the kernel checks indices):

    claimed_blocks(builder, own_status, nblocks_i64, nthreads_i32, lambda k: ...)

Two claim loops on one counter in one kernel need a barrier between them (a thread done with
the first must not claim from the second before the last thread has reset the counter).
"""

from __future__ import annotations

from llvmlite import ir

from graphc.backends.llvm.irutil import I64, c64


def claimed_blocks(b: ir.IRBuilder, counter, nblocks, nthreads, body) -> None:
    """Emit: while this thread claims a block k < nblocks from `counter` (an i64*), body(k);
    then the last thread to fail a claim zeroes the counter. `nthreads` is the run's i32
    thread count, the same in every thread; every thread of the run must reach this code."""
    head = b.append_basic_block("claim.head")
    work = b.append_basic_block("claim.work")
    last = b.append_basic_block("claim.last")
    reset = b.append_basic_block("claim.reset")
    done = b.append_basic_block("claim.done")
    b.branch(head)
    b.position_at_end(head)
    k = b.atomic_rmw("add", counter, c64(1), "monotonic", name="claim")
    b.cbranch(b.icmp_signed("<", k, nblocks), work, last)
    b.position_at_end(work)
    body(k)
    b.branch(head)
    b.position_at_end(last)
    final = b.add(nblocks, b.sub(b.sext(nthreads, I64), c64(1)))
    b.cbranch(b.icmp_signed("==", k, final), reset, done)
    b.position_at_end(reset)
    b.atomic_rmw("xchg", counter, c64(0), "release")
    b.branch(done)
    b.position_at_end(done)
