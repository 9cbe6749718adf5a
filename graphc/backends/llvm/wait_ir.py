"""The native side of dependency waits (dep_waits.py), emitted into each step module so the
exported C library needs nothing more from its runtime.

Status words of a run with n calls (Program.status_words; emit.py): after word 0 and the n
call words come n done words (word 1 + n + k counts the threads done with call k), the
sleepers word (threads asleep in a wait), the budget word (below) and the spin word (how
often the spin limit has been halved, 0..MAX_HALVINGS; it persists from run to run).

A thread done with call k adds 1 to its done word (seq_cst), then wakes sleepers, if any, with
a futex wake on that word. A waiting thread spins with `pause` while the word is below
nthreads, for budget >> halvings nanoseconds of CLOCK_MONOTONIC (wall time, as the pool's
waits: a spinner descheduled by another process does not spin on for its whole budget when
it runs again), then counts itself in the sleepers word and
sleeps in a futex wait on the word's low 32 bits (the seq_cst pair: either the counting thread
sees the sleeper, or the sleeper sees the new count). A wait that had to sleep halves the spin
limit, one that ended while spinning doubles it again, as the pool's own waits do (threads.py):
when a partner thread is descheduled the others park quickly instead of burning the CPU (and
delaying the partner where they share a core: growing the limit after waits that slept but
ended within the budget was tried and made the Transformer block's step ~2x slower on the
pool at a load of ~11 on 2 cores, bench_busy).
The budget is the budget word's nanoseconds, which the executable sets from GRAPHC_SPIN_US
(runtime.py); a zero word (the variable not set, and the exported C library, whose status
words are calloc'd) means SPIN_NS, the compiled-in default (the pool's default too).
Thread 0 zeroes the done words after the step's last barrier.
Platform: x86-64 Linux (futex syscall 202, `pause`), as the pool.
"""

from __future__ import annotations

from llvmlite import ir

from graphc.backends.llvm.irutil import I1, I32, I64, PTR, VOID, c64, declare

WAIT, COUNT = "graphc_wait_done", "graphc_count_done"
SPIN_NS = 300_000  # the budget of a zero budget word: the pool's default (GRAPHC_SPIN_US=300)
CLOCK_EVERY = 32  # pauses between clock reads (a pause is ~10-40 ns)
CLOCK_MONOTONIC = 1
TIMESPEC = ir.ArrayType(I64, 2)  # struct timespec {seconds, nanoseconds} on x86-64 Linux
MAX_HALVINGS = 4  # down to 1/16 of it, as the pool
FUTEX, FUTEX_WAIT_PRIVATE, FUTEX_WAKE_PRIVATE = 202, 128, 129


def extra_words(ncalls: int) -> int:
    """Status words wait_ir uses after word 0 and the call words."""
    return ncalls + 3


def budget_word(ncalls: int) -> int:
    """Index of the budget word (spin budget in ns, 0: SPIN_NS) in the status words."""
    return 2 + 2 * ncalls


class WaitWords:
    """Addresses of a step's done, sleepers, spin and budget words (see the module doc)."""

    def __init__(self, b: ir.IRBuilder, status, ncalls: int):
        self.b, self.status, self.ncalls = b, status, ncalls
        self.sleepers = self.word(1 + 2 * ncalls)
        self.spin = self.word(3 + 2 * ncalls)
        self.budget = self.word(budget_word(ncalls))

    def word(self, k: int):
        return self.b.gep(self.status, [c64(k)], source_etype=I64)

    def done(self, k: int):
        return self.word(1 + self.ncalls + k)

    def emit_count(self, module: ir.Module, k: int) -> None:
        """This thread's share of call k is written: count it, wake the waiting."""
        fn = module.globals.get(COUNT) or define_count(module)
        self.b.call(fn, [self.done(k), self.sleepers])

    def emit_wait(self, module: ir.Module, k: int, nthreads) -> None:
        """Return once all nthreads threads have counted call k."""
        fn = module.globals.get(WAIT) or define_wait(module)
        self.b.call(fn, [self.done(k), self.b.sext(nthreads, I64), self.sleepers, self.spin,
                         self.budget])

    def emit_reset(self, counted) -> None:
        """Zero the done words (thread 0, after the step's last barrier)."""
        for k in counted:
            self.b.store(c64(0), self.done(k))


def futex(b: ir.IRBuilder, module: ir.Module, word, op: int, value) -> None:
    syscall = declare(module, "syscall", I64, [I64], var_arg=True)
    b.call(syscall, [c64(FUTEX), word, c64(op), value, ir.Constant(PTR, None),
                     ir.Constant(PTR, None), c64(0)])


