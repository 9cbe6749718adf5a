"""Keras's progress bar.

On a terminal (or in a notebook) the bar redraws in place with an ETA:
    `123/600 [====>.........................] - ETA: 1s - loss: 0.4521 - accuracy: 0.8712`
and ends as `600/600 [==============================] - 2s 3ms/step - loss: ... - accuracy: ...`.
When stdout is not a terminal (logs, CI) only that final line is written: no carriage returns.
verbose=2 writes one short line per epoch: `600/600 - 2s - loss: ... - 2s/epoch - 3ms/step`.
"""

from __future__ import annotations

import sys
import time


def is_interactive(stream) -> bool:
    return bool(getattr(stream, "isatty", lambda: False)()) or "ipykernel" in sys.modules


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

    def bar(self, current: int) -> str:
        if self.target is None:
            return f"{current:7d}/Unknown"
        digits = len(str(self.target))
        text = f"{current:{digits}d}/{self.target} ["
        filled = int(self.width * current / self.target) if self.target else self.width
        if filled > 0:
            text += "=" * (filled - 1) + (">" if current < self.target else "=")
        return text + "." * (self.width - filled) + "]"

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
        line = self.bar(current) + info + self.values_text(values)
        padding = " " * max(0, self.previous_width - len(line))
        self.previous_width = len(line)
        prefix = "\r" if self.dynamic else ""
        self._write(prefix + line + padding + ("\n" if finalize else ""))

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()
