"""Field-level differences between two attribute views, for people.

deepdiff finds what differs (its tree view gives each path as a list of keys, so a key
is never rebuilt from a printed path and a label such as `chroot` stays whole); this
module only words it. Mappings are compared key by key; anything else (a list of ACLs,
a model list) is one value, shown whole. deepdiff is imported only when a plan that
has field differences is rendered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mxsync.render.safe import printable
from mxsync.secrets import redact

_ABSENT = object()


def _show(value: Any) -> str:
    if isinstance(value, str):
        return printable(redact(f'"{value}"'))
    if isinstance(value, list | tuple):
        return printable(redact("[" + ", ".join(_show(v) for v in value) + "]"))
    if value is None:
        return "(none)"
    return printable(redact(str(value).lower() if isinstance(value, bool) else str(value)))


def _mapping_path(view: Mapping[str, Any], path: Sequence[Any]) -> tuple[Any, ...]:
    """The path as far as it runs through mappings: below that, a value is compared whole."""
    kept: list[Any] = []
    node: Any = view
    for key in path:
        if not isinstance(node, Mapping):
            break
        kept.append(key)
        node = node.get(key, _ABSENT)
    return tuple(kept)


def _at(view: Mapping[str, Any], path: Sequence[Any]) -> Any:
    node: Any = view
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return _ABSENT
        node = node[key]
    return node


def field_diff(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
               ) -> tuple[str, ...]:
    """`~ labels.team: "ml" -> "infra"`, `+ ...`, `- ...` lines, sorted by path."""
    old, new = dict(before or {}), dict(after or {})
    if old == new:
        return ()
    from deepdiff import DeepDiff

    lines: dict[tuple[str, ...], str] = {}
    for items in DeepDiff(old, new, view="tree").values():
        for item in items:
            full = item.path(output_format="list")
            path = max(_mapping_path(old, full), _mapping_path(new, full), key=len)
            label = ".".join(printable(str(k)) for k in path)
            was, now = _at(old, path), _at(new, path)
            if now is _ABSENT:
                lines[tuple(map(str, path))] = f"- {label}: {_show(was)}"
            elif was is _ABSENT:
                lines[tuple(map(str, path))] = f"+ {label}: {_show(now)}"
            else:
                lines[tuple(map(str, path))] = f"~ {label}: {_show(was)} -> {_show(now)}"
    return tuple(lines[k] for k in sorted(lines))
