"""A progress line for command-line tools (manage.py check_manifest, dnt-check)."""

from __future__ import annotations

import time
from collections.abc import Callable


class Progress:
    """One line on stderr, rewritten in place: rows done / total, rows/s."""

    def __init__(
        self, write: Callable[[str], None], total: int, *, every: float = 0.2
    ) -> None:
        self.write = write
        self.total = total
        self.done = 0
        self.every = every
        self.started = time.monotonic()
        self.shown = 0.0

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        share = self.done / self.total if self.total else 1.0
        filled = int(share * 30)
        return (
            f"\r[{'#' * filled}{'.' * (30 - filled)}] {self.done:,} / {self.total:,} "
            f"rows ({share:.0%}) · {self.done / elapsed:,.0f} rows/s"
        )

    def advance(self, rows: int) -> None:
        self.done += rows
        now = time.monotonic()
        if now - self.shown >= self.every:
            self.shown = now
            self.write(self.line())

    def finish(self) -> None:
        self.write(self.line() + "\n")
