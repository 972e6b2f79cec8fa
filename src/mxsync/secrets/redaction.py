"""Redaction by construction: every secret of the run, and anything shaped like one.

Patterns alone cannot catch a token of an unknown shape, so every value that
becomes a `Secret` is also registered here, process-wide, and `redact` removes
registered values wherever they appear, whatever they look like.

Fragments count as well. A text cut short (a body clipped at 200 characters, a
terminal line) can keep the first part of a key, so a *prefix* of a registered
secret is removed too, anywhere in the text, once it carries at least
`MIN_FRAGMENT` characters beyond the secret's public prefix (`xai-`, `mx_live_`,
`mx_test_`: every key and token starts with one of them, so they say nothing).
An xAI key therefore survives as at most `xai-` plus 7 of its 80 characters; a
service mask such as `xai-ab12...wxyz` stays readable. Values shorter than
`MIN_SECRET_LENGTH` are not registered: no real key or token is that short
(`read_token` refuses one), and removing every occurrence of a 3-character
string would make output unreadable. Nor is a value that is part of the
`(sensitive)` marker itself, which could never be removed.

Speed: a scan first finds where any secret could start with one small regex of
the distinct two-character heads of all registered secrets (it changes only when
a new head appears, so registering thousands of keys does not recompile
anything big), then checks each such position against a dict keyed by the
secrets' anchors (the shortest text that counts as a fragment). Measured with
`python -m benchmarks.redaction` (one shared core): with 5,000 or 20,000
registered keys, redacting a 2 KB error text takes about 0.1 ms and a 1 MB
report about 50 ms, the same as with 100 keys; registering 5,000 keys takes 40 ms.

Redaction must run before truncation: `clip` does both in the right order.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

SENSITIVE = "(sensitive)"

#: No registered value is shorter; fragments carry at least this many characters
#: of a secret beyond its public prefix.
MIN_SECRET_LENGTH = 8
MIN_FRAGMENT = 8

#: Prefixes every key or token of that kind starts with, so they carry nothing.
PUBLIC_PREFIXES = ("mx_live_", "mx_test_", "xai-")

# What a secret looks like *anywhere* in free text. Used by redaction and by the
# manifest check that forbids inline secrets. The xAI class matches the
# service's own key alphabet; a ModuleX token is `mx_live_` + anything tokenish;
# a session JWT is three base64url parts whose first two start with `eyJ` (`{"`).
_SECRET_IN_TEXT_RE = re.compile(
    r"xai-[A-Za-z0-9\-_]{20,}"
    r"|mx_(?:live|test)_[A-Za-z0-9\-_]+"
    r"|eyJ[A-Za-z0-9\-_]{5,}\.eyJ[A-Za-z0-9\-_]{5,}\.[A-Za-z0-9\-_]*"
)


def looks_like_secret(text: str) -> bool:
    return bool(_SECRET_IN_TEXT_RE.search(text))


def _public_prefix_length(value: str) -> int:
    for prefix in PUBLIC_PREFIXES:
        if value.startswith(prefix):
            return len(prefix)
    return 0


# Any run of WINDOW + STRIDE - 1 characters taken from anywhere inside a secret holds a
# window that starts at a multiple of STRIDE, so it is found (prefixes: see MIN_FRAGMENT).
WINDOW = 12
STRIDE = 4


class SecretRegistry:
    """The secret values of this process, indexed for a fast scan.

    `anchor` of a value: its first `public prefix + MIN_FRAGMENT` characters (or
    the whole value when shorter) -- the shortest text that must be removed.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._by_anchor: dict[str, list[str]] = {}
        self._anchor_lengths: list[int] = []
        self._heads: set[str] = set()
        self._head_re: re.Pattern[str] | None = None
        self._longest = 0
        # Windows of every value at every STRIDE-th offset: a fragment from inside a value
        # (a server that masks the start and echoes the rest) contains one of them.
        self._windows: dict[str, list[tuple[str, int]]] = {}

    def __len__(self) -> int:
        return len(self._values)

    @property
    def longest(self) -> int:
        return self._longest

    def add(self, value: str) -> None:
        for variant in _variants(value):
            if len(variant) < MIN_SECRET_LENGTH or variant in SENSITIVE or variant in self._values:
                continue
            with self._lock:
                self._values.add(variant)
                anchor = variant[: _public_prefix_length(variant) + MIN_FRAGMENT]
                self._by_anchor.setdefault(anchor, []).append(variant)
                if len(anchor) not in self._anchor_lengths:
                    self._anchor_lengths = sorted({*self._anchor_lengths, len(anchor)})
                for offset in range(0, len(variant) - WINDOW + 1, STRIDE):
                    self._windows.setdefault(variant[offset:offset + WINDOW], []).append(
                        (variant, offset))
                head = anchor[:2]
                if head not in self._heads:
                    self._heads.add(head)
                    self._head_re = None
                self._longest = max(self._longest, len(variant))

    def spans(self, text: str) -> list[tuple[int, int]]:
        """(start, end) of every registered secret or long prefix of one in `text`."""
        found: list[tuple[int, int]] = []
        if not self._values:
            return found
        with self._lock:
            head_re = self._head_re
            if head_re is None:
                alternation = "|".join(re.escape(h) for h in sorted(self._heads))
                head_re = self._head_re = re.compile(f"(?=(?:{alternation}))")
            by_anchor, lengths = self._by_anchor, self._anchor_lengths
            for match in head_re.finditer(text):
                start = match.start()
                end = start
                for length in lengths:
                    for value in by_anchor.get(text[start:start + length], ()):
                        end = max(end, start + _common_prefix(text, start, value))
                if end > start:
                    found.append((start, end))
            windows = self._windows
            if windows:
                for i in range(len(text) - WINDOW + 1):
                    for value, offset in windows.get(text[i:i + WINDOW], ()):
                        before = 0
                        while (before < offset and i - before > 0
                               and text[i - before - 1] == value[offset - before - 1]):
                            before += 1
                        after = WINDOW
                        while (offset + after < len(value) and i + after < len(text)
                               and text[i + after] == value[offset + after]):
                            after += 1
                        found.append((i - before, i + after))
        return found


