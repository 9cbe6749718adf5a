"""graphc's own folder, and writing files so that a crash never leaves a half-written one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def atomic_write(path, write) -> None:
    """Call `write(file)` on a temporary file beside `path`, then rename it to `path`.

    The rename is atomic on one file system, so `path` holds either its old content or the
    complete new one. `write` receives a binary file object. The temporary file is named
    `.<name>.<pid>.<random>.tmp`, so the temporaries a killed save left behind are found (by
    their target's name and their dead writer's pid) and removed by the next save. The file
    gets the permissions of any new file (0666 minus the umask), not mkstemp's 0600.

    Args:
        path: the file to create or replace (its folder must exist).
        write: a function of one binary file object that writes the whole content.

    Example:
        atomic_write("model.zip", lambda f: f.write(data))
    """
    folder = os.path.dirname(os.path.abspath(path))
    name = os.path.basename(path)
    remove_orphan_temporaries(folder, name)
    handle, temp = tempfile.mkstemp(dir=folder, prefix=f".{name}.{os.getpid()}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as f:
            os.fchmod(f.fileno(), 0o666 & ~current_umask())
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temp)
        raise


def remove_orphan_temporaries(folder: str, name: str) -> None:
    """Remove the temporaries of target `name` whose writing process no longer runs (a save
    that was killed before its rename); those of a live writer are left alone."""
    prefix = f".{name}."
    for entry in os.scandir(folder):
        if not (entry.name.startswith(prefix) and entry.name.endswith(".tmp")):
            continue
        writer = entry.name[len(prefix) :].split(".", 1)[0]
        if writer.isdigit() and not process_is_running(int(writer)):
            with contextlib.suppress(OSError):  # another save may have removed it first
                os.remove(entry.path)


def process_is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it runs, as another user
        return True
    return True


def current_umask() -> int:
    """The process's umask (reading it means setting it: set it straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def graphc_home() -> Path:
    """`$GRAPHC_HOME`, by default `~/.graphc`: where datasets are downloaded."""
    return Path(os.environ.get("GRAPHC_HOME") or Path.home() / ".graphc")
