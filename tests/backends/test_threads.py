"""threads.py: SPMD runs, barrier correctness, nested runs, single-thread mode."""

import ctypes
import os
import subprocess
import sys

import numpy as np

from graphc.backends.llvm import jit, threads

from .thread_runs import result_with_threads

# Each round: every thread writes round*1000+tid into its slot, barrier, then sums all slots
# into out[round, tid]; a second barrier keeps the next round's writes after everyone's reads.
STEP_IR = r"""
declare void @graphc_barrier(i32, i32)
declare void @graphc_parallel_run(ptr, ptr)

define void @rounds(ptr %args, i32 %tid, i32 %n) {
entry:
  %slots = load ptr, ptr %args
  %outp = getelementptr ptr, ptr %args, i64 1
  %out = load ptr, ptr %outp
  %t = sext i32 %tid to i64
  %n64 = sext i32 %n to i64
  br label %round
round:
  %r = phi i64 [ 0, %entry ], [ %r1, %summed ]
  %mine = getelementptr i64, ptr %slots, i64 %t
  %v0 = mul i64 %r, 1000
  %v = add i64 %v0, %t
  store i64 %v, ptr %mine
  call void @graphc_barrier(i32 %tid, i32 %n)
  br label %sum
sum:
  %i = phi i64 [ 0, %round ], [ %i1, %sum ]
  %acc = phi i64 [ 0, %round ], [ %acc1, %sum ]
  %p = getelementptr i64, ptr %slots, i64 %i
  %x = load i64, ptr %p
  %acc1 = add i64 %acc, %x
  %i1 = add i64 %i, 1
  %more = icmp slt i64 %i1, %n64
  br i1 %more, label %sum, label %summed
summed:
  %row = mul i64 %r, 64
  %k = add i64 %row, %t
  %o = getelementptr i64, ptr %out, i64 %k
  store i64 %acc1, ptr %o
  call void @graphc_barrier(i32 %tid, i32 %n)
  %r1 = add i64 %r, 1
  %again = icmp slt i64 %r1, 200
  br i1 %again, label %round, label %done
done:
  ret void
}

; A step that starts a nested run: it must run serially (nthreads = 1), not deadlock.
define void @nested(ptr %args, i32 %tid, i32 %n) {
  call void @graphc_parallel_run(ptr @count_threads, ptr %args)
  ret void
}

define void @count_threads(ptr %args, i32 %tid, i32 %n) {
  %inner = getelementptr ptr, ptr %args, i64 2
  %count = load ptr, ptr %inner
  %n64 = sext i32 %n to i64
  %old = atomicrmw add ptr %count, i64 %n64 seq_cst
  ret void
}
"""


def compiled_steps():
    return jit.compile_ir(STEP_IR, "threads_test")


def run_rounds(module):
    slots = np.zeros(64, np.int64)
    out = np.zeros((200, 64), np.int64)
    count = np.zeros(1, np.int64)
    args = (ctypes.c_void_p * 3)(slots.ctypes.data, out.ctypes.data, count.ctypes.data)
    threads.parallel_run(module.address("rounds"), ctypes.addressof(args))
    return out, count, args


def test_barrier_orders_writes_before_reads():
    module = compiled_steps()
    n = threads.num_threads()
    for _ in range(5):
        out, _, _ = run_rounds(module)
        expected = np.array([r * 1000 * n + n * (n - 1) // 2 for r in range(200)])
        np.testing.assert_array_equal(out[:, :n], np.repeat(expected[:, None], n, axis=1))
        assert not out[:, n:].any()


def test_nested_run_falls_back_to_the_calling_thread():
    module = compiled_steps()
    _, count, args = run_rounds(module)
    threads.parallel_run(module.address("nested"), ctypes.addressof(args))
    # the outer run holds the pool, so each outer thread ran its inner step alone (n = 1)
    assert count[0] == threads.num_threads()


def test_parallel_run_address_is_the_native_symbol():
    assert threads.parallel_run_address() != 0 and threads.barrier_address() != 0


def test_single_thread_mode_and_bad_env():
    code = ("import numpy as np, ctypes\n"
            "from graphc.backends.llvm import threads\n"
            "import tests.backends.test_threads as t\n"
            "out, _, _ = t.run_rounds(t.compiled_steps())\n"
            "assert threads.num_threads() == 1\n"
            "assert out[5, 0] == 5000 and not out[:, 1:].any()\n"
            "import threading; assert threading.active_count() == 1\n")
    env = dict(os.environ, GRAPHC_NUM_THREADS="1")
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=_repo_root())
    env["GRAPHC_NUM_THREADS"] = "zero"
    bad = subprocess.run([sys.executable, "-c", "from graphc.backends.llvm import threads;"
                          "threads.num_threads()"], env=env, capture_output=True, text=True)
    assert bad.returncode != 0 and "GRAPHC_NUM_THREADS" in bad.stderr


def test_three_threads_on_two_cores_still_agree():
    code = ("import numpy as np\n"
            "import tests.backends.test_threads as t\n"
            "out, _, _ = t.run_rounds(t.compiled_steps())\n"
            "assert (out[:, :3] == (np.arange(200) * 3000 + 3)[:, None]).all(), out[:3, :4]\n")
    env = dict(os.environ, GRAPHC_NUM_THREADS="3")
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=_repo_root(),
                   timeout=60)


