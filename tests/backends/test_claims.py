"""claims.py: threads claim blocks from a shared counter. Every block runs exactly once for any
thread count, the counter is zero again after each run, a stalled thread leaves the other blocks
to the others, and loop kernels leave their status words (their counters) at zero."""

import ctypes

import numpy as np
import pytest
from llvmlite import ir

import graphc as gc
from graphc.backends.llvm import jit, threads
from graphc.backends.llvm.claims import claimed_blocks
from graphc.backends.llvm.irutil import I32, I64, PTR, VOID, c64

from .thread_runs import result_with_threads

BLOCK_COUNTS = (0, 1, 7, 33, 257)
STALL_LIMIT = 1 << 26  # pause loops a stalled thread waits at most (about a second or two)


def claiming_module():
    """`run(args, tid, n)`: args = [counter, hits, owners, nblocks, stall]; each claimed block
    k adds 1 to hits[k] and stores tid + 1 in owners[k]; with stall != 0 thread 1 waits on its
    first block until the others ran every other block (or STALL_LIMIT)."""
    module = ir.Module()
    fn = ir.Function(module, ir.FunctionType(VOID, [PTR, I32, I32]), name="run")
    args, tid, nthreads = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    counter, hits, owners, nblocks_at, stall_at = (
        b.load(b.gep(args, [c64(k)], source_etype=PTR), typ=PTR) for k in range(5))
    nblocks, stall = b.load(nblocks_at, typ=I64), b.load(stall_at, typ=I64)
    done = b.gep(hits, [nblocks], source_etype=I64)  # one word past the blocks: blocks finished

    def block(k):
        stalls = b.and_(b.icmp_signed("!=", stall, c64(0)),
                        b.icmp_signed("==", tid, ir.Constant(I32, 1)))
        with b.if_then(stalls):
            wait_until_others_finished(b, done, nblocks)
        b.atomic_rmw("add", b.gep(hits, [k], source_etype=I64), c64(1), "monotonic")
        b.store(b.add(b.sext(tid, I64), c64(1)), b.gep(owners, [k], source_etype=I64))
        b.atomic_rmw("add", done, c64(1), "seq_cst")

    claimed_blocks(b, counter, nblocks, nthreads, block)
    b.ret_void()
    return jit.compile_ir(str(module), "claims_test")


def wait_until_others_finished(b, done, nblocks):
    """Spin until *done == nblocks - 1 or STALL_LIMIT iterations."""
    head, body, out = (b.append_basic_block(n) for n in ("stall.head", "stall.body", "stall.out"))
    pre = b.block
    b.branch(head)
    b.position_at_end(head)
    i = b.phi(I64)
    i.add_incoming(c64(0), pre)
    finished = b.load_atomic(done, "acquire", 8, typ=I64)
    waiting = b.and_(b.icmp_signed("<", finished, b.sub(nblocks, c64(1))),
                     b.icmp_signed("<", i, c64(STALL_LIMIT)))
    b.cbranch(waiting, body, out)
    b.position_at_end(body)
    pause = b.module.declare_intrinsic("llvm.x86.sse2.pause", fnty=ir.FunctionType(VOID, []))
    b.call(pause, [])
    i.add_incoming(b.add(i, c64(1)), body)
    b.branch(head)
    b.position_at_end(out)


def run_claims(module, nblocks, stall=False):
    """(hits per block, owner thread per block, the counter afterwards) of one run."""
    counter = np.zeros(1, np.int64)
    hits = np.zeros(nblocks + 1, np.int64)
    owners = np.zeros(max(nblocks, 1), np.int64)
    sizes = np.array([nblocks, int(stall)], np.int64)
    args = (ctypes.c_void_p * 5)(counter.ctypes.data, hits.ctypes.data, owners.ctypes.data,
                                 sizes.ctypes.data, sizes[1:].ctypes.data)
    threads.parallel_run(module.address("run"), ctypes.addressof(args))
    return hits[:nblocks], owners[:nblocks], int(counter[0])


def claims_report() -> dict:
    """Per block count: every block ran exactly once and the counter was zero, over 20 runs;
    and the owners of a run where thread 1 stalls on its first block."""
    module = claiming_module()
    report = {}
    for nblocks in BLOCK_COUNTS:
        runs = [run_claims(module, nblocks) for _ in range(20)]
        report[str(nblocks)] = all((hits == 1).all() and counter == 0
                                   for hits, _, counter in runs)
    hits, owners, counter = run_claims(module, 33, stall=True)
    report["stalled"] = {"hits": hits.tolist(), "owners": owners.tolist(), "counter": counter}
    return report


@pytest.mark.parametrize("nthreads", [1, 2, 3])
def test_every_block_runs_once_and_the_counter_returns_to_zero(nthreads):
    report = result_with_threads("tests.backends.test_claims", "claims_report", nthreads)
    assert all(report[str(n)] for n in BLOCK_COUNTS), report
    stalled = report["stalled"]
    assert stalled["hits"] == [1] * 33 and stalled["counter"] == 0
    # thread 1, stalled on its first block, runs that block only: the others take the rest
    # (with fixed shares they could not, and it would run its whole share after the stall)
    assert stalled["owners"].count(2) <= 1, stalled["owners"]


def test_loop_kernels_leave_their_counters_at_zero():
    x = gc.placeholder((None, 500), name="x")
    fn = gc.function([x], [gc.sum(x, axis=0), gc.exp(x) * 2.0])
    for rows in (1, 7, 33, 257):
        xs = np.random.default_rng(rows).standard_normal((rows, 500)).astype("float32")
        total, scaled = fn(xs)
        np.testing.assert_allclose(total, xs.sum(axis=0), rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(scaled, np.exp(xs) * 2.0, rtol=1e-6)
        assert not fn.executable.status.any(), fn.executable.status
