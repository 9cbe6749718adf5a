"""Compile and link an exported library with the system C compiler: the model source (which
includes runtime.c) and the LLVM object become libNAME.so and libNAME.a; only the NAME_*
functions are exported from the .so (a version script), so its internals never clash."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

COMPILERS = ("cc", "gcc", "clang")
RUNTIME = Path(__file__).with_name("runtime.c")
API = ("create", "predict", "destroy", "last_error")  # + train_step when exported


class ToolMissing(RuntimeError):
    """No C compiler (or archiver) on this machine."""


def c_compiler() -> str:
    """$CC when set, else the first of cc, gcc, clang on PATH."""
    wanted = os.environ.get("CC", "").strip()
    for candidate in ([wanted] if wanted else []) + list(COMPILERS):
        found = shutil.which(candidate)
        if found:
            return found
    raise ToolMissing("export: no C compiler found (looked for $CC, cc, gcc and clang on "
                      "PATH); install one (e.g. `apt-get install gcc`, `dnf install gcc` or "
                      "`xcode-select --install`) or set CC to its path")


def run_tool(command: list, what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"export: {what} failed (exit {done.returncode}): "
                           f"{' '.join(command)}\n{done.stderr.strip()}")


def compile_and_link(work: Path, name: str, step_objects: list, api: tuple) -> tuple:
    """In `work` (holding NAME.h and NAME_model.c): build (libNAME.so, libNAME.a) paths from
    the steps' object code; the .so exports NAME_<f> for f in `api` only."""
    cc = c_compiler()
    shutil.copyfile(RUNTIME, work / "graphc_runtime.c")
    objects = [str(work / "model.o")]
    for k, code in enumerate(step_objects):
        objects.append(str(work / f"step{k}.o"))
        Path(objects[-1]).write_bytes(code)
    run_tool([cc, "-O2", "-fPIC", "-pthread", "-std=c11", "-D_GNU_SOURCE", "-I", str(work),
              "-c", str(work / f"{name}_model.c"), "-o", str(work / "model.o")],
             "compiling the model source")
    exported = "".join(f"{name}_{fn}; " for fn in api)
    (work / "exports.map").write_text(f"{{ global: {exported}local: *; }};\n")
    library = work / f"lib{name}.so"
    run_tool([cc, "-shared", "-o", str(library), *objects,
              f"-Wl,--version-script={work / 'exports.map'}", "-Wl,-z,noexecstack",
              "-pthread", "-lm"], "linking the shared library")
    archive = work / f"lib{name}.a"
    run_tool([archiver(), "rcs", str(archive), *objects],
             "archiving the static library")
    return library, archive


def archiver() -> str:
    found = shutil.which("ar")
    if found is None:
        raise ToolMissing("export: `ar` (binutils) is not on PATH; install binutils to build "
                          "the static library")
    return found
