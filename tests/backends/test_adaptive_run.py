"""threads.parallel_run with a stats record (graphc_adaptive_run): each step runs on the pool or
on the calling thread alone, whichever has been faster for it, and keeps trying the other."""

import numpy as np
import pytest

import graphc as gc
from graphc.backends.llvm import jit, threads

pytestmark = pytest.mark.skipif(threads.num_threads() < 2, reason="needs a pool of 2+ threads")

# Thread 0 counts the run as serial (nthreads 1) or pool, then waits the cycles given for
# that mode: args = {i64 runs[2], i64 cycles[2]}.
TIMED_STEP_IR = r"""
declare i64 @llvm.readcyclecounter()

define void @timed(ptr %args, i32 %tid, i32 %n) {
entry:
  %first = icmp eq i32 %tid, 0
  br i1 %first, label %count, label %done
count:
  %pool = icmp sgt i32 %n, 1
  %mode = zext i1 %pool to i64
  %runs = getelementptr i64, ptr %args, i64 %mode
  %old = atomicrmw add ptr %runs, i64 1 seq_cst
  %slot = add i64 %mode, 2
  %cyclesp = getelementptr i64, ptr %args, i64 %slot
  %cycles = load i64, ptr %cyclesp
  %start = call i64 @llvm.readcyclecounter()
  br label %wait
wait:
  %now = call i64 @llvm.readcyclecounter()
  %elapsed = sub i64 %now, %start
  %more = icmp ult i64 %elapsed, %cycles
  br i1 %more, label %wait, label %done
done:
  ret void
}
"""
SLOW = 12_000_000  # cycles: a few ms, above a fork/join even on a loaded machine
RUNS = 200


@pytest.fixture(scope="module")
def timed_step():
    module = jit.compile_ir(TIMED_STEP_IR, "adaptive_run_test")
    return module, module.address("timed")


def run_many(step_address, serial_cycles, pool_cycles) -> tuple[np.ndarray, np.ndarray]:
    """(runs per mode [serial, pool], the stats record) after RUNS adaptive runs."""
    args = np.array([0, 0, serial_cycles, pool_cycles], np.int64)
    stats = np.zeros(threads.ADAPTIVE_STATS_WORDS, np.int64)
    for _ in range(RUNS):
        threads.parallel_run(step_address, args.ctypes.data, stats.ctypes.data)
    return args[:2], stats


def test_a_slow_pool_run_makes_the_step_run_serially(timed_step):
    runs, stats = run_many(timed_step[1], serial_cycles=0, pool_cycles=SLOW)
    assert runs.sum() == RUNS and runs[0] >= 0.75 * RUNS
    assert runs[1] >= 2  # the pool is tried again now and then
    assert stats[0] < stats[1]


def test_a_slow_serial_run_makes_the_step_run_on_the_pool(timed_step):
    runs, stats = run_many(timed_step[1], serial_cycles=SLOW, pool_cycles=0)
    # a pool run waits for a worker that a loaded machine may not schedule for a while
    assert runs.sum() == RUNS and runs[1] >= 0.6 * RUNS and runs[0] >= 2
    assert stats[1] < stats[0]


def test_probe_interval_doubles_while_the_choice_holds(timed_step):
    _, stats = run_many(timed_step[1], serial_cycles=0, pool_cycles=SLOW)
    interval = int(stats[3])
    # 4 after a switch, doubled on every try that confirms the choice
    assert interval > 4 and interval & (interval - 1) == 0


def test_without_a_record_every_run_uses_the_pool(timed_step):
    args = np.array([0, 0, 0, SLOW], np.int64)
    for _ in range(5):
        threads.parallel_run(timed_step[1], args.ctypes.data)
    assert list(args[:2]) == [0, 5]


def test_a_function_keeps_one_record_per_input_shapes():
    x = gc.placeholder((None, 7), name="x")
    f = gc.function([x], gc.sum(x * 2, axis=0), backend="llvm")
    for rows in (1, 33, 1, 257):
        data = np.arange(rows * 7, dtype="float32").reshape(rows, 7)
        np.testing.assert_allclose(f(data), (data * 2).sum(axis=0), rtol=1e-6)
    records = f.executable.run_stats
    assert sorted(records) == [((1, 7),), ((33, 7),), ((257, 7),)]
    assert all(r[0] > 0 or r[1] > 0 for r in records.values())


def test_profiled_runs_use_every_thread():
    from graphc.backends.llvm.profiling import ProfiledExecutable
    from graphc.backends.llvm.runtime import Executable

    assert Executable.adaptive and not ProfiledExecutable.adaptive
