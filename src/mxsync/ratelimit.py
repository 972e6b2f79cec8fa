"""Pacing the calls of one ModuleX token by what the service says about its limit.

ModuleX limits each token (60 calls a minute by default) and says so on every answer:
`X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` (Unix seconds, or a
small number meaning seconds from now) and, on a 429, `Retry-After` (read by
`mxsync._http.retry_after`). One `TokenLimiter` per token is shared by every call in
flight with that token, so they stop together when the window is spent instead of each
earning its own 429; tokens of different orgs have their own limiters and run side by
side. The xAI Management API client keeps one for its management key the same way.

The estimate is conservative: an answer's `Remaining` is taken to exclude every other
call still in flight. When the window is spent, calls wait for its reset and then one
call goes first to learn the new state (the "probe"); the first call of a token is such
a probe too, so a token with a tiny limit does not meet a burst of 429s. Server-given
waits are clamped to `max_wait_s`; a server that keeps asking for more is stopped by
the retry bounds in `mxsync._http.retry`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

log = logging.getLogger("mxsync.ratelimit")

# Above this, X-RateLimit-Reset is a Unix time; below, seconds from now.
_EPOCH_THRESHOLD = 1e8
WINDOW_S = 60.0  # the service's limits are per minute
RESET_MARGIN_S = 0.25  # Unix seconds are whole: wake a little after the window really resets
_SAME_RESET_S = 0.5  # resets closer than this (they are whole seconds) are the same window


@dataclass(frozen=True)
class Permit:
    """Leave to send one call: hand it back to `release` when the call is over."""

    waited_s: float
    probe: bool  # this call goes alone to learn the window; the others wait for its answer


@dataclass(frozen=True)
class RateInfo:
    """What one answer said about the token's window."""

    limit: int | None
    remaining: int | None
    reset_in_s: float | None


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


def parse_rate_headers(headers: Mapping[str, str], now_unix: float) -> RateInfo | None:
    """The X-RateLimit-* headers, or None when the answer has none."""
    limit = _number(headers.get("x-ratelimit-limit"))
    remaining = _number(headers.get("x-ratelimit-remaining"))
    reset = _number(headers.get("x-ratelimit-reset"))
    if limit is None and remaining is None and reset is None:
        return None
    reset_in = None if reset is None else max(0.0, reset - now_unix if reset > _EPOCH_THRESHOLD
                                              else reset)
    return RateInfo(limit=None if limit is None else int(limit),
                    remaining=None if remaining is None else int(remaining), reset_in_s=reset_in)


class TokenLimiter:
    """The shared pace of one token. `label` names it in logs (never the token)."""

    def __init__(self, label: str, *, max_wait_s: float = 120.0,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        self.label = label
        self.max_wait_s = max_wait_s
        self._clock = clock
        self._wall = wall
        self.limit: int | None = None
        self._remaining: int | None = None  # None: no limit known
        self._reset_at: float | None = None
        self._blocked_until = 0.0
        self._block_reason = ""
        self._probe_pending = True  # the first call learns the limit alone
        self._probing = False
        self._in_flight = 0
        self._changed = asyncio.Event()
        self.waited_s = 0.0
        self.done = 0
        self.on_wait: Callable[[float], None] | None = None  # told when a timed wait starts

    # -- before a call ----------------------------------------------------------
    async def acquire(self) -> Permit:
        """Wait until this token may send one more call."""
        waited = 0.0
        while True:
            now = self._clock()
            delay, why = self._delay(now)
            probe = False
            if delay is None:  # may go now
                if self._probe_pending and not self._probing:
                    self._probing = probe = True
                elif self._probing:
                    delay, why = -1.0, "waiting for the first answer of this token's window"
            if delay is None:
                if self._remaining is not None:
                    self._remaining -= 1
                self._in_flight += 1
                return Permit(waited, probe)
            if delay < 0:  # wait for an answer, not for a time
                self._changed.clear()
                await self._changed.wait()
                continue
            delay = min(delay, self.max_wait_s)
            log.debug("%s: waiting %.1f s (%s)", self.label, delay, why)
            if self.on_wait is not None:
                self.on_wait(delay)
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=delay)
            spent = self._clock() - now
            waited += spent
            self.waited_s += spent

    def _delay(self, now: float) -> tuple[float | None, str]:
        if self._blocked_until > now:
            return self._blocked_until - now, self._block_reason
        if self._remaining is not None and self._remaining <= 0:
            if self._reset_at is not None and self._reset_at > now:
                return (self._reset_at - now,
                        f"its limit of {self.limit or '?'} calls a minute is spent until the "
                        "window resets")
            # The reset has passed (or was never said): one call goes to learn the new state.
            self._remaining = None
            self._reset_at = None
            self._probe_pending = True
        return None, ""

    # -- after a call -------------------------------------------------------------
    def observe(self, headers: Mapping[str, str]) -> None:
        """Learn from an answer's X-RateLimit-* headers (any status)."""
        info = parse_rate_headers(headers, self._wall())
        if info is None:
            return
        now = self._clock()
        if info.limit is not None:
            self.limit = info.limit
        reset_at = None
        if info.reset_in_s is not None:
            reset_in = min(info.reset_in_s, self.max_wait_s)
            reset_at = now + reset_in + (RESET_MARGIN_S if info.reset_in_s > 0 else 0.0)
        if info.remaining is not None:
            # Calls still in flight may not be counted in this answer yet.
            estimate = info.remaining - max(0, self._in_flight - 1)
            # Answers can arrive out of order: one overtaken by a later answer counts fewer
            # calls than were made. Within one window (the same reset) the estimate may
            # only fall; only a later reset says that slots were freed.
            same_window = (self._remaining is not None and self._reset_at is not None
                           and (reset_at is None or reset_at < self._reset_at + _SAME_RESET_S))
            self._remaining = min(self._remaining, estimate) if same_window and \
                self._remaining is not None else estimate
        if reset_at is not None:
            self._reset_at = reset_at if self._reset_at is None else max(self._reset_at, reset_at)
        self._changed.set()

    def block_for(self, seconds: float, why: str) -> None:
        """A 429 said when to come back: every call of this token waits until then."""
        until = self._clock() + min(seconds, self.max_wait_s)
        if until > self._blocked_until:
            self._blocked_until = until
            self._block_reason = why
            self._remaining = 0 if self._remaining is None else min(self._remaining, 0)
            self._reset_at = until
        self._changed.set()

    def release(self, permit: Permit, answered: bool) -> None:
        """A call of this token is over (with or without an answer)."""
        self._in_flight -= 1
        self.done += 1
        if permit.probe:
            self._probing = False
            self._probe_pending = False
            if not answered:
                self._probe_pending = True  # learn from the next one instead
        self._changed.set()

    # -- for progress ---------------------------------------------------------------
    def paced(self, calls_left: int) -> bool:
        """Whether the limit, not latency, sets this token's pace for what is left."""
        if self.limit is None:
            return False
        return calls_left > max(self._remaining or 0, 0) or self._blocked_until > self._clock()

    def eta_s(self, calls_left: int) -> float | None:
        """Seconds until `calls_left` more calls can have been sent, if the limit sets the pace."""
        if self.limit is None or calls_left <= 0 or not self.paced(calls_left):
            return None
        now = self._clock()
        start = max(self._blocked_until, self._reset_at or now, now) - now
        beyond = calls_left - max(self._remaining or 0, 0)
        return start + max(0, beyond - 1) * WINDOW_S / max(1, self.limit)
