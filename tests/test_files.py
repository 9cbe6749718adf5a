"""atomic_write: the target holds its old content or the whole new one, never a part; killed
saves leave no temporaries behind for long; new files follow the umask."""

import os
import signal
import stat
import subprocess
import sys

import pytest

from graphc.files import atomic_write


def test_writes_and_replaces(tmp_path):
    target = tmp_path / "out.bin"
    atomic_write(target, lambda f: f.write(b"first"))
    atomic_write(target, lambda f: f.write(b"second"))
    assert target.read_bytes() == b"second"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_a_crash_while_writing_keeps_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def crash_halfway(f):
        f.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, crash_halfway)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def kill_a_save_halfway(target) -> None:
    """Run a save of `target` in a child process that is killed (SIGKILL) while writing."""
    script = (
        "import os, signal, sys\n"
        "from graphc.files import atomic_write\n"
        "def die(f):\n"
        "    f.write(b'x' * 1000)\n"
        "    f.flush()\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "atomic_write(sys.argv[1], die)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(target)], timeout=60)
    assert done.returncode == -signal.SIGKILL


def test_the_next_save_removes_the_temporaries_of_killed_saves(tmp_path):
    target = tmp_path / "model.keras"
    for _ in range(3):  # each save removes the orphan of the one before: they never pile up
        kill_a_save_halfway(target)
        orphans = [p.name for p in tmp_path.iterdir()]
        assert len(orphans) == 1
        assert orphans[0].startswith(".model.keras.") and orphans[0].endswith(".tmp")
    live = tmp_path / f".model.keras.{os.getpid()}.inprogress.tmp"  # a save still running
    live.write_bytes(b"")
    other = tmp_path / ".other.keras.1.x.tmp"  # another target's temporary is not ours
    other.write_bytes(b"")
    atomic_write(target, lambda f: f.write(b"new"))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [".model.keras." + f"{os.getpid()}.inprogress.tmp", ".other.keras.1.x.tmp", "model.keras"]
    )
    assert target.read_bytes() == b"new"


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_new_files_follow_the_umask(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        atomic_write(tmp_path / "out.bin", lambda f: f.write(b"data"))
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "out.bin").stat().st_mode) == mode
