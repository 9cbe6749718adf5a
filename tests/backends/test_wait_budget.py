"""The spin budget of dependency waits (wait_ir.py): GRAPHC_SPIN_US through the status array's
budget word (zero: the compiled-in default), halved after a wait that slept, doubled after one
that ended while spinning. Delays here are sleeps of milliseconds against spin limits that
differ from them fourfold or more."""

import ctypes
import threading
import time

import numpy as np
import pytest
from llvmlite import ir

import graphc as gc
from graphc.backends.llvm import jit, wait_ir
from graphc.backends.llvm.irutil import I32, PTR, VOID

NCALLS = 1  # one call: status words 0, call 0, done 0, sleepers, budget, spin
WORDS = 1 + NCALLS + wait_ir.extra_words(NCALLS)
SPIN = 3 + 2 * NCALLS


def wait_functions():
    """(module, wait, count): the compiled module (keep it: its code lives as long as it does)
    and ctypes functions of `void wait(i64* status, i32 nthreads)` (returns once
    nthreads threads counted call 0) and `void count(i64* status)` (this thread counts it)."""
    module = ir.Module()
    for name in ("wait", "count"):
        fn = ir.Function(module, ir.FunctionType(VOID, [PTR, I32]), name=f"budget_test_{name}")
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        words = wait_ir.WaitWords(b, fn.args[0], NCALLS)
        if name == "wait":
            words.emit_wait(module, 0, fn.args[1])
        else:
            words.emit_count(module, 0)
        b.ret_void()
    compiled = jit.compile_ir(str(module), "wait_budget_test")
    kind = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int32)
    return (compiled, *(kind(compiled.address(f"budget_test_{n}")) for n in ("wait", "count")))


def halvings_after_wait(budget_ns: int, halvings: int, delay: float) -> tuple[int, int]:
    """(halvings, sleepers) after one wait that the counting thread ends `delay` s later."""
    _module, wait, count = wait_functions()
    status = np.zeros(WORDS, np.int64)
    status[wait_ir.budget_word(NCALLS)], status[SPIN] = budget_ns, halvings
    waiter = threading.Thread(target=wait, args=(status.ctypes.data, 1))
    waiter.start()  # ctypes releases the GIL: the wait runs while this thread sleeps
    time.sleep(delay)
    count(status.ctypes.data, 1)
    waiter.join(timeout=30)
    assert not waiter.is_alive()
    return int(status[SPIN]), int(status[1 + 2 * NCALLS])


def test_the_budget_word_sits_between_the_sleepers_and_the_spin_word():
    assert wait_ir.budget_word(NCALLS) == 2 + 2 * NCALLS == SPIN - 1 == WORDS - 2


def test_a_wait_longer_than_the_default_budget_halves_the_limit():
    # budget word 0: the compiled-in 300 us; 20 ms outlasts it
    assert halvings_after_wait(0, 0, 0.02) == (1, 0)


def test_a_wait_within_a_larger_budget_word_spins_it_out_and_doubles_the_limit():
    # the budget word's 2 s: its limit of 2 s >> 2 covers 20 ms, the wait never sleeps
    assert halvings_after_wait(2_000_000_000, 2, 0.02) == (1, 0)


def test_a_dependency_wait_that_slept_halves_the_limit_even_within_the_budget():
    # 200 ms >> 3 = 25 ms of spin, then asleep until 100 ms: the partner may share this core
    assert halvings_after_wait(200_000_000, 3, 0.1) == (4, 0)


def test_a_tiny_budget_word_parks_at_once():
    assert halvings_after_wait(1000, 0, 0.02) == (1, 0)  # 1 us: the 20 ms wait is long


def budget_word_of_a_step() -> int:
    x = gc.placeholder((None, 5), name="x")
    fn = gc.function([x], [gc.exp(x) * 2.0])
    fn(np.ones((3, 5), np.float32))
    executable = fn.executable
    return int(executable.status[executable.budget_word])


@pytest.mark.parametrize("spin_us, expected", [(None, 0), ("40", 40_000), ("0", 1)])
def test_executables_set_the_budget_word_from_graphc_spin_us(monkeypatch, spin_us, expected):
    if spin_us is None:
        monkeypatch.delenv("GRAPHC_SPIN_US", raising=False)
    else:
        monkeypatch.setenv("GRAPHC_SPIN_US", spin_us)
    assert budget_word_of_a_step() == expected
