"""A compiled function as the tables an ahead-of-time library needs: its Program (the LLVM
backend's stages, run again), the run-time size symbols for every batch of 1..chunk rows, the
arena offsets planned for a full chunk, and the weights laid out in one 64-byte-aligned blob.

The library runs a call of n rows as chunks of at most `chunk` rows, as Keras's predict runs
batches: every size is then known when the library is built, and the arena planned for a full
chunk holds every smaller one (checked here for each chunk size).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from graphc.backends.llvm.buffers import plan_memory
from graphc.backends.llvm.irutil import ITEMSIZE
from graphc.backends.llvm.schedule import schedule_kernels
from passes.expand import expand_composites
from passes.fuse import fuse_kernels
from passes.memory import align_up, plan_offsets
from passes.symbols import SizeOneBroadcast, concrete_shapes

ARENA_KINDS = ("temp", "scratch", "workspace")
WEIGHT_KINDS = ("shared", "constant")
SUPPORTED_DTYPES = ("float32",)
ALIGNMENT = 64


class UnsupportedForExport(ValueError):
    """The function (or model) uses something an exported library cannot do."""


@dataclass
class Shaped:
    shape: tuple


@dataclass
class Lowered:
    """Everything the C tables hold, plus the Program the LLVM module is emitted from."""

    program: object
    chunk: int
    slot_table: list  # per chunk size m = 1..chunk: the symbol values
    places: list  # per buffer: (kind code, index or byte offset)
    arena_bytes: int
    weights: bytes
    inputs: list  # (name, shape without the batch) per input
    outputs: list  # (name, shape without the batch) per output


def lower(function, chunk: int) -> Lowered:
    """The tables of `function` (a graphc Function on the llvm backend's graphs)."""
    check_function(function)
    expanded = expand_composites(function.graph("optimized"))
    program = plan_memory(schedule_kernels(fuse_kernels(expanded)), expanded)
    inputs = [(p.name or f"input{k}", tuple(p.shape[1:]))
              for k, p in enumerate(program.graph.inputs)]
    outputs = [(o.name or f"output{k}", tuple(o.shape[1:]))
               for k, o in enumerate(program.graph.outputs)]
    slot_table = [symbol_values(program, m, function) for m in range(1, chunk + 1)]
    weights, weight_offsets = weight_blob(program.buffers)
    arena_offsets, arena_bytes = plan_arena(program, slot_table, function)
    places = [place_of(buf, weight_offsets, arena_offsets) for buf in program.buffers]
    return Lowered(program, chunk, slot_table, places, arena_bytes, weights, inputs, outputs)


def check_function(function) -> None:
    """Inference functions of float32 arrays with the batch first, and no updates."""
    label = f"function {function.name!r}" if function.name else "the function"
    graph = function.graph("optimized")
    if graph.updates:
        names = ", ".join(v.name or "?" for v, _ in graph.updates)
        raise UnsupportedForExport(f"export: {label} updates variables ({names}); a stateful "
                                   f"model (e.g. stateful=True RNN) cannot be exported")
    for kind, nodes in (("input", graph.inputs), ("output", graph.outputs)):
        for k, node in enumerate(nodes):
            what = f"{kind} {k} ({node.name or 'unnamed'})"
            if node.dtype not in SUPPORTED_DTYPES:
                raise UnsupportedForExport(f"export: {label}: {what} has dtype {node.dtype}; "
                                           f"exported libraries take float32 only")
            if not node.shape or node.shape[0] is not None or None in node.shape[1:]:
                raise UnsupportedForExport(
                    f"export: {label}: {what} has shape {node.shape}; exported libraries need "
                    f"the batch (None) first and every other size fixed")


def symbol_values(program, rows: int, function) -> list:
    """The run-time size symbols of a call of `rows` rows."""
    arrays = [Shaped((rows,) + tuple(p.shape[1:])) for p in program.graph.inputs]
    try:
        shapes = concrete_shapes(program.graph.nodes(), program.graph.inputs, arrays)
    except SizeOneBroadcast as err:
        raise UnsupportedForExport(f"export: {function.name or 'the function'} broadcasts its "
                                   f"batch when it is {rows} ({err}); such a model cannot be "
                                   f"exported") from None
    syms = program.syms
    values = syms.values(shapes) if syms else []
    if syms:
        syms.check(values)
    return [int(v) for v in values]


def buffer_bytes(buf, values) -> int:
    """Bytes of an arena buffer; GEMM workspaces must not depend on the thread count, which
    the library only learns when it is created."""
    one, many = buf.count(values, 1), buf.count(values, 256)
    if one != many:
        raise UnsupportedForExport(f"export: a {buf.kind} buffer's size depends on the number "
                                   f"of threads ({one} vs {many} elements)")
    return one * ITEMSIZE[buf.dtype]


def plan_arena(program, slot_table, function) -> tuple:
    """(byte offset per arena buffer id, arena bytes): planned for a full chunk, and checked
    to hold every smaller chunk (each buffer no larger than at the full chunk)."""
    temps = [b for b in program.buffers if b.kind in ARENA_KINDS]
    full = [buffer_bytes(b, slot_table[-1]) for b in temps]
    for rows, values in enumerate(slot_table[:-1], start=1):
        for buf, limit in zip(temps, full):
            if buffer_bytes(buf, values) > limit:
                raise UnsupportedForExport(
                    f"export: {function.name or 'the function'}: a {buf.kind} buffer is larger "
                    f"for {rows} rows than for a full chunk of {len(slot_table)}")
    offsets, total = plan_offsets(full, [(b.first, b.last) for b in temps], ALIGNMENT)
    return {id(b): o for b, o in zip(temps, offsets)}, total


def weight_blob(buffers) -> tuple:
    """(bytes of every shared variable and constant, each 64-byte aligned; {id: offset})."""
    parts, offsets, size = [], {}, 0
    for buf in buffers:
        if buf.kind not in WEIGHT_KINDS:
            continue
        data = np.ascontiguousarray(buf.array).tobytes()
        offsets[id(buf)] = size
        padded = align_up(max(len(data), 1), ALIGNMENT)
        parts.append(data + bytes(padded - len(data)))
        size += padded
    return b"".join(parts), offsets


# Where a buffer lives, as the C runtime's table codes it.
PLACE_CODES = {"input": 0, "output": 1, "weight": 2, "arena": 3}


def place_of(buf, weight_offsets, arena_offsets) -> tuple:
    if buf.kind == "input":
        return PLACE_CODES["input"], buf.index
    if buf.kind == "output":
        return PLACE_CODES["output"], buf.index
    if buf.kind in WEIGHT_KINDS:
        return PLACE_CODES["weight"], weight_offsets[id(buf)]
    return PLACE_CODES["arena"], arena_offsets[id(buf)]
