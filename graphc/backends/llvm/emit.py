"""The emit stage: a Program becomes one LLVM module (as text): its kernels, each distinct kernel
emitted once (kernels whose code is identical, e.g. Adam over parameters of different sizes,
share one function), and the entry

    void graphc_step(ptr args, i32 tid, i32 nthreads)

that every thread of the pool runs (threads.parallel_run): it calls the kernels in order, each
after waiting only for the earlier calls it must follow (dep_waits.py: no barrier between
phases), with a barrier after the last, then copies the values that could not be written in
place.
args[0] is the array of run-time sizes, args[1] the i64 status words (Program.status_words:
kernel call k writes word k + 1 when an index is out of range, and word 0 then gets k + 1; a
loop kernel claims its blocks with its word, zero again when it ends: claims.py; then the
words of the waits, wait_ir.py), args[2 + k] buffer k.
A profiling build (profile=True) also reads cycle counters around each call into the table at
args[2 + number of buffers] (profiling.StepClock); a normal build emits exactly what it did
before profiling existed.
"""

from __future__ import annotations

import re

from llvmlite import ir

from graphc.backends.llvm import dep_waits, gemm_library
from graphc.backends.llvm.emitters import emitter_for
from graphc.backends.llvm.irutil import (
    I8,
    I32,
    I64,
    ITEMSIZE,
    PTR,
    VOID,
    c64,
    declare,
    declare_barrier,
    split_range,
)
from graphc.backends.llvm.loop_kernel import LoopEmitter
from graphc.backends.llvm.op_kernel import OpKernelBuilder, emit_poly
from graphc.backends.llvm.profiling import NoClock, StepClock
from graphc.backends.llvm.wait_ir import WaitWords
from passes.kernels import GemmKernel, RecurrentKernel

STEP = "graphc_step"


class ModuleText:
    """Functions emitted into throwaway llvmlite modules, merged as text: definitions once
    by name, identical kernels once by content, declarations only when nothing defines them.
    Each added module is a unit (a kernel, or the entry) that `parts` can compile apart."""

    def __init__(self):
        self.definitions: dict = {}
        self.declarations: dict = {}
        self.by_content: dict = {}
        self.units: list = []  # (kernel name or None, the names its module defines)

    def add_module(self, module: ir.Module, kernel: ir.Function | None = None) -> str | None:
        """Add every function of `module`; returns the final name of `kernel`."""
        final, names = None, []
        for gv in module.global_values:
            if isinstance(gv, ir.Function) and gv.is_declaration:
                self.declarations.setdefault(gv.name, str(gv))
                continue
            text = str(gv)
            if gv is kernel:
                key = text.replace(f'@"{gv.name}"', '@"KERNEL"')
                final = self.by_content.setdefault(key, gv.name)
                if final != gv.name:
                    return final  # the same code is a unit already
            self.definitions.setdefault(gv.name, text)
            names.append(gv.name)
        self.units.append((None if kernel is None else final, names))
        return final

    def text(self) -> str:
        return self._text(self.definitions, set())

    def parts(self, count: int) -> list:
        """The module as `count` (or fewer) modules to compile apart and load together: units
        spread by size; a kernel another part calls is defined with external linkage."""
        loads = [[0, []] for _ in range(max(1, count))]
        for unit in sorted(self.units, key=lambda u: -self._size(u[1])):
            lightest = min(loads, key=lambda load: load[0])
            lightest[0] += self._size(unit[1])
            lightest[1].append(unit)
        used = [units for _, units in loads if units]
        shared = {kernel for kernel, _ in self.units if kernel is not None} if len(used) > 1 \
            else set()
        return [self._part(units, shared) for units in used]

    def _size(self, names) -> int:
        return sum(len(self.definitions.get(name, "")) for name in names)

    def _part(self, units, kernels) -> str:
        names = {name for _, unit_names in units for name in unit_names}
        defined = {n: self.definitions[n] for n in self.definitions if n in names}
        return self._text(defined, kernels)

    def _text(self, defined: dict, exported: set) -> str:
        """`defined` with every other name this module uses declared; names in `exported`
        lose their internal linkage (another part calls them)."""
        decls = [t for name, t in self.declarations.items() if name not in self.definitions]
        decls += [DECLARE.sub("declare ", t.split("\n", 1)[0], count=1)
                  for name, t in self.definitions.items()
                  if name not in defined and name in exported]
        bodies = [INTERNAL.sub("define ", t, count=1) if name in exported else t
                  for name, t in defined.items()]
        return "\n".join(decls + bodies) + "\n"


DECLARE = re.compile(r"^define (internal |private )?")
INTERNAL = re.compile(r"^define (internal|private) ")


def generate(program, profile: bool = False) -> tuple[str, list]:
    """(module text, the function name each call runs); profile=True times each call."""
    out, names = generate_units(program, profile)
    return out.text(), names