def _repo_root():
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


COUNT_IR = r"""
define void @count(ptr %counter, i32 %tid, i32 %n) {
  %old = atomicrmw add ptr %counter, i64 1 seq_cst
  ret void
}
"""


def test_workers_started_late_still_join_the_first_run():
    """Run right after the pool starts, with more threads than cores: every worker takes part
    even if the OS schedules it after the run was posted."""
    code = ("import ctypes, numpy as np\n"
            "from graphc.backends.llvm import jit, threads\n"
            "import tests.backends.test_threads as t\n"
            "module = jit.compile_ir(t.COUNT_IR, 'count')\n"
            "step = module.address('count')\n"
            "counter = np.zeros(1, np.int64)\n"
            "threads.ensure_runtime()\n"
            "for _ in range(50):\n"
            "    threads.parallel_run(step, counter.ctypes.data)\n"
            "assert counter[0] == 50 * 6, counter\n")
    env = dict(os.environ, GRAPHC_NUM_THREADS="6")
    for _ in range(3):
        subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=_repo_root(),
                       timeout=60)


# ---- fork safety -------------------------------------------------------------------------------


def _fork_model():
    import graphc as gc

    rng = np.random.default_rng(0)
    x = gc.placeholder((None, 64), name="x")
    W = gc.shared(rng.standard_normal((64, 32)).astype(np.float32), name="W")
    fn = gc.function([x], gc.sum(gc.relu(x @ W), axis=1))
    return fn, rng.standard_normal((40, 64)).astype(np.float32)


def _in_child(queue):
    import graphc as gc

    fn, xs = _fork_model()
    y = gc.placeholder((None, 3), name="y")  # a function compiled in the child runs too
    queue.put((fn(xs), gc.function([y], gc.max(y * 2.0, axis=0))(np.ones((5, 3), "f4"))))


def fork_scenario():
    """Start the pool, then call compiled functions in children made by multiprocessing's
    'fork' start method and by os.fork; the results must match the parent's."""
    import multiprocessing

    fn, xs = _fork_model()
    want = fn(xs)  # the parent's pool is running now
    assert threads.num_threads() > 1 and threading_workers() == threads.num_threads() - 1
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_in_child, args=(queue,), daemon=True)  # killed if we fail
    child.start()
    got, doubled = queue.get(timeout=60)
    child.join(timeout=10)
    assert child.exitcode == 0
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(doubled, np.full(3, 2.0, "f4"))
    np.testing.assert_array_equal(in_os_fork_child(fn, xs), want)
    np.testing.assert_array_equal(fn(xs), want)  # the parent's pool still works


