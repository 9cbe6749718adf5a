"""The native runtime of the thread pool (threads.py), as LLVM IR text: futex waits, the
worker loop, graphc_parallel_run, graphc_barrier, and graphc_adaptive_run (a step on the pool
or on the calling thread alone, whichever has been faster for it). threads.py compiles it,
registers its symbols and starts the workers; its docstring describes how the pool works.
"""

RUNTIME_IR = r"""
; Futex words and their sleeper counts, each on its own cache line.
@pool_gen = internal global i32 0, align 64
@pool_parked = internal global i32 0, align 64
@pool_done = internal global i32 0, align 64
@join_sleepers = internal global i32 0, align 64
@pool_busy = internal global i32 0, align 64
@pool_quit = internal global i32 0, align 64
@barrier_count = internal global i32 0, align 64
@barrier_gen = internal global i32 0, align 64
@barrier_sleepers = internal global i32 0, align 64
@pool_step = internal global ptr null, align 64
@pool_args = internal global ptr null, align 8
@pool_nthreads = internal global i32 1, align 8
@pool_spin_cycles = internal global i64 0, align 8
; The spin limits in force (cycles), adapted between pool_spin_cycles / 16 and pool_spin_cycles:
; workers waiting for a run, and threads waiting at a barrier or for the join.
@spin_idle = internal global i64 0, align 64
@spin_sync = internal global i64 0, align 64
@pool_ready = internal global i32 0, align 64

declare i64 @syscall(i64, ...)
declare i64 @llvm.readcyclecounter()
declare void @llvm.x86.sse2.pause()

define internal void @futex_wait(ptr %addr, i32 %expected) {
  %e = zext i32 %expected to i64
  %r = call i64 (i64, ...) @syscall(i64 202, ptr %addr, i64 128, i64 %e, ptr null, ptr null, i64 0)
  ret void
}

; Wake everyone sleeping on %addr, if anyone is (a syscall costs a microsecond or more).
define internal void @wake_sleepers(ptr %addr, ptr %sleepers) {
entry:
  %n = load atomic i32, ptr %sleepers seq_cst, align 4
  %any = icmp ne i32 %n, 0
  br i1 %any, label %wake, label %done
wake:
  %r = call i64 (i64, ...) @syscall(i64 202, ptr %addr, i64 129, i64 2147483647,
                                    ptr null, ptr null, i64 0)
  br label %done
done:
  ret void
}

; Return once *%addr != %value: spin with `pause` for *%limit_slot cycles, then sleep in the
; kernel (counted in *%sleepers so that whoever changes *%addr knows to wake us). Sleeper count
; and futex word are both seq_cst: either the changer sees the count, or futex_wait sees the
; new value and returns at once. A wait that has to sleep halves the limit (down to 1/16 of
; pool_spin_cycles), one that ends while spinning doubles it: when the partner is descheduled
; (an oversubscribed machine) spinning only burns this process's share of the CPU.
define internal void @wait_while_eq(ptr %addr, i32 %value, ptr %sleepers, ptr %limit_slot) {
entry:
  %limit = load atomic i64, ptr %limit_slot monotonic, align 8
  br label %round
round:
  %slept = phi i1 [ false, %entry ], [ true, %awake ]
  %start = call i64 @llvm.readcyclecounter()
  br label %spin
spin:
  %now_value = load atomic i32, ptr %addr acquire, align 4
  %changed = icmp ne i32 %now_value, %value
  br i1 %changed, label %done, label %pause
pause:
  call void @llvm.x86.sse2.pause()
  %now = call i64 @llvm.readcyclecounter()
  %elapsed = sub i64 %now, %start
  %keep_spinning = icmp ult i64 %elapsed, %limit
  br i1 %keep_spinning, label %spin, label %sleep
sleep:
  %halved = lshr i64 %limit, 1
  call void @set_spin_limit(ptr %limit_slot, i64 %limit, i64 %halved)
  %s0 = atomicrmw add ptr %sleepers, i32 1 seq_cst
  %again = load atomic i32, ptr %addr seq_cst, align 4
  %still = icmp eq i32 %again, %value
  br i1 %still, label %futex, label %awake
futex:
  call void @futex_wait(ptr %addr, i32 %value)
  br label %awake
awake:
  %s1 = atomicrmw sub ptr %sleepers, i32 1 seq_cst
  br label %round
done:
  br i1 %slept, label %exit, label %grow
grow:
  %doubled = shl i64 %limit, 1
  call void @set_spin_limit(ptr %limit_slot, i64 %limit, i64 %doubled)
  br label %exit
exit:
  ret void
}

; *%slot = %wanted clamped to [pool_spin_cycles / 16, pool_spin_cycles], stored only when it
; differs from %old (the line stays shared while the limit holds).
define internal void @set_spin_limit(ptr %slot, i64 %old, i64 %wanted) {
entry:
  %most = load i64, ptr @pool_spin_cycles
  %least = lshr i64 %most, 4
  %above = call i64 @llvm.umax.i64(i64 %wanted, i64 %least)
  %new = call i64 @llvm.umin.i64(i64 %above, i64 %most)
  %same = icmp eq i64 %new, %old
  br i1 %same, label %exit, label %store
store:
  store atomic i64 %new, ptr %slot monotonic, align 8
  br label %exit
exit:
  ret void
}

; The spin limits in force, in cycles: %which 0 the workers' wait for a run, 1 the barrier and
; join waits (for tests and diagnostics).
define i64 @graphc_pool_spin_limit(i32 %which) {
  %idle = icmp eq i32 %which, 0
  %slot = select i1 %idle, ptr @spin_idle, ptr @spin_sync
  %limit = load atomic i64, ptr %slot monotonic, align 8
  ret i64 %limit
}

define void @graphc_pool_configure(i32 %n, i64 %spin_cycles) {
  store i32 %n, ptr @pool_nthreads
  store i64 %spin_cycles, ptr @pool_spin_cycles
  store atomic i64 %spin_cycles, ptr @spin_idle monotonic, align 8
  store atomic i64 %spin_cycles, ptr @spin_sync monotonic, align 8
  ret void
}

; Zero every counter and flag: a fork()ed child has none of the parent's worker threads, and
; the words may have been mid-run (busy, a half-full barrier) when the parent forked.
define void @graphc_pool_reset() {
  store atomic i32 0, ptr @pool_gen seq_cst, align 4
  store atomic i32 0, ptr @pool_parked seq_cst, align 4
  store atomic i32 0, ptr @pool_done seq_cst, align 4
  store atomic i32 0, ptr @join_sleepers seq_cst, align 4
  store atomic i32 0, ptr @pool_busy seq_cst, align 4
  store atomic i32 0, ptr @pool_quit seq_cst, align 4
  store atomic i32 0, ptr @barrier_count seq_cst, align 4
  store atomic i32 0, ptr @barrier_gen seq_cst, align 4
  store atomic i32 0, ptr @barrier_sleepers seq_cst, align 4
  store atomic i32 0, ptr @pool_ready seq_cst, align 4
  store i32 1, ptr @pool_nthreads
  ret void
}

define i32 @graphc_pool_ready() {
  %r = load atomic i32, ptr @pool_ready seq_cst, align 4
  ret i32 %r
}

define i64 @graphc_pool_cycles() {
  %c = call i64 @llvm.readcyclecounter()
  ret i64 %c
}

; %first_gen is the run counter before any run: a worker thread that the OS starts late must
; still take part in runs posted before it got here.
define void @graphc_pool_worker(i32 %tid, i32 %first_gen) {
entry:
  %r = atomicrmw add ptr @pool_ready, i32 1 seq_cst
  br label %wait
wait:
  %seen = phi i32 [ %first_gen, %entry ], [ %gen, %work ]
  call void @wait_while_eq(ptr @pool_gen, i32 %seen, ptr @pool_parked, ptr @spin_idle)
  %gen = load atomic i32, ptr @pool_gen acquire, align 4
  %quit = load atomic i32, ptr @pool_quit acquire, align 4
  %stop = icmp ne i32 %quit, 0
  br i1 %stop, label %exit, label %work
work:
  %step = load ptr, ptr @pool_step
  %args = load ptr, ptr @pool_args
  %n = load i32, ptr @pool_nthreads
  call void %step(ptr %args, i32 %tid, i32 %n)
  %d = atomicrmw add ptr @pool_done, i32 1 seq_cst
  call void @wake_sleepers(ptr @pool_done, ptr @join_sleepers)
  br label %wait
exit:
  ret void
}

define void @graphc_parallel_run(ptr %step, ptr %args) {
entry:
  %n = load i32, ptr @pool_nthreads
  %alone = icmp sle i32 %n, 1
  br i1 %alone, label %serial, label %lock
lock:
  %claim = cmpxchg ptr @pool_busy, i32 0, i32 1 acquire monotonic
  %claimed = extractvalue { i32, i1 } %claim, 1
  br i1 %claimed, label %fork, label %serial
serial:
  call void %step(ptr %args, i32 0, i32 1)
  ret void
fork:
  store ptr %step, ptr @pool_step
  store ptr %args, ptr @pool_args
  store atomic i32 0, ptr @pool_done monotonic, align 4
  %old = atomicrmw add ptr @pool_gen, i32 1 seq_cst
  call void @wake_sleepers(ptr @pool_gen, ptr @pool_parked)
  call void %step(ptr %args, i32 0, i32 %n)
  %workers = sub i32 %n, 1
  br label %join
join:
  %done = load atomic i32, ptr @pool_done acquire, align 4
  %all = icmp eq i32 %done, %workers
  br i1 %all, label %release, label %not_yet
not_yet:
  call void @wait_while_eq(ptr @pool_done, i32 %done, ptr @join_sleepers, ptr @spin_sync)
  br label %join
release:
  store atomic i32 0, ptr @pool_busy release, align 4
  ret void
}

; The longest interval between tries of the slower mode: 128 runs, or more when it is much
; slower, so that its tries cost at most about 1/64 of the time (a try of the pool when a
; tiny step runs serially can wait milliseconds for a worker on a loaded machine).
define internal i64 @probe_interval_limit(i64 %a, i64 %b) {
  %a_slower = icmp ugt i64 %a, %b
  %slow = select i1 %a_slower, i64 %a, i64 %b
  %fast = select i1 %a_slower, i64 %b, i64 %a
  %nonzero = icmp ugt i64 %fast, 0
  %divisor = select i1 %nonzero, i64 %fast, i64 1
  %ratio = udiv i64 %slow, %divisor
  %ratio_capped = call i64 @llvm.umin.i64(i64 %ratio, i64 16384)
  %amortized = shl i64 %ratio_capped, 6
  %limit = call i64 @llvm.umax.i64(i64 %amortized, i64 128)
  ret i64 %limit
}

declare i64 @llvm.umin.i64(i64, i64)
declare i64 @llvm.umax.i64(i64, i64)

; Adaptive run: serial (the caller alone, nthreads 1) or on the pool, whichever has been faster
; for this step. %stats is i64[4]: [0] serial and [1] pool cycles (a moving average: each run
; moves it a quarter of the way; the mean, not the best, as a pool run that needs two free
; cores is sometimes fast and often slow on a busy machine), [2] runs until the other mode is
; tried again, [3] that interval (4 after a switch, doubling while the choice holds, up to
; probe_interval_limit).
; A core taken by another process, or a step too small to pay for the fork and barriers,
; makes serial win; a quiet core makes the pool win back on the next probe.
define void @graphc_adaptive_run(ptr %step, ptr %args, ptr %stats) {
entry:
  %n = load i32, ptr @pool_nthreads
  %alone = icmp sle i32 %n, 1
  br i1 %alone, label %serial_only, label %choose
serial_only:
  call void %step(ptr %args, i32 0, i32 1)
  ret void
choose:
  %pool_slot = getelementptr i64, ptr %stats, i64 1
  %count_slot = getelementptr i64, ptr %stats, i64 2
  %interval_slot = getelementptr i64, ptr %stats, i64 3
  %s = load i64, ptr %stats
  %p = load i64, ptr %pool_slot
  %prefer_pool = icmp ule i64 %p, %s
  %count = load i64, ptr %count_slot
  %probe = icmp sle i64 %count, 0
  %left = sub i64 %count, 1
  store i64 %left, ptr %count_slot
  %use_pool = xor i1 %prefer_pool, %probe
  %t0 = call i64 @llvm.readcyclecounter()
  br i1 %use_pool, label %pool, label %serial
pool:
  call void @graphc_parallel_run(ptr %step, ptr %args)
  br label %timed
serial:
  call void %step(ptr %args, i32 0, i32 1)
  br label %timed
timed:
  %t1 = call i64 @llvm.readcyclecounter()
  %t = sub i64 %t1, %t0
  %slot = select i1 %use_pool, ptr %pool_slot, ptr %stats
  %old = load i64, ptr %slot
  %unknown = icmp eq i64 %old, 0
  %three = mul i64 %old, 3
  %sum = add i64 %three, %t
  %mean = lshr i64 %sum, 2
  %new = select i1 %unknown, i64 %t, i64 %mean
  store i64 %new, ptr %slot
  br i1 %probe, label %reschedule, label %done
reschedule:
  %s2 = load i64, ptr %stats
  %p2 = load i64, ptr %pool_slot
  %now_pool = icmp ule i64 %p2, %s2
  %switched = icmp ne i1 %now_pool, %prefer_pool
  %interval = load i64, ptr %interval_slot
  %doubled = shl i64 %interval, 1
  %low = icmp ult i64 %doubled, 4
  %at_least = select i1 %low, i64 4, i64 %doubled
  %limit = call i64 @probe_interval_limit(i64 %s2, i64 %p2)
  %high = icmp ugt i64 %at_least, %limit
  %held = select i1 %high, i64 %limit, i64 %at_least
  %next = select i1 %switched, i64 4, i64 %held
  store i64 %next, ptr %interval_slot
  store i64 %next, ptr %count_slot
  br label %done
done:
  ret void
}

define void @graphc_barrier(i32 %tid, i32 %n) {
entry:
  %alone = icmp sle i32 %n, 1
  br i1 %alone, label %exit, label %arrive
arrive:
  %gen = load atomic i32, ptr @barrier_gen acquire, align 4
  %before = atomicrmw add ptr @barrier_count, i32 1 acq_rel
  %last = sub i32 %n, 1
  %is_last = icmp eq i32 %before, %last
  br i1 %is_last, label %open, label %wait
open:
  store atomic i32 0, ptr @barrier_count monotonic, align 4
  %g1 = atomicrmw add ptr @barrier_gen, i32 1 seq_cst
  call void @wake_sleepers(ptr @barrier_gen, ptr @barrier_sleepers)
  br label %exit
wait:
  call void @wait_while_eq(ptr @barrier_gen, i32 %gen, ptr @barrier_sleepers, ptr @spin_sync)
  br label %exit
exit:
  ret void
}

define void @graphc_pool_shutdown() {
  store atomic i32 1, ptr @pool_quit seq_cst, align 4
  %old = atomicrmw add ptr @pool_gen, i32 1 seq_cst
  call void @wake_sleepers(ptr @pool_gen, ptr @pool_parked)
  ret void
}
"""
