"""graphc's own folder, and writing files so that a crash never leaves a half-written one."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def atomic_write(path, write) -> None:
    """Call `write(file)` on a temporary file beside `path`, then rename it to `path`.

    The rename is atomic on one file system, so `path` holds either its old content or the
    complete new one. `write` receives a binary file object. The temporary file is named
    `.<name>.<pid>.<random>.tmp`, so the temporaries a killed save left behind are found (by
    their target's name and their dead writer's pid) and removed by the next save. The file
    gets the permissions of any new file (0666 minus the umask).

    Args:
        path: the file to create or replace (its folder must exist).
        write: a function of one binary file object that writes the whole content.

    Example:
        atomic_write("model.zip", lambda f: f.write(data))
    """
    folder = os.path.dirname(os.path.abspath(path))
    name = os.path.basename(path)
    remove_orphan_temporaries(folder, name)
    handle, temp = create_temporary(folder, name)
    try:
        with os.fdopen(handle, "wb") as f:
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


def create_temporary(folder: str, name: str) -> tuple[int, str]:
    """(an open descriptor, the path) of a new `.<name>.<pid>.<random>.tmp` in `folder`,
    created with mode 0666 so that the umask applies as to any new file (mkstemp's 0600
    would make every saved file private)."""
    while True:
        temp = os.path.join(folder, f".{name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), temp
        except FileExistsError:  # 48 random bits taken already: draw again
            continue


def graphc_home() -> Path:
    """`$GRAPHC_HOME`, by default `~/.graphc`: where datasets are downloaded."""
    return Path(os.environ.get("GRAPHC_HOME") or Path.home() / ".graphc")
