"""The catalog's model id a mistyped or shortened one most likely means (did-you-mean).

difflib's ratio alone picks `grok-4-fast` for `grok-4` (equal lengths, equal overlap),
while people writing `grok-4` mean the model the catalog shows as "Grok 4", `grok-4-0709`.
So, in order: a display name (or id) that is the same words; an id that continues the one
written with a version (`-0709`, `-1`, `-latest`) before one that names a variant
(`-fast`); an id the one written continues (`grok-4-fast-x` -> `grok-4-fast`); and only
then difflib's closest.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence

_VERSION = re.compile(r"-(\d[\d.]*|latest|beta|preview)")


def _words(text: str) -> str:
    """`Grok 4`, `grok_4` and `GROK-4` all read `grok-4`."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def closest_model(wanted: str, ids: Sequence[str], names: Mapping[str, str] | None = None
                  ) -> str | None:
    """The id of `ids` that `wanted` most likely means, or None when none is close.
    `names`: the catalog's display names (and other names), each to the id it names."""
    ids = [i for i in dict.fromkeys(ids) if i != wanted]
    if not ids:
        return None
    key = _words(wanted)
    same = [i for i in ids if _words(i) == key]
    same += sorted(i for n, i in (names or {}).items() if _words(n) == key and i in ids)
    if same:
        return same[0]
    longer = [i for i in ids if _words(i).startswith(key + "-")]
    if key and longer:
        return min(longer, key=lambda i: (not _VERSION.fullmatch(_words(i)[len(key):]),
                                          len(i), i))
    shorter = [i for i in ids if _words(i) and key.startswith(_words(i) + "-")]
    if shorter:
        return max(shorter, key=lambda i: (len(i), i))
    close = difflib.get_close_matches(wanted, ids, n=1, cutoff=0.75)  # not grok-9 -> grok-4-0709
    return close[0] if close else None
