"""Field-level differences between two attribute views, for people.

Paths are built from the keys themselves (`labels.team`), never by editing a
printed path, so no key is ever mangled; nested mappings are walked, anything
else is compared whole.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from mxsync.render.safe import printable
from mxsync.secrets import redact


def _show(value: Any) -> str:
    return printable(redact(f'"{value}"' if isinstance(value, str) else repr(value)))


def _walk(before: Mapping[str, Any], after: Mapping[str, Any], prefix: str
          ) -> Iterator[tuple[str, str]]:
    for key in sorted(set(before) | set(after), key=str):
        path = f"{prefix}{printable(str(key))}"
        if key not in after:
            yield path, f"- {path}: {_show(before[key])}"
        elif key not in before:
            yield path, f"+ {path}: {_show(after[key])}"
        elif isinstance(before[key], Mapping) and isinstance(after[key], Mapping):
            yield from _walk(before[key], after[key], f"{path}.")
        elif before[key] != after[key]:
            yield path, f"~ {path}: {_show(before[key])} -> {_show(after[key])}"


def field_diff(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
               ) -> tuple[str, ...]:
    """`~ labels.team: "ml" -> "infra"`, `+ ...`, `- ...` lines, sorted by path."""
    return tuple(line for _, line in sorted(_walk(before or {}, after or {}, "")))
