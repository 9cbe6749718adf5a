"""The LLVM module of a Program as one relocatable object for a chosen CPU (for graphc.export:
ahead-of-time libraries).

The module the JIT would load calls the GEMM library and the thread pool's barrier by name
(gemm_library.py, threads.py); here the GEMM variants it calls are linked into the module, every
function but the entry becomes internal, and the entry and the barrier get the library's prefix,
so two exported libraries linked into one program never share a symbol.
"""

from __future__ import annotations

import re

import llvmlite.binding as llvm
from llvmlite import ir

from graphc.backends.llvm import gemm, gemm_library, jit
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


def object_code(program, prefix: str, cpu: str) -> tuple:
    """(object bytes defining `{prefix}step` and calling `{prefix}barrier`, cpu described)."""
    machine, described = target_machine(cpu)
    text, _ = generate(program)
    module = parse(text, "step", machine)
    optimize(module, machine)
    for name in sorted(set(_DECLARED.findall(text))):
        if name in gemm_library.VARIANTS:
            module.link_in(parse(gemm_text(name), name, machine))
    rename_and_hide(module, prefix)
    module.verify()
    return machine.emit_object(module), described


def gemm_text(name: str) -> str:
    library = ir.Module(name=name)
    gemm.define_gemm(library, *gemm_library.VARIANTS[name])
    return str(library)


def parse(text: str, name: str, machine) -> llvm.ModuleRef:
    try:
        module = llvm.parse_assembly(text)
        module.verify()
    except RuntimeError as err:
        raise RuntimeError(f"export: LLVM rejected the IR of {name!r}: {err}") from None
    module.triple = machine.triple
    module.data_layout = str(machine.target_data)
    return module


def optimize(module: llvm.ModuleRef, machine) -> None:
    """O3 with the vectorizers, as jit.py compiles a function's module."""
    tuning = llvm.create_pipeline_tuning_options(speed_level=3)
    tuning.loop_vectorization = tuning.slp_vectorization = True
    tuning.loop_unrolling = tuning.loop_interleaving = True
    builder = llvm.create_pass_builder(machine, tuning)
    builder.getModulePassManager().run(module, builder)


def rename_and_hide(module: llvm.ModuleRef, prefix: str) -> None:
    """Entry and barrier get the prefix; every other definition becomes internal."""
    for fn in module.functions:
        if fn.name in (STEP, BARRIER):
            fn.name = prefix + fn.name.removeprefix("graphc_")
        elif not fn.is_declaration:
            fn.linkage = "internal"
