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
