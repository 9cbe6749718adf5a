"""Ahead-of-time export: a compiled graphc function as a standalone C library.

    gc.export(function, "out/")            # out/libNAME.so, libNAME.a, NAME.h, README.md

The function's Program (the LLVM backend's stages) is emitted as one object for the chosen
CPU (codegen.py), its tables and weights become C (lowering.py, csource.py), and the system C
compiler links both with a small pthreads runtime (runtime.c, build.py). Each file lands in
the output folder atomically.
"""

from __future__ import annotations

import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from graphc.backends.llvm.aot_object import CPUS, object_code
from graphc.export.build import API, ToolMissing, compile_and_link
from graphc.export.csource import WHAT, header, library_name, model_source
from graphc.export.lowering import UnsupportedForExport, lower
from graphc.export.readme import readme
from graphc.files import atomic_write
from graphc.ir import user_site

__all__ = ["CPUS", "ExportResult", "ToolMissing", "UnsupportedForExport", "export"]
DEFAULT_CHUNK = 256
MIXED_ROWS = ("max_batch", "refuse")


@dataclass
class ExportResult:
    """What export wrote: the files by role, and the CPU the code was compiled for."""

    name: str
    files: dict
    cpu: str

    def __repr__(self):
        files = ", ".join(map(str, self.files.values()))
        return f"<exported {self.name} for cpu {self.cpu}: {files}>"


def export(function, path, name: str | None = None, cpu: str = "native",
           weights_file: bool = False, batch_chunk: int = DEFAULT_CHUNK,
           train_function=None, mixed_rows: str = "max_batch") -> ExportResult:
    """Write `function` (a graphc Function of float32 arrays, batch first) as a C library.

    Args:
      path: the output folder (created if missing).
      name: the C prefix of the API (NAME_create, ...); default the function's name.
      cpu: "native" (this machine, the default), "x86-64-v3" or "x86-64-v4".
      weights_file: write the weights to NAME.weights, read by NAME_create, instead of
        embedding them.
      batch_chunk: rows per internal step (predict takes any number of rows); the largest
        batch of NAME_train_step.
      train_function: a training step over the same shared variables (e.g. a model's
        train_function), exported as NAME_train_step; it updates the context's weights.
    Raises UnsupportedForExport naming what cannot be exported, ToolMissing when no C
    compiler is found.
    """
    if not isinstance(batch_chunk, int) or batch_chunk < 1:
        raise ValueError(f"export: batch_chunk must be a positive int; received {batch_chunk!r} "
                         f"(at {user_site()})")
    if mixed_rows not in MIXED_ROWS:
        raise ValueError(f"export: mixed_rows must be one of {', '.join(MIXED_ROWS)}; received "
                         f"{mixed_rows!r} (at {user_site()})")
    name = library_name(name or function.name or "model")
    lowered = lower(function, batch_chunk, train_function, mixed_rows)
    if lowered.predict.mixes is not None:
        warnings.warn(f"export: {name} mixes the rows of its batch ({lowered.predict.mixes}); "
                      f"{name}_predict takes at most {batch_chunk} rows (batch_chunk)",
                      stacklevel=2)
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="graphc-export-") as temp:
        roles, described = build_library(Path(temp), name, lowered, cpu, weights_file)
        files = {role: publish(source, folder) for role, source in roles.items()}
    return ExportResult(name, files, described)


def build_library(work: Path, name: str, lowered, cpu: str, weights_file: bool) -> tuple:
    """({role: file in `work`}, cpu described): objects, C sources, README, libraries."""
    objects = []
    for program in lowered.programs:
        what = WHAT[program.training]
        code, described = object_code(program.program, f"{name}_graphc_{what}_step",
                                      f"{name}_graphc_barrier", cpu)
        objects.append(code)
    blob = work / f"{name}.weights"
    blob.write_bytes(lowered.weights)
    (work / f"{name}.h").write_text(header(name, lowered, weights_file, described))
    (work / f"{name}_model.c").write_text(model_source(
        name, lowered, None if weights_file else str(blob), weights_hash(lowered.weights)))
    (work / "README.md").write_text(readme(name, lowered, described, weights_file))
    api = API + (("train_step",) if lowered.train is not None else ())
    shared, static = compile_and_link(work, name, objects, api)
    roles = {"shared": shared, "static": static, "header": work / f"{name}.h",
             "readme": work / "README.md"}
    if weights_file:
        roles["weights"] = blob
    return roles, described


def publish(source: Path, folder: Path) -> Path:
    target = folder / source.name
    data = source.read_bytes()
    atomic_write(target, lambda f: f.write(data))
    return target


def weights_hash(data: bytes) -> int:
    """The checksum runtime.c checks a weights file against: the sum over its 64-bit words
    w[k] of w[k] * (2k + 1), modulo 2**64 (the blob is padded to 64 bytes)."""
    words = np.frombuffer(data, dtype="<u8")
    odd = np.arange(1, 2 * len(words), 2, dtype=np.uint64)
    return int(np.sum(words * odd, dtype=np.uint64))