def in_os_fork_child(fn, xs, seconds=60):
    """fn(xs) computed in a child made by os.fork (float32 result, flattened)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: answer through the pipe, never return into the caller
        try:
            os.write(write, fn(xs).tobytes())
        finally:
            os._exit(0)
    os.close(write)
    try:
        return np.frombuffer(_read_within(read, pid, seconds), np.float32)
    finally:
        os.close(read)


def fork_during_runs_scenario():
    """Fork while other threads keep the pool busy and call the same function: a child
    inherits the pool mid-run (busy flag set, a half-full barrier) and the function's lock
    held, and must still run its compiled calls."""
    import threading

    fn, xs = _fork_model()
    want = fn(xs)
    module = compiled_steps()
    stop = threading.Event()

    def keep_calling(work):
        while not stop.is_set():
            work()

    busy = [threading.Thread(target=keep_calling, args=(work,))
            for work in (lambda: run_rounds(module), lambda: fn(xs))]
    for thread in busy:
        thread.start()
    try:
        for _ in range(10):
            np.testing.assert_array_equal(in_os_fork_child(fn, xs, seconds=30), want)
    finally:
        stop.set()
        for thread in busy:
            thread.join()


def fork_during_llvm_calls_scenario():
    """Fork while another thread is inside llvmlite (symbol lookups in a loop, each under
    llvmlite's global lock): a child that inherited that lock held would wait forever, in the
    pool's fork handler or in its first compile. Each child runs and compiles a function."""
    import threading

    fn, xs = _fork_model()
    want = fn(xs)
    module = compiled_steps()
    stop = threading.Event()

    def look_up_symbols():
        while not stop.is_set():
            module.address("rounds")

    caller = threading.Thread(target=look_up_symbols)
    caller.start()
    try:
        for _ in range(12):
            got = in_os_fork_child(lambda x: np.concatenate([fn(x), _doubled_max(x)]), xs, 30)
            np.testing.assert_array_equal(got, np.concatenate([want, 2 * xs.max(axis=0)]))
    finally:
        stop.set()
        caller.join()


def _doubled_max(xs):
    """A function compiled (or loaded from the disk cache) in the caller's process."""
    import graphc as gc

    y = gc.placeholder((None, xs.shape[1]), name="y")
    return gc.function([y], gc.max(y * 2.0, axis=0))(xs)


def _read_within(fd, pid, seconds):
    """All a forked child writes to `fd`; a child still silent after `seconds` is killed."""
    import select
    import signal

    chunks = []
    while select.select([fd], [], [], seconds)[0]:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            os.waitpid(pid, 0)
            return b"".join(chunks)
        chunks.append(chunk)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise TimeoutError(f"the forked child gave no answer within {seconds} s")


def threading_workers():
    import threading

    return sum(t.name.startswith("graphc-worker-") for t in threading.enumerate())


def test_compiled_functions_run_in_forked_children():
    code = "import tests.backends.test_threads as t\nt.fork_scenario()\n"
    env = dict(os.environ, GRAPHC_NUM_THREADS="3")
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=_repo_root(),
                   timeout=120)


def test_children_forked_while_the_pool_runs_start_afresh():
    code = "import tests.backends.test_threads as t\nt.fork_during_runs_scenario()\n"
    env = dict(os.environ, GRAPHC_NUM_THREADS="3")
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=_repo_root(),
                   timeout=180)


def test_children_forked_during_llvm_calls_do_not_inherit_its_lock():
    code = "import tests.backends.test_threads as t\nt.fork_during_llvm_calls_scenario()\n"
    env = dict(os.environ, GRAPHC_NUM_THREADS="2")
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=_repo_root(),
                   timeout=600)


def spin_limits_after_waits() -> dict:
    """The workers' spin limit after each of 8 runs spaced by 20 ms sleeps (every wait for a
    run sleeps), then its highest value over 2000 back-to-back runs (most waits end while
    spinning), sampled every 50 runs; and the maximum."""
    import time

    module = jit.compile_ir(COUNT_IR, "count")
    step, counter = module.address("count"), np.zeros(1, np.int64)
    threads.parallel_run(step, counter.ctypes.data)
    spaced = []
    for _ in range(8):
        time.sleep(0.02)
        threads.parallel_run(step, counter.ctypes.data)
        spaced.append(threads.spin_limits()["idle"])
    back_to_back = 0
    for k in range(2000):
        threads.parallel_run(step, counter.ctypes.data)
        if k % 50 == 49:
            back_to_back = max(back_to_back, threads.spin_limits()["idle"])
    return {"spaced": spaced, "back_to_back": back_to_back, "most": threads.spin_limits()["most"]}


def test_waits_that_sleep_shorten_the_spin_and_quick_ones_lengthen_it():
    limits = result_with_threads("tests.backends.test_threads", "spin_limits_after_waits", 2)
    floor = limits["most"] >> 4
    # 20 ms between runs: each wait outlasts its spin, halving the limit down to 1/16
    assert limits["spaced"][-1] == floor, limits
    assert all(a >= b for a, b in zip(limits["spaced"], limits["spaced"][1:])), limits
    # back-to-back runs: waits that end while spinning double it again (a loaded machine
    # deschedules workers now and then, halving it: the highest sample is checked)
    assert limits["back_to_back"] >= 4 * floor, limits
