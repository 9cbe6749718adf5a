"""A big module compiled as parts at once, in forked worker processes.

llvmlite runs every LLVM call under one global lock, so threads cannot compile two modules at
once; processes can. `compile_parts` forks one child per part but the first, compiles the first
part itself meanwhile, and reads each child's object code from a pipe. The parts (emit.ModuleText
.parts) are loaded together into one execution engine, where their calls to one another link.
Their objects travel and are cached as one payload (`pack` / `unpack`); a payload of one object
is that object's bytes, so everything that read single objects still reads them.

GRAPHC_COMPILE_PROCESSES sets how many processes compile (default: the CPUs this process may
run on, at most 2, since the kernels of one step are few; 1 compiles everything here).
"""

from __future__ import annotations

import os
import struct

CONTAINER = b"GRAPHCMO"  # several object files in one payload
_LENGTH = struct.Struct("<Q")
MIN_SPLIT_CHARS = 24_000  # below this a fork costs about what a second process saves


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
    """[compile_one(part) for part in parts], the parts after the first in forked children."""
    if not parts:
        return []
    children = [_fork(part, compile_one) for part in parts[1:]]
    first = compile_one(parts[0])
    return [first] + [_collect(child, part, compile_one, name)
                      for child, part in zip(children, parts[1:])]


def _fork(part: str, compile_one):
    """(pid, read end) of a child compiling `part`, or None when no process can be made."""
    try:
        read, write = os.pipe()
        pid = os.fork()
    except OSError:
        return None  # out of processes or memory: the part compiles here (same code)
    if pid == 0:  # the child: compile, send, and leave without running the parent's exit code
        status = 1
        try:
            os.close(read)
            _send(write, b"K" + compile_one(part))
            status = 0
        except BaseException as err:  # noqa: BLE001 - reported to the parent, not raised here
            _send(write, b"E" + f"{type(err).__name__}: {err}".encode())
        finally:
            os._exit(status)
    os.close(write)
    return pid, read


def _send(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.close(fd)


def _collect(child, part: str, compile_one, name: str) -> bytes:
    if child is None:
        return compile_one(part)
    pid, read = child
    chunks = []
    while chunk := os.read(read, 1 << 20):
        chunks.append(chunk)
    os.close(read)
    _, status = os.waitpid(pid, 0)
    data = b"".join(chunks)
    if data[:1] == b"K" and os.waitstatus_to_exitcode(status) == 0:
        return data[1:]
    why = data[1:].decode(errors="replace") if data[:1] == b"E" else \
        f"the compiling process ended with status {os.waitstatus_to_exitcode(status)}"
    raise RuntimeError(f"graphc: compiling a part of module {name!r} failed: {why}")
