"""Dependency-only waits between the kernel calls of a step, instead of a barrier per phase.

Every thread runs the calls in the same order. Before call k a thread waits only for the
earlier calls k must follow: the last writer of a buffer k touches, and the readers since then
of one k writes; a wait implied by another one (the call waited for waited itself) is left out.
Arena bytes shared by buffers of disjoint lifetimes (passes.memory) need no wait of their own:
keep_arena_ordered lengthens lifetimes until only a call that follows every user of a buffer
may reuse its bytes.
A thread that is done with its share of a call counts it in the call's done word, and a
thread waiting for the call waits until all `nthreads` have (wait_ir.py), so a thread whose
next call depends on nothing still running goes straight on, e.g. into the next Adam update
while the other thread finishes its half of a GEMM.
"""

from __future__ import annotations

ARENA_KINDS = ("temp", "scratch", "workspace")


def accesses(call) -> list:
    """(buffer, written?) for each buffer the call touches."""
    writes = call.writes()
    unique = {id(b): b for b in call.pointers}.values()
    return [(b, id(b) in writes) for b in unique]


def hazards(calls) -> list:
    """For each call position, the earlier positions it must follow on a buffer they share:
    the buffer's last writer, and the readers since then when this call writes it."""
    last_writer, readers, out = {}, {}, []
    for k, call in enumerate(calls):
        mine, touched = set(), accesses(call)
        for buf, written in touched:
            if id(buf) in last_writer:
                mine.add(last_writer[id(buf)])
            if written:
                mine |= readers.get(id(buf), set())
        for buf, written in touched:
            if written:
                last_writer[id(buf)], readers[id(buf)] = k, set()
            else:
                readers.setdefault(id(buf), set()).add(k)
        out.append(mine)
    return out


def ancestors(hazard: list) -> list:
    """For each call position, the bit set of every call it follows, directly or not."""
    out = []
    for mine in hazard:
        bits = 0
        for j in mine:
            bits |= (1 << j) | out[j]
        out.append(bits)
    return out


def waits_before(calls) -> list:
    """For each call position, the earlier positions it waits for (latest first), without
    the waits implied by others. Arena bytes two buffers share are ordered too, once
    keep_arena_ordered has set the lifetimes."""
    hazard = hazards(calls)
    above = ancestors(hazard)
    waits = []
    for mine in hazard:
        kept, covered = [], 0
        for j in sorted(mine, reverse=True):
            if not covered >> j & 1:
                kept.append(j)
                covered |= (1 << j) | above[j]
        waits.append(kept)
    return waits


def keep_arena_ordered(calls) -> None:
    """Lengthen arena buffers' lifetimes (phases) so that the arena plan lets a buffer take
    bytes of another only when the calls writing it follow every call that touched the other:
    then the hazards' waits order the reuse, and no wait is needed for it."""
    above = ancestors(hazards(calls))
    users: dict = {}
    for k, call in enumerate(calls):
        for buf in call.pointers:
            if buf.kind in ARENA_KINDS:
                users[id(buf)] = (buf, users.get(id(buf), (buf, 0))[1] | 1 << k)
    for k, call in enumerate(calls):
        writes = call.writes()
        if not any(buf.kind in ARENA_KINDS for buf in call.pointers if id(buf) in writes):
            continue
        for buf, touched in users.values():
            if call.phase > buf.last and above[k] & touched != touched:
                buf.last = call.phase


def waited_for(waits: list) -> list:
    """The positions some call waits for: only their done words are counted."""
    return sorted({j for mine in waits for j in mine})
