"""Progress on stderr: at a terminal, one line rewritten in place; in a log (no terminal),
a line every interval (`LogHeartbeat`).

While the live state is read the line counts orgs; the API client's call progress rides on
it: calls done, calls left and, when the token's rate limit (not latency) sets the pace, an
ETA, or how long a call is waiting for the limit right now. Once reading is done the line
goes on only while announced calls remain (an audit's usage reads and key tests), so the
step lines of an apply are never interleaved with it.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from mxsync.api import CallProgress
    from mxsync.outcomes import Step

_CLEAR_TO_END = "\x1b[K"
_MIN_INTERVAL_S = 0.1  # a redraw per call would cost more than the call at L = 0
_TICK_S = 1.0  # a rate-limit wait on screen is counted down each second


def counts_as_item(step: Step) -> bool:
    """A step that is one of the items a summary counts: the outcome of a change, or the
    default a create or replace took (its own line in the report, and in the summary)."""
    from mxsync.outcomes import StepAction

    return step.concludes or step.action == StepAction.DEFAULT


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
        parts.append(f"{'about ' if p.estimated and p.left else ''}{p.left:,} left")
    if p.waiting_s > 0:
        parts.append(f"waiting {_duration(p.waiting_s)} for the rate limit")
    elif p.eta_s is not None:
        parts.append(f"about {_duration(p.eta_s)} to go at the rate limit")
    return ", ".join(parts)


class ReadingProgress:
    """`Reading the live state: 12/40 orgs; 52 calls done, 29 left, about 40 s to go at the
    rate limit`, ended with a newline when all orgs are read (and again when the announced
    calls that follow are done)."""

    def __init__(self, stream: TextIO, clock: Callable[[], float] = time.monotonic,
                 tick_s: float | None = _TICK_S) -> None:
        self.stream = stream
        self.clock = clock
        self.orgs: tuple[int, int] | None = None
        self.reading_done = False
        self.last: CallProgress | None = None
        self.last_at = 0.0
        self._drawn_at = float("-inf")
        self._open = False  # a line without its newline is on screen
        self._ended_with: int | None = None  # calls done when the last line was ended
        self._lock = threading.RLock()  # the ticker draws from its own thread
        self._label = ""
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._tick_s = tick_s  # None: no thread (tests call `tick` themselves)

    def tick(self) -> None:
        """While a call waits for the rate limit, redraw the line with the wait counted down
        (`waiting 61 s` becomes `waiting 60 s`, ...): a long wait must not look frozen."""
        with self._lock:
            if (self._open and self.last is not None and self.last.waiting_s > 0
                    and self.clock() - self.last_at < self.last.waiting_s):
                self._draw(force=True, label=self._label)

    def _run_ticker(self, every_s: float) -> None:
        while not self._stop.wait(every_s):
            try:
                self.tick()
            except (OSError, ValueError):  # the stream is gone
                return

    def _start_ticker(self) -> None:
        if self._ticker is None and self._tick_s is not None:
            self._ticker = threading.Thread(target=self._run_ticker, args=(self._tick_s,),
                                            name="mxsync-countdown", daemon=True)
            self._ticker.start()

    def __call__(self, done: int, total: int) -> None:
        with self._lock:
            self.orgs = (done, total)
            if done == total:
                self.reading_done = True
                self._draw(end=True)
            else:
                self._draw()

    def calls(self, progress: CallProgress) -> None:
        """The API client's progress hook."""
        with self._lock:
            if progress.waiting_s > 0 or self.last is None or self.last.waiting_s <= 0 \
                    or progress.done != self.last.done:
                # A call's answer ends a wait; a report of no news keeps the countdown.
                self.last, self.last_at = progress, self.clock()
            if progress.waiting_s > 0:
                self._start_ticker()
            if not self.reading_done:
                self._label = ""
                self._draw(force=progress.waiting_s > 0)
            elif progress.expected and progress.done < progress.expected:
                self._label = "Checking"
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
        calls = None if self.last is None else _calls_now(self.last, self.last_at, now)
        if label:
            text = f"{label}: {calls}" if calls else label
        else:
            parts = [f"{self.orgs[0]}/{self.orgs[1]} orgs"] if self.orgs else []
            if self.last is not None and self.last.done and calls:
                parts.append(calls)
            text = "Reading the live state: " + "; ".join(parts)
        self.stream.write(f"\r{text}{_CLEAR_TO_END}{chr(10) if end else ''}")
        self.stream.flush()
        self._open = not end
        if end:
            self._ended_with = self.last.done if self.last is not None else None

    def close(self) -> None:
        """Stop the countdown, and end a line left open (a run stopped mid-read), so what
        follows starts on its own."""
        self._stop.set()
        with self._lock:
            if not self._open:
                return
            self.stream.write("\n")
            self.stream.flush()
            self._open = False


