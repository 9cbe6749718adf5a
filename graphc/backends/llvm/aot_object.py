"""The LLVM module of a Program as one relocatable object for a chosen CPU (for graphc.export:
ahead-of-time libraries).

The module the JIT would load calls the GEMM library and the thread pool's barrier by name
(gemm_library.py, threads.py); here the GEMM variants it calls are linked into the module, every
function but the entry becomes internal, and the entry and the barrier get the library's names,
so two exported libraries (or two functions of one) linked into one program share no symbol.
"""

from __future__ import annotations

import re

import llvmlite.binding as llvm
from llvmlite import ir

from graphc.backends.llvm import gemm, gemm_library, jit, mcjit
from graphc.backends.llvm.emit import STEP, generate

BARRIER = "graphc_barrier"
CPUS = ("native", "x86-64-v3", "x86-64-v4")
_DECLARED = re.compile(r'^declare [^\n]*@"?([\w.]+)"?\(', re.M)


def target_machine(cpu: str) -> tuple:
    """(llvmlite TargetMachine for position-independent code, description of the choice)."""
    if cpu not in CPUS:
        raise ValueError(f"export: cpu must be one of {', '.join(CPUS)}; received {cpu!r}")
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    target = llvm.Target.from_default_triple()
    if cpu == "native":
        name, features = jit.host_cpu()
        described = f"native (this machine: {name})"
    else:
        name, features = cpu, ""
        described = f"{cpu} (runs on any x86-64 CPU with the {cpu} feature level)"
    machine = target.create_target_machine(cpu=name, features=features, opt=3, reloc="pic",
                                           codemodel="default")
    return machine, described


def object_code(program, step: str, barrier: str, cpu: str) -> tuple:
    """(object bytes defining the entry `step` and calling `barrier`, cpu described)."""
    machine, described = target_machine(cpu)
    text, _ = generate(program)
    with mcjit._LOCK:  # as every compile: no other thread's LLVM work (or -disable-lsr) meanwhile
        module = parse(text, machine)
        mcjit._optimize(module, machine)  # O3 with the vectorizers, as the JIT compiles
        for name in sorted(set(_DECLARED.findall(text))):
            if name in gemm_library.VARIANTS:
                module.link_in(parse(gemm_text(name), machine))
        rename_and_hide(module, {STEP: step, BARRIER: barrier})
        module.verify()
        return machine.emit_object(module), described


def gemm_text(name: str) -> str:
    library = ir.Module(name=name)
    gemm.define_gemm(library, *gemm_library.VARIANTS[name])
    return str(library)


def parse(text: str, machine) -> llvm.ModuleRef:
    """The module of IR graphc emitted, for `machine` (it verifies as the JIT's does)."""
    module = llvm.parse_assembly(text)
    module.verify()
    module.triple, module.data_layout = machine.triple, str(machine.target_data)
    return module


def rename_and_hide(module: llvm.ModuleRef, names: dict) -> None:
    """Entry and barrier get the library's names; every other definition becomes internal."""
    for fn in module.functions:
        if fn.name in names:
            fn.name = names[fn.name]
        elif not fn.is_declaration:
            fn.linkage = "internal"
