"""Aligned columns for people: the one table layout of audit, catalog and the demo.

Cells are made printable first (`render.safe`), so a name from the service can neither
break the layout nor smuggle a terminal escape, and widths are counted as a terminal
shows them (a wide CJK character takes two columns, a combining accent none).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Sequence

from mxsync.render.safe import printable

GAP = "  "


def width(text: str) -> int:
    """Columns `text` takes on a terminal."""
    if text.isascii():
        return len(text)
    total = 0
    for char in text:
        if unicodedata.combining(char) or unicodedata.category(char) == "Cf":
            continue
        total += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return total


def _pad(text: str, columns: int, right: bool) -> str:
    fill = " " * max(0, columns - width(text))
    return fill + text if right else text + fill


def table(rows: Sequence[Sequence[object]], *, right: Collection[int] = ()) -> list[str]:
    """The rows as aligned lines; the first row is the header. Columns in `right` (numbers)
    are right-aligned below the header. Trailing blanks are trimmed, so the last column
    may be as long as it likes."""
    cells = [[printable(str(cell)) for cell in row] for row in rows]
    if not cells:
        return []
    widths = [max(width(row[i]) for row in cells) for i in range(len(cells[0]))]
    return [GAP.join(_pad(cell, widths[i], n > 0 and i in right)
                     for i, cell in enumerate(row)).rstrip()
            for n, row in enumerate(cells)]
