"""Turn DOT text into a file: .svg/.png/.pdf through graphviz's `dot`, or the .dot text itself.

A missing `dot` program is never an error: the DOT text is written next to the requested
file and one line says how to install graphviz (plot_model's most common complaint in Keras).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import graphviz

from graphc.files import atomic_write

RENDERED = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".jpg": "jpg", ".jpeg": "jpg"}
TEXT = (".dot", ".gv")
RASTER = ("png", "jpg")
INSTALL_HINT = (
    "install graphviz to get pictures: `apt-get install graphviz` (Debian/Ubuntu), "
    "`brew install graphviz` (macOS) or `conda install graphviz`"
)


class DiagramError(ValueError):
    """A diagram that cannot be drawn: nothing to draw, or an argument it cannot use."""


RANKDIRS = ("TB", "LR", "BT", "RL")


def check_rankdir(rankdir: str) -> str:
    """graphviz's layout direction, or a DiagramError naming the four it takes."""
    if rankdir not in RANKDIRS:
        raise DiagramError(f"rankdir must be one of {', '.join(RANKDIRS)}, got {rankdir!r}")
    return rankdir


def dot_program() -> str | None:
    """Path of graphviz's `dot`, or None when it is not installed."""
    return shutil.which("dot")


def output_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in RENDERED:
        return RENDERED[suffix]
    if suffix in TEXT:
        return "dot"
    choices = ", ".join(list(RENDERED) + list(TEXT))
    raise DiagramError(
        f"cannot tell the picture format of {str(path)!r}: use one of the suffixes {choices}"
    )


def render(source: str, to_file, dpi: int | None = None) -> Path:
    """Write `source` (DOT text) to `to_file` in the format its suffix names; return the path
    actually written (the .dot file instead when graphviz's `dot` is not installed)."""
    path = Path(to_file)
    fmt = output_format(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "dot":
        atomic_write(path, lambda f: f.write(source.encode()))
        return path
    dot = dot_program()
    if dot is None:
        fallback = path.with_suffix(".dot")
        atomic_write(fallback, lambda f: f.write(source.encode()))
        print(
            f"graphc: graphviz's `dot` program was not found, so {fallback} holds the diagram "
            f"as text instead of {path}; {INSTALL_HINT}",
            file=sys.stderr,
        )
        return fallback
    picture = run_dot(dot, source, fmt, dpi, what=str(path))
    atomic_write(path, lambda f: f.write(picture))
    return path


def run_dot(dot: str, source: str, fmt: str, dpi: int | None = None, what: str = "") -> bytes:
    """The picture graphviz's `dot` draws from `source`, in format `fmt` (e.g. 'svg')."""
    command = [dot, f"-T{fmt}"]  # the picture comes back on stdout, so it is written whole
    if dpi and fmt in RASTER:
        command.insert(1, f"-Gdpi={int(dpi)}")
    done = subprocess.run(command, input=source.encode(), capture_output=True)
    if done.returncode != 0:
        raise DiagramError(
            f"graphviz's dot failed on the diagram for {what}: "
            f"{done.stderr.decode(errors='replace').strip()}"
        )
    return done.stdout


class Diagram:
    """A drawn graph: DOT text that can be saved as a picture or shown in a notebook.

    Example:
        gc.to_dot(train, stage="fused").save("train_step.svg")
    """

    def __init__(self, digraph: graphviz.Digraph, dpi: int | None = None):
        self.digraph = digraph
        self.dpi = dpi

    @property
    def source(self) -> str:
        return self.digraph.source

    def save(self, to_file) -> Path:
        """Write the picture (format from the suffix); returns the path written."""
        return render(self.source, to_file, self.dpi)

    def __str__(self) -> str:
        return self.source

    def __repr__(self) -> str:
        return f"<Diagram: {self.source.count(' -> ')} edges; .save('x.svg') to draw it>"

    def _repr_mimebundle_(self, include=None, exclude=None):
        if dot_program() is None:
            return {"text/plain": self.source}
        return self.digraph._repr_mimebundle_(include, exclude)
