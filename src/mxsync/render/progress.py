"""Progress on stderr, for people at a terminal: one line rewritten in place.

While the live state is read the line counts orgs; the API client's call progress rides on
it: calls done, calls left and, when the token's rate limit (not latency) sets the pace, an
ETA, or how long a call is waiting for the limit right now. Once reading is done the line
goes on only while announced calls remain (an audit's usage reads and key tests), so the
step lines of an apply are never interleaved with it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from mxsync.api import CallProgress
    from mxsync.outcomes import Step

_CLEAR_TO_END = "\x1b[K"
_MIN_INTERVAL_S = 0.1  # a redraw per call would cost more than the call at L = 0


def reading_progress(stream: TextIO | None = None) -> ReadingProgress:
    return ReadingProgress(stream or sys.stderr)


def _duration(seconds: float) -> str:
    whole = max(1, round(seconds))
    if whole < 90:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    return f"{minutes} min {secs:02d} s"


def calls_text(p: CallProgress) -> str:
    """`52 calls done, 29 left, about 40 s to go at the rate limit` (parts only when known)."""
    parts = [f"{p.done:,} call{'s' if p.done != 1 else ''} done"]
    if p.expected:
        parts.append(f"{p.left:,} left")
    if p.waiting_s > 0:
        parts.append(f"waiting {_duration(p.waiting_s)} for the rate limit")
    elif p.eta_s is not None:
        parts.append(f"about {_duration(p.eta_s)} to go at the rate limit")
    return ", ".join(parts)


class ReadingProgress:
    """`Reading the live state: 12/40 orgs; 52 calls done, 29 left, about 40 s to go at the
    rate limit`, ended with a newline when all orgs are read (and again when the announced
    calls that follow are done)."""

    def __init__(self, stream: TextIO, clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream
        self.clock = clock
        self.orgs: tuple[int, int] | None = None
        self.reading_done = False
        self.last: CallProgress | None = None
        self._drawn_at = float("-inf")
        self._open = False  # a line without its newline is on screen
        self._ended_with: int | None = None  # calls done when the last line was ended

    def __call__(self, done: int, total: int) -> None:
        self.orgs = (done, total)
        if done == total:
            self.reading_done = True
            self._draw(end=True)
        else:
            self._draw()

    def calls(self, progress: CallProgress) -> None:
        """The API client's progress hook."""
        self.last = progress
        if not self.reading_done:
            self._draw(force=progress.waiting_s > 0)
        elif progress.expected and progress.done < progress.expected:
            self._draw(force=progress.waiting_s > 0, label="Checking")
        elif self._open or (progress.expected and progress.done == progress.expected
                            and progress.done != self._ended_with):
            # The announced calls are done: also those announced after a line was ended
            # (an import's adoptions, announced once their reads have said which match).
            self._draw(end=True, label="Checking")

    def _draw(self, *, end: bool = False, force: bool = False, label: str = "") -> None:
        now = self.clock()
        if not (end or force) and now - self._drawn_at < _MIN_INTERVAL_S:
            return
        self._drawn_at = now
        if label:
            text = f"{label}: {calls_text(self.last)}" if self.last else label
        else:
            parts = [f"{self.orgs[0]}/{self.orgs[1]} orgs"] if self.orgs else []
            if self.last is not None and self.last.done:
                parts.append(calls_text(self.last))
            text = "Reading the live state: " + "; ".join(parts)
        self.stream.write(f"\r{text}{_CLEAR_TO_END}{chr(10) if end else ''}")
        self.stream.flush()
        self._open = not end
        if end:
            self._ended_with = self.last.done if self.last is not None else None


class ApplyProgress:
    """`Applying: 3/7 changes done (org-a)`, one line rewritten in place, then wiped.

    Every step is shown once, in the report printed at the end; while apply runs, the user
    only needs to see that it moves. Writing each step as it happens *and* in the report
    showed everything twice on a terminal. The count is of the plan's changes: only the step
    that concludes a change moves it (a mint, a wait for propagation, a key test, a revoke
    are steps besides a change, not changes), so it never passes the total."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self.width = 0  # of the line on screen, to wipe it

    def __call__(self, step: Step) -> None:
        if not step.concludes:
            return
        self.done = min(self.done + 1, self.total)
        self._show(f"Applying: {self.done}/{self.total} changes done ({step.org})")

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
