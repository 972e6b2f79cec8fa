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

Echoes count too. A server may hand a secret back in another form, so each value
is registered in every form it may come back in (`_variants`): as is, JSON-escaped,
URL-encoded (loosely, strictly, every byte) and base64 (at each of the three byte
alignments it may have inside a longer blob); and the scan is blind to ASCII case
and to which base64 alphabet is used (`fold`), so an upper-cased echo is caught.
Any run of GRAM + STRIDE - 1 characters from inside any form is caught as well.

Speed: each form is indexed once, when registered, by its GRAM-character pieces
at every STRIDE-th offset. A scan looks only at runs of the characters that
registered forms contain (one compiled character-class regex), takes every
GRAM-long piece of each run into a set and intersects it with the index (in C);
only a run with a hit is walked piece by piece. Measured with
`python -m benchmarks.redaction` on a busy two-core machine: with 100 to 20,000
registered keys, a 2 KB error text takes 0.15 to 0.5 ms, a 1 MB report 70 to
110 ms (the former head-and-window scan took 340 ms) and registering costs about
0.15 ms per key.

Redaction must run before truncation: `clip` does both in the right order.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import string
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
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


#: Every `GRAM` characters of a variant, at every `STRIDE`-th offset (from the end of its
#: public prefix), index it: any run of GRAM + STRIDE - 1 characters taken from anywhere
#: inside a secret holds one whole indexed gram, so it is found -- a server that masks the
#: start of a key and echoes the rest gives itself away. A find from inside a variant
#: counts from MIN_INTERIOR characters; one that starts where the variant starts (after
#: its public prefix) from MIN_FRAGMENT (see the module text).
GRAM = MIN_FRAGMENT
STRIDE = 8
MIN_INTERIOR = 12

# Only ASCII letters are folded, so a folded text keeps its length and every offset; the
# standard base64 alphabet's `+` and `/` read as the URL-safe one's `-` and `_`.
_FOLD = str.maketrans(string.ascii_uppercase + "+/", string.ascii_lowercase + "-_")


def fold(text: str) -> str:
    """`text` as the scan reads it: case-blind, and blind to which base64 alphabet is used
    (length kept, so an offset in it is one in `text`)."""
    if text.isascii():
        return text.lower().replace("+", "-").replace("/", "_")
    return text.translate(_FOLD)


class SecretRegistry:
    """The secret values of this process, indexed once for a fast scan of any text.

    Each registered value is stored in every form a server or a serialiser may echo it in
    (`_variants`: as is, JSON-escaped, URL-encoded, base64 at each byte alignment), case
    folded. A scan of a text looks only at runs of characters that some variant contains,
    takes every GRAM-long piece of those runs, and checks the pieces against one dict
    (`_grams`): a set intersection that runs in C, so a text with no secret costs one
    pass, whatever the number of secrets. Only runs with a hit are walked piece by piece.
    """

    def __init__(self) -> None:
        # Re-entrant: a scan can be re-entered on its own thread, when the garbage collector
        # runs a finalizer mid-scan that logs (an HTTP client closed in `__del__` logs at
        # debug level, and the log line is redacted). A plain Lock deadlocked there.
        self._lock = threading.RLock()
        self._seen: set[str] = set()  # the values as registered
        self._values: set[str] = set()  # every variant of them, folded
        # gram -> (variant, offset in variant, public prefix length of variant)
        self._grams: dict[str, list[tuple[str, int, int]]] = {}
        self._alphabet: set[str] = set()
        self._run_re: re.Pattern[str] | None = None
        self._longest = 0

    def __len__(self) -> int:
        return len(self._seen)

    @property
    def longest(self) -> int:
        return self._longest

    def add(self, value: str) -> None:
        if value in self._seen or value in SENSITIVE:
            return
        variants = _variants(value)
        with self._lock:
            self._seen.add(value)
            for variant, public in variants:
                if len(variant) < MIN_SECRET_LENGTH or variant in self._values:
                    continue
                self._values.add(variant)
                last = len(variant) - GRAM
                first = min(public, last)
                for offset in {*range(first, last + 1, STRIDE), last}:
                    self._grams.setdefault(variant[offset:offset + GRAM], []).append(
                        (variant, offset, public))
                new = set(variant) - self._alphabet
                if new:
                    self._alphabet |= new
                    self._run_re = None
                self._longest = max(self._longest, len(variant))

    def _runs(self) -> re.Pattern[str]:
        run_re = self._run_re
        if run_re is None:
            chars = "".join(sorted(self._alphabet))
            run_re = self._run_re = re.compile(
                "[" + "".join(_class_char(c) for c in chars) + f"]{{{MIN_SECRET_LENGTH},}}")
        return run_re

    def spans(self, text: str) -> list[tuple[int, int]]:
        """(start, end) of every registered secret, or long piece of one, in `text`."""
        found: list[tuple[int, int]] = []
        if not self._values:
            return found
        folded = fold(text)
        with self._lock:
            grams = self._grams
            for run in self._runs().finditer(folded):
                chunk = run.group()
                pieces = {chunk[i:i + GRAM] for i in range(len(chunk) - GRAM + 1)}
                if grams.keys().isdisjoint(pieces):  # iterates the smaller side
                    continue
                base = run.start()
                for i in range(len(chunk) - GRAM + 1):
                    for variant, offset, public in grams.get(chunk[i:i + GRAM], ()):
                        start, end = _extend(chunk, i, variant, offset)
                        reaches_start = start == i - offset
                        if end - start >= MIN_INTERIOR or end - start == len(variant) or (
                                reaches_start and end - start >= public + MIN_FRAGMENT):
                            found.append((base + start, base + end))
        return found


