"""What a `Retry-After` header is worth: seconds to wait, or None when it says nothing usable.

HTTP allows delta-seconds or an HTTP date. A hostile server sends anything: `0`, `-30`,
`nan`, `inf`, a date long past, a date whose zone offset overflows the calendar, or
garbage. All of those that are not a wait read as None (the retry decision then backs
off on its own schedule); a date in the past reads as 0. Either way `retry.decide` puts
every rate-limit wait between its floor and its cap, so no answer can make the loop spin
or sleep for ever.
"""

from __future__ import annotations

import math
from email.utils import parsedate_to_datetime

_MAX_CHARS = 64  # a real header is about 30 characters; more is not worth parsing


def parse_retry_after(value: str | None, now_unix: float) -> float | None:
    """Seconds to wait from a Retry-After value (`now_unix` is the wall clock, for dates)."""
    if value is None:
        return None
    text = value.strip()[:_MAX_CHARS]
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = parsedate_to_datetime(text)
        if when is None or when.tzinfo is None:
            return None
        wait = when.timestamp() - now_unix
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return max(0.0, wait) if math.isfinite(wait) else None
