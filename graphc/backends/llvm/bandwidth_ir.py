"""The memory-bandwidth loops bandwidth.py times: SPMD step functions of the thread pool.

    void graphc_bw_<kind>(i8** args, i32 tid, i32 nthreads)

args[0] -> i64[2] {vectors per array per thread (a multiple of UNROLL), passes}; args[1..3] ->
float arrays a, b, c of nthreads x that many vectors (thread tid works on its own slice);
args[4] -> float[nthreads], where `read` leaves its sum so the loads are not dead. Kinds:
read (sum a), write (a = s), triad (a = b + s * c: two streams in, one out, like an update).
The stored value depends on the pass so no pass is redundant for the optimizer.
"""

from __future__ import annotations

UNROLL = 8  # vectors per iteration: 8 independent adds hide the fadd latency at L1 rates
ARRAYS = {"read": 1, "write": 1, "triad": 3}  # arrays a kind touches (a; a; a, b, c)
KINDS = tuple(ARRAYS)


def splat(value: str, lanes: int) -> str:
    return "<" + ", ".join([f"float {value}"] * lanes) + ">"


def prologue(kind: str, lanes: int) -> list:
    """Loads the sizes, this thread's slices of a, b, c and the pass's scalar as a vector."""
    vec = f"<{lanes} x float>"
    lines = [f"define void @graphc_bw_{kind}(ptr %args, i32 %tid, i32 %nthreads) {{", "entry:",
             "  %pp = load ptr, ptr %args", "  %n = load i64, ptr %pp",
             "  %rp = getelementptr i64, ptr %pp, i64 1", "  %passes = load i64, ptr %rp",
             "  %t = sext i32 %tid to i64", "  %off = mul i64 %t, %n"]
    for slot, name in enumerate("abc", start=1):
        lines += [f"  %{name}s = getelementptr ptr, ptr %args, i64 {slot}",
                  f"  %{name}0 = load ptr, ptr %{name}s",
                  f"  %{name} = getelementptr {vec}, ptr %{name}0, i64 %off"]
    return lines + ["  br label %outer", "outer:",
                    "  %r = phi i64 [ 0, %entry ], [ %r1, %outer_end ]",
                    "  %rf = sitofp i64 %r to float",
                    f"  %s1 = insertelement {vec} poison, float %rf, i32 0",
                    f"  %s = shufflevector {vec} %s1, {vec} poison, "
                    f"<{lanes} x i32> zeroinitializer"]


def body(kind: str, lanes: int, j: int) -> list:
    """The j-th vector of one unrolled iteration."""
    vec = f"<{lanes} x float>"
    addr = [f"  %q{j} = add i64 %i, {j}"] + [
        f"  %{name}p{j} = getelementptr {vec}, ptr %{name}, i64 %q{j}" for name in "abc"]
    if kind == "read":
        return addr + [f"  %x{j} = load {vec}, ptr %ap{j}, align 64",
                       f"  %y{j} = fadd {vec} %acc{j}, %x{j}"]
    if kind == "write":
        return addr + [f"  store {vec} %s, ptr %ap{j}, align 64"]
    return addr + [f"  %u{j} = load {vec}, ptr %bp{j}, align 64",
                   f"  %v{j} = load {vec}, ptr %cp{j}, align 64",
                   f"  %m{j} = fmul {vec} %s, %v{j}", f"  %z{j} = fadd {vec} %u{j}, %m{j}",
                   f"  store {vec} %z{j}, ptr %ap{j}, align 64"]


def loop_ir(kind: str, lanes: int) -> str:
    vec, zero = f"<{lanes} x float>", splat("0.0", lanes)
    reads = kind == "read"
    outer_acc = [f"  %o{j} = phi {vec} [ {zero}, %entry ], [ %y{j}, %outer_end ]"
                 for j in range(UNROLL)] if reads else []
    inner_acc = [f"  %acc{j} = phi {vec} [ %o{j}, %outer ], [ %y{j}, %inner ]"
                 for j in range(UNROLL)] if reads else []
    sums = [f"  %t{j} = fadd {vec} %t{j - 1}, %y{j}" for j in range(1, UNROLL)]
    finish = [f"  %t0 = fadd {vec} %y0, {zero}", *sums,
              f"  %sum = extractelement {vec} %t{UNROLL - 1}, i32 0",
              "  %sink_slot = getelementptr ptr, ptr %args, i64 4",
              "  %sink = load ptr, ptr %sink_slot",
              "  %mine = getelementptr float, ptr %sink, i64 %t",
              "  store float %sum, ptr %mine"] if reads else []
    lines = prologue(kind, lanes)
    lines[-4:-4] = outer_acc  # phis open the block
    lines += ["  br label %inner", "inner:", "  %i = phi i64 [ 0, %outer ], [ %inext, %inner ]",
              *inner_acc]
    for j in range(UNROLL):
        lines += body(kind, lanes, j)
    lines += [f"  %inext = add i64 %i, {UNROLL}", "  %more = icmp ult i64 %inext, %n",
              "  br i1 %more, label %inner, label %outer_end", "outer_end:",
              "  %r1 = add i64 %r, 1", "  %again = icmp ult i64 %r1, %passes",
              "  br i1 %again, label %outer, label %done", "done:", *finish, "  ret void", "}"]
    return "\n".join(lines)


def bandwidth_ir(lanes: int) -> str:
    """One module with the three loops."""
    return "\n\n".join(loop_ir(kind, lanes) for kind in KINDS) + "\n"
