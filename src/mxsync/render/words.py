"""Counted nouns, the one way: "1 warning", "2 warnings", never "1 warnings" or "warning(s)"."""

from __future__ import annotations


def plural(n: int, word: str, many: str | None = None) -> str:
    """`plural(1, "org")` -> "1 org"; `plural(2, "entry", "entries")` -> "2 entries"."""
    return f"{n} {word if n == 1 else (many or word + 's')}"
