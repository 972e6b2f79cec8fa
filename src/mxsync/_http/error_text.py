"""A server's error answer as one line a user may read: its own words, secrets redacted
before the line is cut short (a cut first could leave a piece no rule recognises)."""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from mxsync import answers
from mxsync.secrets import redact

_MAX_CODE_CHARS = 100


def describe(body: bytes, status: int, hidden: Sequence[str]) -> str:
    """The detail of an error answer (FastAPI's `detail`, xAI's `error`, or the text)."""
    return answers.describe_error(body, httpx.codes.get_reason_phrase(status), hidden)


def error_code(body: bytes, hidden: Sequence[str]) -> str | None:
    """xAI's machine-readable `code`, when the answer has one, redacted and cut short."""
    try:
        parsed = answers.parse_json(body) if body else None
    except answers.ShapeError:
        return None
    code = parsed.get("code") if isinstance(parsed, dict) else None
    if not isinstance(code, str) or not code:
        return None
    return redact(code, tuple(hidden))[:_MAX_CODE_CHARS]