def generate_units(program, profile: bool = False) -> tuple[ModuleText, list]:
    """generate's ModuleText (which can also split the module in parts) and names."""
    out = ModuleText()
    names = [out.add_module(*emit_call(call, program.syms)) for call in program.calls]
    out.add_module(emit_step(program, names, profile))
    gemm_library.load_pending()  # the GEMM variants the kernels call, compiled at once
    return out, names


def emit_call(call, syms):
    module = ir.Module()
    name = call.name
    if call.plan is not None:
        return module, LoopEmitter(call.plan, module, name).emit()
    body = call.body
    if isinstance(body, GemmKernel):
        workspace = [None] * (len(call.pointers) - 1 - len(call.inputs))  # matmul only
        kb = OpKernelBuilder(body.outputs[0], call.inputs + workspace, module, name, syms)
        return module, emitter_for(body.gemm, "dense").fn(kb, body)
    kb = OpKernelBuilder(body.node, call.inputs, module, name, syms)
    if isinstance(body, RecurrentKernel):
        return module, emitter_for(body.node, "recurrent").fn(kb, body)
    return module, emitter_for(body.node, "kernel").fn(kb, body.node)


def emit_step(program, names, profile: bool = False) -> ir.Module:
    module = ir.Module()
    fn = ir.Function(module, ir.FunctionType(VOID, [PTR, I32, I32]), name=STEP)
    args, tid, nthreads = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    slots, status = (b.load(b.gep(args, [c64(k)], source_etype=PTR), typ=PTR) for k in (0, 1))
    step = StepBuilder(b, module, args, slots, status, tid, nthreads)
    clock = StepClock(b, module, args, tid, program) if profile else NoClock()
    waits = dep_waits.waits_before(program.calls)
    counted = dep_waits.waited_for(waits)  # sorted, for the reset
    counting = set(counted)
    words = WaitWords(b, status, len(program.calls))
    for k, (call, name) in enumerate(zip(program.calls, names)):
        for j in waits[k]:  # only the calls this one must follow; no barrier
            words.emit_wait(module, j, nthreads)
        clock.start(k)
        step.call_kernel(call, name, k)
        clock.stop(k)
        if k in counting:
            words.emit_count(module, k)
    if program.calls:
        b.call(declare_barrier(module), [tid, nthreads])
        with b.if_then(b.icmp_signed("==", tid, ir.Constant(I32, 0))):
            report_failed_call(b, status, program.checked)
            words.emit_reset(counted)
    clock.start(len(program.calls))  # the copies
    for dst, src in program.copies:
        copy_split(b, module, step.pointer(dst), step.pointer(src), dst, slots, step.sizes, tid,
                   nthreads)
    clock.start(None)
    b.ret_void()
    return module


class StepBuilder:
    """Emits the entry's kernel calls: each call's buffer pointers and extra arguments."""

    def __init__(self, b, module, args, slots, status, tid, nthreads):
        self.b, self.module, self.args = b, module, args
        self.slots, self.status, self.tid, self.nthreads = slots, status, tid, nthreads
        self.sizes: dict = {}

    def pointer(self, buf):
        return self.b.load(self.b.gep(self.args, [c64(2 + buf.slot)], source_etype=PTR), typ=PTR)

    def call_kernel(self, call, name: str, k: int) -> None:
        b = self.b
        ptrs = [self.pointer(buf) for buf in call.pointers]
        own_status = b.gep(self.status, [c64(k + 1)], source_etype=I64)  # names the call
        if call.plan is not None:  # the word is the loop kernel's block counter (claims.py)
            extra = [emit_poly(b, p, self.slots, self.sizes) for p in call.plan.param_polys()]
            extra, arg_types = extra + [own_status], [PTR] * len(ptrs) + [I64] * len(extra) + [PTR]
        else:
            extra, arg_types = [self.slots, own_status], [PTR] * (len(ptrs) + 2)
        kernel = declare(self.module, name, VOID, arg_types + [I32, I32])
        b.call(kernel, ptrs + extra + [self.tid, self.nthreads])


def report_failed_call(b, status, checked) -> None:
    """Thread 0, after the last barrier, writes 1 + the position of a call whose kernel found
    an index out of range into status word 0, the one word the executable reads."""
    for k, node in enumerate(checked):
        if node is not None:
            word = b.load(b.gep(status, [c64(k + 1)], source_etype=I64), typ=I64)
            with b.if_then(b.icmp_signed("!=", word, c64(0))):
                b.store(c64(k + 1), status)


def copy_split(b, module, dst, src, buf, slots, sizes, tid, nthreads):
    """Each thread copies its share of the bytes."""
    nbytes = b.mul(emit_poly(b, buf.elems, slots, sizes), c64(ITEMSIZE[buf.dtype]))
    lo, hi = split_range(b, nbytes, tid, nthreads)
    memcpy = declare(module, "llvm.memcpy.p0.p0.i64", VOID, [PTR, PTR, I64, ir.IntType(1)])
    at = lambda p: b.gep(p, [lo], source_etype=I8)  # noqa: E731
    b.call(memcpy, [at(dst), at(src), b.sub(hi, lo), ir.Constant(ir.IntType(1), 0)])