def _common_prefix(text: str, start: int, value: str) -> int:
    """How many leading characters of `value` appear in `text` at `start`."""
    window = text[start:start + len(value)]
    if value.startswith(window):
        return len(window)
    low, high = 0, len(window)  # value[:low] matches, value[:high] does not
    while high - low > 1:
        middle = (low + high) // 2
        if value.startswith(window[:middle]):
            low = middle
        else:
            high = middle
    return low


def _variants(value: str) -> tuple[str, ...]:
    """The value, and how it reads inside JSON (a `"` or `\\` is escaped there)."""
    escaped = json.dumps(value, ensure_ascii=False)[1:-1]
    return (value,) if escaped == value else (value, escaped)


_registry = SecretRegistry()


def register(value: str) -> None:
    """Make `redact` remove `value` (and long prefixes of it) from every text from now on.

    `Secret` calls this for every value it holds; call it directly only for a secret
    that is never wrapped in a `Secret` (e.g. one that arrives in a server answer).
    """
    _registry.add(value)


def registered_count() -> int:
    return len(_registry)


@contextmanager
def isolated_registry() -> Iterator[SecretRegistry]:
    """A fresh, empty registry for the duration (tests and benchmarks), then the old one."""
    global _registry
    saved, _registry = _registry, SecretRegistry()
    try:
        yield _registry
    finally:
        _registry = saved


def _merge(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def redact(text: str, extra: tuple[str, ...] = ()) -> str:
    """Replace every registered secret, long prefix of one, and secret-shaped word.

    `extra` values are registered first (they are secrets of the run too).
    Overlapping finds are merged, so no part of one survives next to another.
    """
    for value in extra:
        if value:
            register(value)
    found = _registry.spans(text)
    found.extend(m.span() for m in _SECRET_IN_TEXT_RE.finditer(text))
    if not found:
        return text
    pieces: list[str] = []
    last = 0
    for start, end in _merge(found):
        pieces.append(text[last:start])
        pieces.append(SENSITIVE)
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


def clip(text: str, limit: int, ellipsis: str = "...") -> str:
    """Redact, then cut to at most `limit` characters (plus `ellipsis` when cut).

    Only the first `limit` characters plus the longest registered secret are
    scanned, so a huge body costs no more than a short one; a secret straddling
    the cut is still seen whole. A cut never splits the `(sensitive)` marker.
    """
    margin = max(_registry.longest, 256)
    redacted = redact(text[: limit + margin])
    if len(redacted) <= limit and len(text) <= limit + margin:
        return redacted
    cut = redacted[:limit]
    marker = redacted.rfind(SENSITIVE, 0, limit + len(SENSITIVE) - 1)
    if marker != -1 and marker < limit < marker + len(SENSITIVE):
        cut = redacted[:marker] + SENSITIVE
    return cut + ellipsis


class RedactingFormatter(logging.Formatter):
    """Wraps a formatter so that every line it makes -- message, arguments, traceback --
    is redacted; the debug log of a run can then be shared as it is."""

    def __init__(self, inner: logging.Formatter | None = None) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        return redact(self.inner.format(record))

    def formatException(self, ei: Any) -> str:
        return redact(self.inner.formatException(ei))


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Redact everything the handlers of `logger` (default: the root logger) write."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not isinstance(handler.formatter, RedactingFormatter):
            handler.setFormatter(RedactingFormatter(handler.formatter))
