"""graphc's own folder, and writing files so that a crash never leaves a half-written one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def atomic_write(path, write) -> None:
    """Call `write(file)` on a temporary file beside `path`, then rename it to `path`.

    The rename is atomic on one file system, so `path` holds either its old content or the
    complete new one. `write` receives a binary file object.

    Args:
        path: the file to create or replace (its folder must exist).
        write: a function of one binary file object that writes the whole content.

    Example:
        atomic_write("model.zip", lambda f: f.write(data))
    """
    folder = os.path.dirname(os.path.abspath(path))
    name = os.path.basename(path)
    handle, temp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
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


def graphc_home() -> Path:
    """`$GRAPHC_HOME`, by default `~/.graphc`: where datasets are downloaded."""
    return Path(os.environ.get("GRAPHC_HOME") or Path.home() / ".graphc")
