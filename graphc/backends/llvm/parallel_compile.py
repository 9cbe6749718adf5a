"""A big module compiled as parts at once, in forked worker processes.

llvmlite runs every LLVM call under one global lock, so threads cannot compile two modules at
once; processes can. `compile_parts` forks one child per part but the first, compiles the first
part itself meanwhile, and reads each child's object code from a pipe. The parts (emit.ModuleText
.parts) are loaded together into one execution engine, where their calls to one another link.
Their objects travel and are cached as one payload (`pack` / `unpack`); a payload of one object
is that object's bytes, so everything that read single objects still reads them. A step module
is split one part per kernel (each also cached alone, mcjit._compile_parts), and the parts to
compile are pulled by the processes from a shared queue (`compile_pulled`), one at a time.

GRAPHC_COMPILE_PROCESSES sets how many processes compile (default: the CPUs this process may
run on, at most 2, since the kernels of one step are few; 1 compiles everything here).
"""

from __future__ import annotations

import os
import struct

CONTAINER = b"GRAPHCMO"  # several object files in one payload
_LENGTH = struct.Struct("<Q")
MIN_SPLIT_CHARS = 24_000  # below: compiled whole (a part costs ~2 ms, a fork more: not worth it)


def processes() -> int:
    """How many processes compile a module's parts (GRAPHC_COMPILE_PROCESSES, else <= 2)."""
    raw = os.environ.get("GRAPHC_COMPILE_PROCESSES", "").strip()
    if raw:
        try:
            count = int(raw)
        except ValueError:
            raise ValueError("GRAPHC_COMPILE_PROCESSES must be a positive integer; received "
                             f"{raw!r}") from None
        if count < 1:
            raise ValueError(f"GRAPHC_COMPILE_PROCESSES must be >= 1; received {count}")
        return count
    if not hasattr(os, "fork"):
        return 1
    return min(2, len(os.sched_getaffinity(0)))


def compile_pulled(items: list, compile_one, name: str, workers: int) -> list:
    """[compile_one(item) for item in items] by `workers` processes (this one and forked
    children), each taking the next item from a shared queue as it finishes one: what an
    item costs is not known ahead (an 8 KB pooling kernel took longer than a 100 KB
    convolution), and a split made before compiling left one process idle while the other
    worked. The queue is a pipe holding the items' positions; put the costliest items first."""
    queue = None if workers <= 1 or len(items) <= 1 else _queue(len(items))
    if queue is None:
        return [compile_one(item) for item in items]
    try:
        batches = compile_parts(list(range(min(workers, len(items)))),
                                lambda _: _drain(queue, items, compile_one), name)
    finally:
        os.close(queue)
    done = dict(pair for batch in batches for pair in _decode(batch))
    return [done[k] for k in range(len(items))]


def _queue(count: int) -> int | None:
    """The read end of a pipe holding positions 0..count-1, closed for writing before any
    worker starts (a worker reading the emptied queue sees its end); None when the pipe cannot
    hold them all (64 KB, 8192 positions, or less where the system caps pipes): then this
    process compiles every item, rather than block on a full pipe nobody reads yet."""
    read, write = os.pipe()
    os.set_blocking(write, False)
    positions = b"".join(_LENGTH.pack(k) for k in range(count))
    try:
        written = os.write(write, positions)
    except BlockingIOError:
        written = 0
    finally:
        os.close(write)
    if written == len(positions):
        return read
    os.close(read)
    return None


def _drain(queue: int, items: list, compile_one) -> bytes:
    """compile_one of each item whose position this process takes from the queue, until it
    is empty, encoded with the positions. (A pipe read of 8 bytes is atomic: no two
    processes take one position.)"""
    positions, results = [], []
    while len(taken := os.read(queue, _LENGTH.size)) == _LENGTH.size:
        (k,) = _LENGTH.unpack(taken)
        positions.append(k)
        results.append(compile_one(items[k]))
    head = _LENGTH.pack(len(positions)) + b"".join(_LENGTH.pack(k) for k in positions)
    return head + pack(results)


