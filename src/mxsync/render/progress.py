"""Progress on stderr, for people at a terminal: one line rewritten in place."""

from __future__ import annotations

import sys
from typing import TextIO


def reading_progress(stream: TextIO | None = None) -> ReadingProgress:
    return ReadingProgress(stream or sys.stderr)


class ReadingProgress:
    """`Reading the live state: 12/40 orgs`, ended with a newline when all are read."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def __call__(self, done: int, total: int) -> None:
        end = "\n" if done == total else ""
        self.stream.write(f"\rReading the live state: {done}/{total} orgs{end}")
        self.stream.flush()


class ApplyProgress:
    """`Applying: 3/7 changes done (org-a)`, one line rewritten in place, then wiped.

    Every step is shown once, in the report printed at the end; while apply runs, the user
    only needs to see that it moves. Writing each step as it happens *and* in the report
    showed everything twice on a terminal."""

    EXTRA_STEPS = frozenset({"test", "default"})  # recorded besides a change, not changes

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self.width = 0  # of the line on screen, to wipe it

    def __call__(self, step: object) -> None:
        if getattr(step, "action", None) in self.EXTRA_STEPS:
            return
        self.done += 1
        self._show(f"Applying: {self.done}/{self.total} changes done ({getattr(step, 'org', '')})")

    def _show(self, text: str) -> None:
        from mxsync.render.safe import printable

        text = printable(text)
        self.stream.write("\r" + text.ljust(self.width))
        self.stream.flush()
        self.width = max(self.width, len(text))

    def close(self) -> None:
        """Wipe the status line, so the report starts on a clean line."""
        if self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0
