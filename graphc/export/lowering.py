"""Compiled functions as the tables an ahead-of-time library needs: each one's Program (the
LLVM backend's stages, run again), the run-time size symbols for every batch of 1..chunk rows and
the arena offsets planned for a full chunk; and the weights (every shared variable and constant
of all of them, each shared variable once) laid out in one 64-byte-aligned blob.

The library runs a predict call of n rows as chunks of at most `chunk` rows, as Keras's predict
runs batches, when the function keeps its rows apart (rows.py proves it); otherwise, and for a
training step, a call takes at most `chunk` rows (one step, one batch). Every size is
then known when the library is built, and the arena planned for a full chunk holds every smaller
one (checked here for each chunk size).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from graphc.backends.llvm.buffers import plan_memory
from graphc.backends.llvm.irutil import ITEMSIZE
from graphc.backends.llvm.schedule import schedule_kernels
from graphc.export.rows import mixing_node
from graphc.ir import user_site
from passes.expand import expand_composites
from passes.fuse import fuse_kernels
from passes.memory import align_up, plan_offsets
from passes.symbols import SizeOneBroadcast, concrete_shapes

ARENA_KINDS = ("temp", "scratch", "workspace")
WEIGHT_KINDS = ("shared", "constant")
SUPPORTED_DTYPES = ("float32",)
ALIGNMENT = 64


class UnsupportedForExport(ValueError):
    """The function (or model) uses something an exported library cannot do; the message
    ends with the user's file:line."""

    def __init__(self, message: str):
        super().__init__(f"{message} (called at {user_site()})")


@dataclass
class Shaped:
    shape: tuple


@dataclass
class LoweredProgram:
    """One function's C tables, plus the Program its LLVM module is emitted from."""

    program: object
    training: bool  # a training step: updates allowed, outputs written once (not per row)
    chunk: int
    mixes: str | None  # predict: what mixes its rows (then n <= chunk), or None (any n)
    slot_table: list  # per chunk size m = 1..chunk: the symbol values
    arena_offsets: dict  # id(buffer) -> byte offset in the arena
    arena_bytes: int
    inputs: list  # (name, shape without the batch) per input
    outputs: list  # (name, shape without the batch, or the whole shape of a step's output)

    @property
    def chunked(self) -> bool:
        """Whether a call of any n rows runs as chunks (else n is at most `chunk`)."""
        return not self.training and self.mixes is None


@dataclass
class Lowered:
    """The predict program, the training step's (or None), and the weights of both."""

    predict: LoweredProgram
    train: LoweredProgram | None
    weights: bytes
    weight_offsets: dict  # weight_key(buffer) -> byte offset in `weights`

    @property
    def programs(self) -> list:
        return [p for p in (self.predict, self.train) if p is not None]

    def places(self, lowered: LoweredProgram) -> list:
        """Per buffer of `lowered`: (place code, input/output index or byte offset)."""
        return [place_of(b, self.weight_offsets, lowered.arena_offsets)
                for b in lowered.program.buffers]


def lower(function, chunk: int, train_function=None, mixed_rows: str = "max_batch") -> Lowered:
    """The tables of `function` (inference) and of `train_function` (a training step, or
    None): graphc Functions on the llvm backend's graphs. mixed_rows: what to do when
    `function` mixes its batch rows: "max_batch" (calls take at most `chunk` rows) or
    "refuse" (raise UnsupportedForExport)."""
    programs = [lower_program(function, chunk, False)]
    if programs[0].mixes is not None and mixed_rows == "refuse":
        raise UnsupportedForExport(
            f"export: {function.name or 'the function'} mixes the rows of its batch "
            f"({programs[0].mixes}), so it cannot run in chunks of {chunk} rows; pass "
            f"mixed_rows='max_batch' to export it for calls of at most batch_chunk rows")
    if train_function is not None:
        programs.append(lower_program(train_function, chunk, True))
    weights, offsets = weight_blob([b for p in programs for b in p.program.buffers])
    return Lowered(programs[0], programs[1] if len(programs) > 1 else None, weights, offsets)


def lower_program(function, chunk: int, training: bool) -> LoweredProgram:
    check_function(function, training)
    expanded = expand_composites(function.graph("optimized"))
    program = plan_memory(schedule_kernels(fuse_kernels(expanded)), expanded)
    inputs = [(p.name or f"input{k}", tuple(p.shape[1:]))
              for k, p in enumerate(program.graph.inputs)]
    outputs = [(o.name or f"output{k}", tuple(o.shape if training else o.shape[1:]))
               for k, o in enumerate(program.graph.outputs)]
    slot_table = [symbol_values(program, m, function) for m in range(1, chunk + 1)]
    arena_offsets, arena_bytes = plan_arena(program, slot_table, function)
    mixes = None if training else mixing_node(function.graph("optimized"))
    return LoweredProgram(program, training, chunk, mixes, slot_table, arena_offsets,
                          arena_bytes, inputs, outputs)


def check_function(function, training: bool) -> None:
    """Functions of float32 arrays with the batch first; inference ones update nothing and
    return the batch first, a training step's outputs have fixed shapes."""
    label = f"function {function.name!r}" if function.name else "the function"
    graph = function.graph("optimized")
    if graph.updates and not training:
        names = ", ".join(v.name or "?" for v, _ in graph.updates)
        raise UnsupportedForExport(f"export: {label} updates variables ({names}); a stateful "
                                   f"model (e.g. stateful=True RNN) cannot be exported")
    for k, node in enumerate(graph.inputs):
        check_array(label, f"input {k}", node, batch_first=True)
    for k, node in enumerate(graph.outputs):
        check_array(label, f"output {k}", node, batch_first=not training)


def check_array(label: str, what: str, node, batch_first: bool) -> None:
    what = f"{what} ({node.name or 'unnamed'})"
    if node.dtype not in SUPPORTED_DTYPES:
        raise UnsupportedForExport(f"export: {label}: {what} has dtype {node.dtype}; "
                                   f"exported libraries take float32 only")
    fixed = node.shape[1:] if batch_first else node.shape
    if None in fixed or (batch_first and (not node.shape or node.shape[0] is not None)):
        need = "the batch (None) first and every other size fixed" if batch_first else \
            "fixed sizes"
        raise UnsupportedForExport(f"export: {label}: {what} has shape {node.shape}; "
                                   f"exported libraries need {need}")


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


def weight_key(buf) -> int:
    """Buffers of one shared variable in several programs share their bytes."""
    return id(buf.node.attr("storage")) if buf.kind == "shared" else id(buf)


def weight_blob(buffers) -> tuple:
    """(bytes of every shared variable and constant, each 64-byte aligned; {weight_key:
    offset})."""
    parts, offsets, size = [], {}, 0
    for buf in buffers:
        if buf.kind not in WEIGHT_KINDS or weight_key(buf) in offsets:
            continue
        data = np.ascontiguousarray(buf.array).tobytes()
        offsets[weight_key(buf)] = size
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
        return PLACE_CODES["weight"], weight_offsets[weight_key(buf)]
    return PLACE_CODES["arena"], arena_offsets[id(buf)]