def _decode(batch: bytes) -> list:
    """[(position, result)] of one worker's _drain."""
    (count,) = _LENGTH.unpack_from(batch)
    positions = [_LENGTH.unpack_from(batch, 8 * (1 + j))[0] for j in range(count)]
    return list(zip(positions, unpack(batch[8 * (1 + count):]) if count else []))


def pack(objects: list) -> bytes:
    """One payload for the parts' objects (a single object stays as it is)."""
    if len(objects) == 1:
        return objects[0]
    lengths = b"".join(_LENGTH.pack(len(o)) for o in objects)
    return CONTAINER + _LENGTH.pack(len(objects)) + lengths + b"".join(objects)


def unpack(payload: bytes) -> list:
    """The object files in a payload `pack` made (or the one object it is)."""
    if not payload.startswith(CONTAINER):
        return [payload]
    at = len(CONTAINER)
    (count,) = _LENGTH.unpack_from(payload, at)
    lengths = [_LENGTH.unpack_from(payload, at + 8 * (1 + k))[0] for k in range(count)]
    start, objects = at + 8 * (1 + count), []
    for length in lengths:
        objects.append(payload[start:start + length])
        start += length
    if start != len(payload):
        raise ValueError("graphc: a packed object payload has the wrong length")
    return objects


def compile_parts(parts: list, compile_one, name: str) -> list:
    """[compile_one(part) for part in parts], the parts after the first in forked children.
    Every child is waited for and its pipe closed, whatever fails."""
    if not parts:
        return []
    children = [_Child.fork(part, compile_one) for part in parts[1:]]
    try:
        first = compile_one(parts[0])
        return [first] + [compile_one(part) if child is None else child.result(name)
                          for child, part in zip(children, parts[1:])]
    finally:
        for child in children:
            if child is not None:
                child.close()


class _Child:
    """A forked process compiling one part; it sends one frame: length, tag (K: object code,
    E: an error message), data."""

    def __init__(self, pid: int, read: int):
        self.pid, self.read, self.status = pid, read, None

    @classmethod
    def fork(cls, part, compile_one):
        """The child compiling `part`, or None when no process can be made."""
        try:
            read, write = os.pipe()
        except OSError:
            return None  # out of descriptors: the part compiles here (same code)
        try:
            pid = os.fork()
        except OSError:
            os.close(read)
            os.close(write)
            return None  # out of processes or memory: the part compiles here (same code)
        if pid == 0:  # the child: compile, send, and leave without running the parent's exit code
            status = 1
            try:
                os.close(read)
                _send(write, b"K" + compile_one(part))
                status = 0
            except BaseException as err:  # noqa: BLE001 - reported to the parent, not raised
                _send(write, b"E" + f"{type(err).__name__}: {err}".encode())
            finally:
                os._exit(status)
        os.close(write)
        return cls(pid, read)

    def result(self, name: str) -> bytes:
        chunks = []
        while chunk := os.read(self.read, 1 << 20):
            chunks.append(chunk)
        self.close()
        frame = b"".join(chunks)
        (length,) = _LENGTH.unpack_from(frame) if len(frame) >= 8 else (-1,)
        data = frame[8:] if length == len(frame) - 8 else b""  # a cut frame: the child died
        # status None: SIGCHLD ignored (or another thread reaped it): a whole frame still counts
        if data[:1] == b"K" and self.status in (0, None):
            return data[1:]
        why = data[1:].decode(errors="replace") if data[:1] == b"E" else \
            f"the compiling process ended with status {self.status}"
        raise RuntimeError(f"graphc: compiling a part of module {name!r} failed: {why}")

    def close(self) -> None:
        if self.read is not None:
            os.close(self.read)
            self.read = None
            try:
                self.status = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
            except ChildProcessError:
                self.status = None


def _send(fd: int, data: bytes) -> None:
    view = memoryview(_LENGTH.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view):]
    os.close(fd)
