"""Text from the service, made safe to print: what it shows is what it contains.

Display names, org names, label values and error details come from the API, and an API
(or whoever can name a credential there) can put anything in them: ESC sequences that
recolour, move the cursor, retitle the window or hide the text before them; a carriage
return that overwrites a line; bidirectional overrides that reorder what is read. Every
text and Markdown renderer passes such text through `printable`, which shows each of
those characters as a visible escape (`\\x1b`, `\\u202e`) instead of obeying it. XML 1.0
cannot carry most control characters even escaped, so JUnit goes through `xml_text`.
"""

from __future__ import annotations

import unicodedata

# Bidirectional controls (Trojan Source): invisible, yet they reorder what is displayed.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _shown(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char, f"\\x{code:02x}")
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _unsafe(char: str, keep_newlines: bool) -> bool:
    if char == "\n" and keep_newlines:
        return False
    category = unicodedata.category(char)
    # Cc: C0/C1 controls and DEL; Zl/Zp: line and paragraph separators (they break lines
    # in some terminals and editors); Cs: lone surrogates cannot even be encoded.
    return category in ("Cc", "Zl", "Zp", "Cs") or char in _BIDI


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """`text` with every control, escape and bidi character shown as `\\x..`/`\\u....`.

    `keep_newlines` for multi-line blocks that mxsync itself lays out (an error and its
    hint); single values (a name, a label) never keep one, since a newline in a name would
    let it forge a line of output."""
    if text.isprintable() and not any(c in _BIDI for c in text):
        return text
    return "".join(_shown(c) if _unsafe(c, keep_newlines) else c for c in text)


def _xml_allowed(char: str) -> bool:
    code = ord(char)
    return (code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD
            or 0x10000 <= code <= 0x10FFFF)


def xml_text(text: str) -> str:
    """`printable` text that XML 1.0 can also carry (ElementTree escapes <, & and quotes;
    this removes what no escape can make legal, such as U+FFFE)."""
    shown = printable(text, keep_newlines=True)
    return "".join(c if _xml_allowed(c) else _shown(c) for c in shown)
