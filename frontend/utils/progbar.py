"""Keras's progress bar.

On a terminal (or in a notebook) the bar redraws in place with an ETA:
    `123/600 [====>.........................] - ETA: 1s - loss: 0.4521 - accuracy: 0.8712`
and ends as `600/600 [==============================] - 2s 3ms/step - loss: ... - accuracy: ...`.
When stdout is not a terminal (logs, CI) only that final line is written: no carriage returns.
On a terminal the bar shrinks (and the line is cut) to fit the terminal's width, so it never wraps.
verbose=2 writes one short line per epoch: `600/600 - 2s - loss: ... - 2s/epoch - 3ms/step`.
"""

from __future__ import annotations

import os
import shutil
import sys
import time

MIN_BAR_WIDTH = 5


def is_interactive(stream) -> bool:
    return bool(getattr(stream, "isatty", lambda: False)()) or "ipykernel" in sys.modules


def terminal_columns(stream) -> int | None:
    """The width of the terminal `stream` writes to (COLUMNS overrides it, as in
    shutil.get_terminal_size); None when `stream` is no terminal file (a notebook, a StringIO)."""
    try:
        if not os.isatty(stream.fileno()):
            return None
    except (AttributeError, OSError, ValueError):
        return None
    return shutil.get_terminal_size().columns


def format_value(value) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    value = float(value)
    return f" {value:.4f}" if abs(value) > 1e-3 else f" {value:.4e}"


def format_time_per_unit(seconds: float, unit: str) -> str:
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/{unit}"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/{unit}"
    return f"{seconds * 1e6:.0f}us/{unit}"


def format_eta(eta: float) -> str:
    if eta > 3600:
        return f"{int(eta // 3600)}:{int(eta % 3600) // 60:02d}:{int(eta % 60):02d}"
    if eta > 60:
        return f"{int(eta // 60)}:{int(eta % 60):02d}"
    return f"{int(eta)}s"


class Progbar:
    """A progress bar over `target` steps (None: unknown, as for a generator without
    steps_per_epoch: shown as `12/Unknown`); `update(current, values)` redraws it."""

    def __init__(
        self,
        target: int,
        width: int = 30,
        verbose: int = 1,
        stream=None,
        interval: float = 0.05,
        unit_name: str = "step",
    ):
        self.target = None if target is None else int(target)
        self.width, self.verbose, self.current = width, verbose, 0
        self.stream = stream or sys.stdout
        self.interval, self.unit_name = interval, unit_name
        self.dynamic = is_interactive(self.stream)
        self.start = self.last_draw = time.time()
        self.previous_width = 0

    def bar(self, current: int, width: int | None = None) -> str:
        if self.target is None:
            return f"{current:7d}/Unknown"
        width = self.width if width is None else width
        digits = len(str(self.target))
        text = f"{current:{digits}d}/{self.target} ["
        filled = int(width * current / self.target) if self.target else width
        if filled > 0:
            text += "=" * (filled - 1) + (">" if current < self.target else "=")
        return text + "." * (width - filled) + "]"

    def fitted_line(self, current: int, tail: str) -> str:
        """The bar line; on a terminal the bar shrinks (then the line is cut) to stay within
        the terminal's width: a wrapped line cannot be redrawn with a carriage return."""
        line = self.bar(current) + tail
        columns = terminal_columns(self.stream)
        if columns is None:
            return line
        columns -= 1  # writing the last column wraps on some terminals
        overflow = len(line) - columns
        if overflow > 0 and self.target is not None:
            line = self.bar(current, max(MIN_BAR_WIDTH, self.width - overflow)) + tail
        return line[:columns]

    @staticmethod
    def values_text(values) -> str:
        return "".join(f" - {k}:{format_value(v)}" for k, v in values.items())

    def update(self, current: int, values: dict | None = None, finalize: bool | None = None):
        values = values or {}
        current = self.current if current is None else current  # an unknown target's end
        self.current = current
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        now = time.time()
        per_step = (now - self.start) / max(current, 1)
        if self.verbose == 2:
            if finalize:
                elapsed = now - self.start
                line = (
                    f"{current:{len(str(self.target or current))}d}/{self.target or current}"
                    f" - {elapsed:.0f}s"
                    f"{self.values_text(values)} - {format_time_per_unit(elapsed, 'epoch')}"
                    f" - {format_time_per_unit(per_step, self.unit_name)}"
                )
                self._write(line + "\n")
            return
        if self.verbose != 1 or (
            not finalize and (not self.dynamic or now - self.last_draw < self.interval)
        ):
            return
        self.last_draw = now
        if finalize:
            info = f" - {now - self.start:.0f}s {format_time_per_unit(per_step, self.unit_name)}"
        elif self.target is None:
            info = f" - {format_time_per_unit(per_step, self.unit_name)}"
        else:
            info = f" - ETA: {format_eta(per_step * (self.target - current))}"
        line = self.fitted_line(current, info + self.values_text(values))
        padding = " " * max(0, self.previous_width - len(line))
        self.previous_width = len(line)
        prefix = "\r" if self.dynamic else ""
        self._write(prefix + line + padding + ("\n" if finalize else ""))

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()