def define_count(module: ir.Module) -> ir.Function:
    """void graphc_count_done(i64* done, i64* sleepers)."""
    fn = ir.Function(module, ir.FunctionType(VOID, [PTR, PTR]), name=COUNT)
    fn.linkage = "internal"
    done, sleepers = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    b.atomic_rmw("add", done, c64(1), "seq_cst")
    asleep = b.load_atomic(sleepers, "seq_cst", 8, typ=I64)
    with b.if_then(b.icmp_signed("!=", asleep, c64(0))):
        futex(b, module, done, FUTEX_WAKE_PRIVATE, c64(2 ** 31 - 1))
    b.ret_void()
    return fn


def define_wait(module: ir.Module) -> ir.Function:
    """void graphc_wait_done(i64* done, i64 target, i64* sleepers, i64* spin, i64* budget):
    see the module doc."""
    fn = ir.Function(module, ir.FunctionType(VOID, [PTR, I64, PTR, PTR, PTR]), name=WAIT)
    fn.linkage = "internal"
    done, target, sleepers, spin, budget_at = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    halvings, budget = b.load_atomic(spin, "monotonic", 8, typ=I64), spin_budget(b, budget_at)
    limit = b.lshr(budget, halvings)
    slept, spun, start = b.alloca(I1), b.alloca(I64), b.alloca(I64)
    spec = b.alloca(TIMESPEC)  # in the entry block: allocas in the loop would grow the stack
    b.store(ir.Constant(I1, 0), slept)
    b.store(c64(0), spun)
    b.store(monotonic_ns(b, module, spec), start)
    check, pause, clock, sleep, out = (fn.append_basic_block(n) for n in (
        "check", "pause", "clock", "sleep", "out"))
    b.branch(check)
    b.position_at_end(check)
    b.cbranch(b.icmp_signed(">=", b.load_atomic(done, "acquire", 8, typ=I64), target), out, pause)
    b.position_at_end(pause)
    b.call(declare(module, "llvm.x86.sse2.pause", VOID, []), [])
    pauses = b.add(b.load(spun, typ=I64), c64(1))
    b.store(pauses, spun)  # never reset: > 0 once this wait has spun at all
    b.cbranch(b.icmp_signed("==", b.urem(pauses, c64(CLOCK_EVERY)), c64(0)), clock, check)
    b.position_at_end(clock)
    elapsed = b.sub(monotonic_ns(b, module, spec), b.load(start, typ=I64))
    b.cbranch(b.icmp_signed("<", elapsed, limit), check, sleep)
    b.position_at_end(sleep)
    sleep_once(b, module, done, target, sleepers)
    b.store(ir.Constant(I1, 1), slept)
    b.store(monotonic_ns(b, module, spec), start)
    b.branch(check)
    b.position_at_end(out)
    waited = b.icmp_signed(">", b.load(spun, typ=I64), c64(0))
    adapt_spin(b, spin, halvings, b.load(slept, typ=I1), waited)
    b.ret_void()
    return fn


def spin_budget(b: ir.IRBuilder, budget_word):
    """The budget word's nanoseconds, SPIN_NS where it is zero."""
    word = b.load(budget_word, typ=I64)
    return b.select(b.icmp_signed(">", word, c64(0)), word, c64(SPIN_NS))


def monotonic_ns(b: ir.IRBuilder, module: ir.Module, spec):
    """CLOCK_MONOTONIC in nanoseconds (clock_gettime: the vDSO, no syscall), read through
    `spec`, a TIMESPEC."""
    gettime = declare(module, "clock_gettime", I32, [I32, PTR])
    b.call(gettime, [ir.Constant(I32, CLOCK_MONOTONIC), spec])
    seconds, nanos = (b.load(b.gep(spec, [c64(0), c64(k)], source_etype=TIMESPEC), typ=I64)
                      for k in (0, 1))
    return b.add(b.mul(seconds, c64(1_000_000_000)), nanos)


def sleep_once(b: ir.IRBuilder, module: ir.Module, done, target, sleepers) -> None:
    """Count this thread as a sleeper, sleep unless the count has reached target, uncount."""
    b.atomic_rmw("add", sleepers, c64(1), "seq_cst")
    seen = b.load_atomic(done, "seq_cst", 8, typ=I64)
    with b.if_then(b.icmp_signed("<", seen, target)):
        futex(b, module, done, FUTEX_WAIT_PRIVATE, b.zext(b.trunc(seen, I32), I64))
    b.atomic_rmw("sub", sleepers, c64(1), "seq_cst")


def adapt_spin(b: ir.IRBuilder, spin, halvings, slept, waited) -> None:
    """One more halving after a wait that slept, one fewer after one that ended while
    spinning; none after a wait for a call already done (most of them)."""
    more = b.select(b.icmp_unsigned("<", halvings, c64(MAX_HALVINGS)), b.add(halvings, c64(1)),
                    halvings)
    fewer = b.select(b.icmp_unsigned(">", halvings, c64(0)), b.sub(halvings, c64(1)), halvings)
    new = b.select(slept, more, b.select(waited, fewer, halvings))
    with b.if_then(b.icmp_unsigned("!=", new, halvings)):  # no store: no shared-line traffic
        b.atomic_rmw("xchg", spin, new, "monotonic")
