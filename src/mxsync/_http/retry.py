"""Whether to send a call again, as a pure decision of what happened and what was asked.

The sending loop in `core.py` only carries out what `decide` says, so every case
(status class x method x replay safety x attempt) is one row of a table test.

The rules follow HTTP semantics and the official SDK: a call that may have taken
effect is replayed only when replaying it is harmless (reads, PUT, DELETE, and POSTs
the caller marks safe). `POST /credentials` is never replayed blindly: its lost answer
becomes "outcome unknown", which the executor resolves by re-listing. A 429 proves the
call was not carried out, so any call waits it out; while the server says when to come
back (`Retry-After`) the wait is not counted as a failure, but every rate-limit wait lasts
at least `min_rate_limit_wait_s` (a "come back in 0 s" must still cost time), no single
wait may pass `max_retry_after_s` and the waits of one call may not add up past
`max_wait_s`, so a hostile server can neither spin a run nor hold it forever.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


class Failure(enum.Enum):
    """A call that got no answer, by whether the request may have reached the server."""

    NOT_SENT = "not sent"  # connection refused, DNS, TLS, connect time-out: nothing left
    LOST = "lost"  # time-out or reset after sending: it may have been carried out


class Verdict(enum.Enum):
    RETURN = "return"
    RETRY = "retry"
    FAIL = "fail"


class Raise(enum.Enum):
    """Which error the loop raises on FAIL."""

    API_ERROR = "api-error"  # the service's answer, as an ApiError
    REDIRECT = "redirect"  # never followed: the token would go with it
    OUTCOME_UNKNOWN = "outcome-unknown"  # a non-replayable call may have happened
    UNREACHABLE = "unreachable"  # no answer, retries spent
    WAIT_TOO_LONG = "wait-too-long"  # the server asks for more waiting than allowed


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds of the retry loop; every one of them holds whatever a server answers."""

    attempts: int = 6  # counted failures (5xx, no answer, 429 without Retry-After)
    base_s: float = 0.2
    cap_s: float = 5.0
    max_retry_after_s: float = 120.0  # longest single wait a server may ask for
    max_wait_s: float = 600.0  # all waits of one call together
    connect_attempts: int = 2  # a refused connection is not worth many tries
    # A server that says "come back in 0 s" forever must still cost time, not spin.
    min_rate_limit_wait_s: float = 0.5

    def backoff(self, failures: int, jitter: float = 1.0) -> float:
        """Capped exponential backoff; `jitter` in [0.5, 1] spreads concurrent retries."""
        return min(self.cap_s, self.base_s * (2 ** min(failures, 30))) * jitter


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    delay_s: float = 0.0
    error: Raise | None = None
    counted: bool = False  # whether this outcome uses up one of `attempts`
    why: str = ""


def is_replay_safe(method: str, replay_safe: bool | None) -> bool:
    """The caller's word if given, else HTTP's: POST and PATCH may not be replayed."""
    return replay_safe if replay_safe is not None else method.upper() in IDEMPOTENT_METHODS


def decide(
    *,
    method: str,
    replay_safe: bool | None,
    status: int | None,
    failure: Failure | None = None,
    failures: int = 0,
    waited_s: float = 0.0,
    retry_after_s: float | None = None,
    policy: RetryPolicy = RetryPolicy(),
    jitter: float = 1.0,
) -> Decision:
    """What to do after one attempt.

    `status` is the answer's status, or None with `failure` saying how the call got none;
    `failures` counts the counted failures before this one; `waited_s` is what this call
    has already waited for retries.
    """
    safe = is_replay_safe(method, replay_safe)
    if retry_after_s is not None and not (math.isfinite(retry_after_s) and retry_after_s >= 0):
        retry_after_s = None  # nan, infinity or negative: no usable word from the server
    if status is not None:
        if 200 <= status < 300:
            return Decision(Verdict.RETURN)
        if 300 <= status < 400:
            return Decision(Verdict.FAIL, error=Raise.REDIRECT, why=f"HTTP {status} redirect")
        if status not in RETRY_STATUSES:
            return Decision(Verdict.FAIL, error=Raise.API_ERROR, why=f"HTTP {status}")
        if status == 429:
            if retry_after_s is not None:
                return _wait(max(retry_after_s, policy.min_rate_limit_wait_s), waited_s, policy,
                             counted=False, why="HTTP 429 with Retry-After", exhausted=Raise.API_ERROR)
            return _backoff(failures, waited_s, policy, jitter, policy.min_rate_limit_wait_s,
                            why="HTTP 429", exhausted=Raise.API_ERROR)
        if not safe:
            return Decision(Verdict.FAIL, error=Raise.OUTCOME_UNKNOWN,
                            why=f"HTTP {status} to a call that may not be replayed")
        return _backoff(failures, waited_s, policy, jitter, retry_after_s,
                        why=f"HTTP {status}", exhausted=Raise.API_ERROR)
    if failure is Failure.NOT_SENT:
        if failures + 1 >= min(policy.connect_attempts, policy.attempts):
            return Decision(Verdict.FAIL, error=Raise.UNREACHABLE, counted=True,
                            why="no connection")
        return _backoff(failures, waited_s, policy, jitter, None, why="no connection",
                        exhausted=Raise.UNREACHABLE)
    if not safe:
        return Decision(Verdict.FAIL, error=Raise.OUTCOME_UNKNOWN,
                        why="no answer to a call that may not be replayed")
    return _backoff(failures, waited_s, policy, jitter, None, why="no answer",
                    exhausted=Raise.UNREACHABLE)


def _backoff(failures: int, waited_s: float, policy: RetryPolicy, jitter: float,
             retry_after_s: float | None, *, why: str, exhausted: Raise) -> Decision:
    if failures + 1 >= policy.attempts:
        return Decision(Verdict.FAIL, error=exhausted, counted=True,
                        why=f"{why}; gave up after {failures + 1} tries")
    delay = max(policy.backoff(failures, jitter), retry_after_s or 0.0)
    return _wait(delay, waited_s, policy, counted=True, why=why, exhausted=exhausted)


def _seconds(value: float) -> str:
    return f"{value:.0f}" if value >= 10 else f"{value:.2g}"


def _wait(delay: float, waited_s: float, policy: RetryPolicy, *, counted: bool, why: str,
          exhausted: Raise) -> Decision:
    if delay > policy.max_retry_after_s:
        return Decision(Verdict.FAIL, error=Raise.WAIT_TOO_LONG, counted=counted,
                        why=f"{why}: asked to wait {_seconds(delay)} s, more than the "
                            f"{_seconds(policy.max_retry_after_s)} s allowed for one wait")
    if waited_s + delay > policy.max_wait_s:
        return Decision(Verdict.FAIL, error=exhausted if counted else Raise.WAIT_TOO_LONG,
                        counted=counted,
                        why=f"{why}: waiting {_seconds(delay)} s more would pass the "
                            f"{_seconds(policy.max_wait_s)} s allowed for the retries of one call")
    return Decision(Verdict.RETRY, delay_s=delay, counted=counted, why=why)