def _class_char(char: str) -> str:
    """`char` as a member of a regex character class."""
    return "\\" + char if char in "\\]^-[" else char


def _extend(text: str, at: int, variant: str, offset: int) -> tuple[int, int]:
    """The longest run around `text[at:at+GRAM] == variant[offset:offset+GRAM]` where the
    two agree, as (start, end) in `text`."""
    before = 0
    while (before < offset and at - before > 0
           and text[at - before - 1] == variant[offset - before - 1]):
        before += 1
    after = GRAM
    while (offset + after < len(variant) and at + after < len(text)
           and text[at + after] == variant[offset + after]):
        after += 1
    return at - before, at + after


def _b64_variants(raw: bytes) -> set[str]:
    """The base64 text that `raw` becomes inside any base64 blob: for each of the three
    byte alignments, only the characters that `raw` alone decides (`fold` makes the
    URL-safe alphabet match too)."""
    out: set[str] = set()
    for pad in range(3):
        encoded = base64.b64encode(b"\0" * pad + raw).decode("ascii").rstrip("=")
        first = -(-pad * 8 // 6)  # characters that also hold bits of what came before
        last = (pad + len(raw)) * 8 // 6  # characters made of whole bits of `raw`
        out.add(encoded[first:last])
    out.add(base64.b64encode(raw).decode("ascii"))  # alone, to its last `=`
    return out


# What `quote` leaves as it is but a stricter URL encoder does not.
_UNRESERVED = str.maketrans({"-": "%2D", ".": "%2E", "_": "%5F", "~": "%7E"})

_ENCODINGS: tuple[Callable[[str], str], ...] = (
    lambda v: json.dumps(v, ensure_ascii=False)[1:-1],
    lambda v: json.dumps(v)[1:-1],
    lambda v: urllib.parse.quote(v, safe=""),
    lambda v: urllib.parse.quote_plus(v, safe=""),
    lambda v: urllib.parse.quote(v, safe="").translate(_UNRESERVED),
    lambda v: "%" + v.encode("utf-8", "surrogatepass").hex("%") if v else v,  # every byte
)


def _variants(value: str) -> list[tuple[str, int]]:
    """Every form `value` may be echoed in, case folded, each with the length of its public
    prefix: as is, as JSON writes it (a `"` or `\\` escaped), URL-encoded (loosely,
    strictly, or every byte), and base64 at each of the three byte alignments inside a longer blob."""
    prefix = value[:_public_prefix_length(value)]
    forms: dict[str, int] = {value: len(prefix)}
    for encode in _ENCODINGS:
        forms.setdefault(encode(value), len(encode(prefix)))
    for encoded in sorted(_b64_variants(value.encode("utf-8", "surrogatepass"))):
        forms.setdefault(encoded, 0)
    folded: dict[str, int] = {}
    for form, length in forms.items():
        folded.setdefault(fold(form), length)
    return list(folded.items())


_registry = SecretRegistry()


def register(value: str) -> None:
    """Make `redact` remove `value` (and long prefixes of it) from every text from now on.

    `Secret` calls this for every value it holds; call it directly only for a secret
    that is never wrapped in a `Secret` (e.g. one that arrives in a server answer).
    """
    _registry.add(value)


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


def _all(text: str, part: str) -> Iterator[int]:
    at = text.find(part)
    while at != -1:
        yield at
        at = text.find(part, at + 1)


def redact(text: str, extra: tuple[str, ...] = ()) -> str:
    """Replace every registered secret, long prefix of one, and secret-shaped word.

    `extra` values are registered first (they are secrets of the run too).
    Overlapping finds are merged, so no part of one survives next to another.
    """
    for value in extra:
        if value:
            register(value)
    found = _registry.spans(text)
    if found and SENSITIVE in text:  # text redacted before: a marker is not a secret
        markers = [(at, at + len(SENSITIVE)) for at in _all(text, SENSITIVE)]
        found = [(s, e) for s, e in found if not any(a <= s and e <= b for a, b in markers)]
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
