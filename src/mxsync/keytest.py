"""What a key test says about a key, in the five words a user acts on.

ModuleX answers a key test (`POST /credentials/test-temporary`, or `.../{id}/test` for a
stored key) with 200 and `{is_valid, status_code, message}`, where `status_code` is what
xAI answered. xAI says 400 (sometimes 401) for a wrong key, 403 for a real key that
cannot be used now (disabled or blocked), 429 when the key is over its own rate limit,
and a 5xx or nothing when it is down. A team out of credits is told so in words, with 429
on chat completions (the call ModuleX's test makes) and 403 elsewhere: the words decide,
so that it is refused (retrying cannot help), never "busy". Those need different
actions, so they are different verdicts here; "invalid" is never said of a key that was
merely busy or unreachable. A test endpoint that itself answers with an error status
means the key could not be tested, not that it is bad.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mxsync.secrets import redact

_STATUS_IN_TEXT = re.compile(r"\b(?:HTTP|status(?: code)?)[ :=(]*([1-5]\d\d)\b", re.IGNORECASE)
# ModuleX says status 0 (or "HTTP 0" in a stored test's message) when xAI gave no answer at all.
_NO_ANSWER_IN_TEXT = re.compile(r"\b(?:HTTP|status(?: code)?)[ :=(]*0\b", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_MAX_REASON = 200
# xAI's words for a team without credits: "Your team <id> has either used all available
# credits or reached its monthly spending limit." (seen with 429 and with 403), and
# "personal-team-blocked:spending-limit" / "run out of credits" on 403.
_NO_CREDITS = re.compile(
    r"used all (?:available |of (?:its|your) )?credits|(?:run|ran|out) of credits"
    r"|no credits (?:left|remaining)|insufficient credits|credits? (?:exhausted|depleted)"
    r"|spending[ _-]limit",
    re.IGNORECASE,
)


class Verdict(enum.Enum):
    VALID = "valid"
    REJECTED = "rejected"  # 400/401: the key is wrong, unknown or deleted
    REFUSED = "refused"  # 403, or the no-credits text on any status: real but unusable now
    RATE_LIMITED = "rate-limited"  # 429 without the no-credits text: try later
    UNREACHABLE = "unreachable"  # xAI (or the network) failed: 5xx, no answer
    UNTESTED = "could-not-test"  # ModuleX's test endpoint itself failed


class Refusal(enum.Enum):
    DISABLED = "disabled"  # the key or its team is disabled or blocked
    NO_CREDITS = "no-credits"  # the team used its credits or hit its spending limit


@dataclass(frozen=True)
class KeyTestResult:
    verdict: Verdict
    status_code: int | None  # xAI's answer; ModuleX's own status for UNTESTED
    reason: str  # the service's words, redacted and cut short
    refusal: Refusal | None = None

    @property
    def passed(self) -> bool:
        return self.verdict is Verdict.VALID

    def describe(self) -> str:
        """One sentence for a report: what happened and what it means."""
        code = f" (HTTP {self.status_code})" if self.status_code else ""
        said = f": {self.reason}" if self.reason else ""
        if self.verdict is Verdict.VALID:
            return "the key works"
        if self.verdict is Verdict.REJECTED:
            return f"xAI rejected the key{code}; it is wrong, unknown or deleted{said}"
        if self.verdict is Verdict.REFUSED:
            why = {Refusal.DISABLED: "the key or its team is disabled",
                   Refusal.NO_CREDITS: "its team has no credits left or reached its spending limit",
                   None: "the key is disabled or its team has no credits"}[self.refusal]
            return f"xAI refused the key{code}: {why}{said}"
        if self.verdict is Verdict.RATE_LIMITED:
            return f"could not test now: the key is over its own xAI rate limit{code}{said}"
        if self.verdict is Verdict.UNREACHABLE:
            return f"could not test now: xAI could not be reached{code}{said}"
        return f"could not test: ModuleX's key test failed{code}{said}"


def _reason(text: Any, secrets: Sequence[str]) -> str:
    if not isinstance(text, str):
        return ""
    clean = " ".join(_CONTROL.sub("?", redact(text, tuple(secrets))).split())
    return clean if len(clean) <= _MAX_REASON else clean[: _MAX_REASON - 3] + "..."


def _status(value: Any, message: str) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
        return value
    if isinstance(value, str) and value.isdigit() and 100 <= int(value) <= 599:
        return int(value)
    found = _STATUS_IN_TEXT.search(message)
    return int(found.group(1)) if found else None


def says_no_credits(text: str) -> bool:
    """Whether xAI's text says the team has no credits or reached its spending limit."""
    return _NO_CREDITS.search(text) is not None


def refusal_from_text(text: str) -> Refusal | None:
    """xAI's 403 text says which: credits/spending limit, or disabled/blocked."""
    lower = text.lower()
    if says_no_credits(text):
        return Refusal.NO_CREDITS
    if "disabled" in lower or "blocked" in lower:
        return Refusal.DISABLED
    return None


def classify_answer(answer: Any, secrets: Sequence[str] = ()) -> KeyTestResult:
    """A test result (`is_valid`, `status_code`, `message`) as a verdict."""
    if not isinstance(answer, Mapping):
        return KeyTestResult(Verdict.UNTESTED, None, "the test answer was not an object")
    raw_message = answer.get("message")
    message = raw_message if isinstance(raw_message, str) else ""
    reason = _reason(message, secrets)
    status = _status(answer.get("status_code"), message)
    if answer.get("is_valid") is True and status in (None, 200):
        return KeyTestResult(Verdict.VALID, status, reason)
    if status is None and (answer.get("status_code") == 0 or _NO_ANSWER_IN_TEXT.search(message)):
        return KeyTestResult(Verdict.UNREACHABLE, None, reason or "xAI gave no answer")
    if status in (403, 429) and says_no_credits(message):
        # Read before the status: xAI sends this with 429 on chat completions, and a 429
        # read as "busy" would be tried again and reported as a rate limit.
        return KeyTestResult(Verdict.REFUSED, status, reason, Refusal.NO_CREDITS)
    if status == 403:
        return KeyTestResult(Verdict.REFUSED, status, reason, refusal_from_text(message))
    if status == 429:
        return KeyTestResult(Verdict.RATE_LIMITED, status, reason)
    if status is not None and (status >= 500 or status == 408):
        return KeyTestResult(Verdict.UNREACHABLE, status, reason)
    if answer.get("is_valid") is not False and status in (None, 200):
        return KeyTestResult(Verdict.UNTESTED, status, reason or "the test answer has no is_valid")
    return KeyTestResult(Verdict.REJECTED, status, reason)


def classify_error(status: int, detail: str, secrets: Sequence[str] = ()) -> KeyTestResult:
    """ModuleX's test endpoint answered with an error status: the key could not be tested."""
    return KeyTestResult(Verdict.UNTESTED, status, _reason(detail, secrets))


def classify_unreachable(reason: str, secrets: Sequence[str] = ()) -> KeyTestResult:
    """No answer from ModuleX at all."""
    return KeyTestResult(Verdict.UNREACHABLE, None, _reason(reason, secrets))
