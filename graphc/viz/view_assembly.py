"""The LLVM IR and assembly the viewer shows per kernel, without compiling anything again.

The module's IR is emitted again from the Function's fused stage (the backend keeps only
compiled code). Its assembly is read back from the object code that compile already left in
the disk cache (keyed by that IR), disassembled by `objdump`: a 2-block Transformer step's
module took ~35 s to compile again, its cached object ~0.5 s to disassemble. Only when that
object or `objdump` is missing is the module compiled again, and only when asked to
(`assembly=True`) or when the module is small; otherwise the page says why there is none.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from graphc.backends import get_backend
from graphc.viz.view_details import assembly_functions

SMALL_MODULE = 200_000  # characters of IR below which compiling the assembly again is quick
HEADER = re.compile(r"^[0-9a-f]+ <([^>]+)>:$")


@dataclass
class ModuleCode:
    """The module's IR, its assembly ({function: text}) and where the assembly came from."""

    ir: str | None = None
    assembly: dict | None = None
    source: str = ""


def objdump_program() -> str | None:
    """Path of an objdump (binutils' or LLVM's), or None."""
    return shutil.which("objdump") or shutil.which("llvm-objdump")


def disassemble(objects: list, objdump: str) -> dict:
    """{function: its disassembly} of object files' bytes (one module's, or its parts')."""
    with tempfile.TemporaryDirectory(prefix="graphc-view-") as folder:
        paths = []
        for k, code in enumerate(objects):
            paths.append(Path(folder) / f"part{k}.o")
            paths[-1].write_bytes(code)
        done = subprocess.run([objdump, "-d", "--no-show-raw-insn", *map(str, paths)],
                              capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{objdump} could not disassemble the cached module: "
                           f"{done.stderr.strip()}")
    return split_functions(done.stdout)


def split_functions(listing: str) -> dict:
    """{function: its lines} of an objdump listing ('<name>:' opens each function)."""
    found, name = {}, None
    for line in listing.splitlines():
        header = HEADER.match(line)
        if header:
            name = header.group(1)
            found[name] = [name + ":"]  # the label as LLVM's assembly printer writes it
        elif name is not None and line.strip():
            found[name].append(line)
    return {name: "\n".join(lines) for name, lines in found.items()}


def emitted_ir(fn, llvm) -> str:
    """The LLVM module text the llvm backend emits for `fn`'s fused stage."""
    schedule = llvm.schedule_kernels(fn.graph("fused"))
    return llvm.generate(llvm.plan_memory(schedule, fn.graph("expanded")))[0]


def cached_object(llvm, ir: str) -> bytes | None:
    """The object code compile left in the disk cache for `ir`, or None."""
    cpu, features = llvm.jit.host_cpu()
    return llvm.cache.load(llvm.cache.cache_key(ir, cpu, features))


def module_code(fn, assembly: bool | None = None) -> ModuleCode:
    """The IR and assembly of `fn`'s compiled module (llvm backend; nothing for another).
    `assembly`: None disassembles the cached object, or compiles again a small module;
    True compiles again when nothing is cached; False leaves the assembly out."""
    if getattr(fn, "backend", None) != "llvm":
        return ModuleCode()
    llvm = get_backend("llvm")
    ir = emitted_ir(fn, llvm)
    if assembly is False:
        return ModuleCode(ir, None, "assembly left out (gc.view(..., assembly=False))")
    payload, objdump = cached_object(llvm, ir), objdump_program()
    if payload is not None and objdump is not None:
        return ModuleCode(ir, disassemble(llvm.parallel_compile.unpack(payload), objdump),
                          f"disassembled by {Path(objdump).name} from the compiled object")
    if assembly or len(ir) < SMALL_MODULE:
        text = llvm.jit.assembly_of(ir, f"{fn.name or 'function'} (for gc.view)")
        return ModuleCode(ir, assembly_functions(text),
                          "compiled again for the page (LLVM's assembly printer)")
    why = "objdump is not installed" if objdump is None else "its object is not in the cache"
    return ModuleCode(ir, None, f"assembly left out: {why} and compiling the module again "
                                f"takes long; pass assembly=True to gc.view to compile it")
