"""Progress display for long commands: a bar on a terminal, plain lines otherwise."""
from __future__ import annotations

import time
from typing import TextIO

from django.core.management.base import OutputWrapper

from mailstore.importexport import Progress


def _human(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


class ProgressPrinter:
    """Callable for `importexport` progress. On a tty it redraws one line (at most 10
    times a second); otherwise it prints a line at every further 10%."""

    WIDTH = 30

    def __init__(self, out: TextIO | OutputWrapper, verb: str) -> None:
        # A command's OutputWrapper would end every write with a newline.
        self.out = out._out if isinstance(out, OutputWrapper) else out
        self.verb = verb
        isatty = getattr(out, "isatty", None)
        self.tty = bool(isatty and isatty())
        self._last_draw = 0.0
        self._last_decile = -1
        self._drawn = False

    def __call__(self, p: Progress) -> None:
        percent = 100 if p.total <= 0 else min(100, p.done * 100 // p.total)
        if self.tty:
            now = time.monotonic()
            if now - self._last_draw < 0.1 and p.done < p.total:
                return
            self._last_draw = now
            filled = self.WIDTH * percent // 100
            amount = f"{_human(p.done)}/{_human(p.total)}" if p.unit == "bytes" else f"{p.done}/{p.total}"
            bar = "#" * filled + "." * (self.WIDTH - filled)
            self.out.write(f"\r{self.verb} [{bar}] {percent:3d}% {amount}, {p.messages} messages, {p.mailbox}\x1b[K")
            self.out.flush()
            self._drawn = True
            return
        decile = percent // 10
        if decile > self._last_decile and p.done > 0:
            self._last_decile = decile
            self.out.write(f"{self.verb} {percent}%: {p.messages} messages\n")

    def finish(self) -> None:
        if self.tty and self._drawn:
            self.out.write("\n")
            self.out.flush()