class ApplyProgress:
    """`Applying: 3/7 changes done (org-a)`, one line rewritten in place, then wiped.

    Every step is shown once, in the report printed at the end; while apply runs, the user
    only needs to see that it moves. Writing each step as it happens *and* in the report
    showed everything twice on a terminal. The count is of what the plan's summary counts
    (`render.summary.progress_total`: its changes, and each default a create or replace
    takes), so `Plan: 1 to create, 0 to replace, 0 to delete, 1 default to change.` runs to
    `2/2`; each such item is one line of the report. A mint, a wait for propagation, a key
    test, a revoke are steps besides them and move nothing, so it never passes the total."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self.width = 0  # of the line on screen, to wipe it

    def __call__(self, step: Step) -> None:
        if not counts_as_item(step):
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


# -- without a terminal (CI logs) ------------------------------------------------------------
# A log cannot rewrite a line; a line per call would flood it. Instead one line every
# interval, from a timer, so a long rate-limit wait or a held call still shows the run is
# alive; a run shorter than the interval (and the test suite) prints none.
_LOG_INTERVAL_S = 10.0
_log_lock = threading.Lock()
_last_log_at = float("-inf")  # when any log line was printed: never two within the interval


@functools.cache
def log_interval_s() -> float:
    """MXSYNC_PROGRESS_INTERVAL_S (read once; for tests and impatient logs), else 10 s."""
    raw = os.environ.get("MXSYNC_PROGRESS_INTERVAL_S", "")
    try:
        value = float(raw)
    except ValueError:
        return _LOG_INTERVAL_S
    return value if math.isfinite(value) and value > 0 else _LOG_INTERVAL_S


class LogHeartbeat:
    """Every interval, `mxsync: <text>` on a line of its own, while `text()` has one."""

    def __init__(self, text: Callable[[], str | None], stream: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.text, self.stream, self.clock = text, stream or sys.stderr, clock
        self.interval = log_interval_s()
        self.started = clock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mxsync-progress", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        global _last_log_at
        since = self.started
        while True:
            with _log_lock:
                due = max(since, _last_log_at) + self.interval
            if self._stop.wait(max(0.0, due - self.clock())):
                return
            with _log_lock:
                if self.clock() - max(since, _last_log_at) < self.interval:
                    continue  # another heartbeat spoke meanwhile
                text = self.text()
                if text is None:
                    since = self.clock()  # nothing to say: ask again an interval later
                    continue
                from mxsync.render.safe import printable

                try:
                    self.stream.write(f"mxsync: {printable(text)}\n")
                    self.stream.flush()
                except (OSError, ValueError):  # the stream is gone: stop speaking
                    return
                _last_log_at = self.clock()

    def close(self) -> None:
        """Stop; a line being written is finished first, so none follows what is said next."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=1.0)


def _calls_now(progress: CallProgress, recorded_at: float, now: float) -> str:
    """`calls_text`, with a rate-limit wait counted down to now (a wait that is over is not
    said: the calls it held are on their way)."""
    if progress.waiting_s > 0:
        left = progress.waiting_s - (now - recorded_at)
        progress = dataclasses.replace(progress, waiting_s=max(0.5, left) if left > 0 else 0.0)
    return calls_text(progress)


class ReadingLog:
    """Reading progress for a log: `reading the live state: 40/120 orgs; 52 calls done, 29
    left, about 1 min 10 s to go at the rate limit` (then `checking: ...` while announced calls
    remain), every interval; a rate-limit wait is said as what is left of it then."""

    def __init__(self, stream: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic, heartbeat: bool = True) -> None:
        self.orgs: tuple[int, int] | None = None
        self.last: CallProgress | None = None
        self.last_at = 0.0
        self.clock = clock
        self.heartbeat = LogHeartbeat(self.text, stream) if heartbeat else None

    def __call__(self, done: int, total: int) -> None:
        self.orgs = (done, total)

    def calls(self, progress: CallProgress) -> None:
        self.last, self.last_at = progress, self.clock()

    def text(self) -> str | None:
        now = self.clock()
        reading = self.orgs is None or self.orgs[0] < self.orgs[1]
        if reading:
            parts = [f"{self.orgs[0]}/{self.orgs[1]} orgs"] if self.orgs else []
            if self.last is not None and self.last.done:
                parts.append(_calls_now(self.last, self.last_at, now))
            return "reading the live state" + (": " + "; ".join(parts) if parts else "")
        if self.last is not None and self.last.expected and self.last.done < self.last.expected:
            return "checking: " + _calls_now(self.last, self.last_at, now)
        return None

    def close(self) -> None:
        if self.heartbeat is not None:
            self.heartbeat.close()


class ApplyLog:
    """Apply's progress for a log: `applying: 3/7 changes done`, every interval."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total, self.done = total, 0
        self.heartbeat = LogHeartbeat(self.text, stream)

    def __call__(self, step: Step) -> None:
        if counts_as_item(step):
            self.done = min(self.done + 1, self.total)

    def text(self) -> str:
        return f"applying: {self.done}/{self.total} changes done"

    def close(self) -> None:
        self.heartbeat.close()
