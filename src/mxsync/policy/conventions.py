"""Conftest's conventions: which rules mean what, and what a message may look like.

Package `main` unless namespaces are chosen; `deny` and `violation` fail, `warn` warns;
each rule is a set of strings or of objects with a `msg` (conftest also accepts a single
string, and so does mxsync)."""

from __future__ import annotations

import re
from typing import Any

from mxsync.errors import MxsyncError
from mxsync.policy.model import Kind

DEFAULT_NAMESPACE = "main"
RULES: dict[str, Kind] = {"deny": "deny", "violation": "deny", "warn": "warn"}
_NAMESPACE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def namespaces(given: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(given)) or (DEFAULT_NAMESPACE,)
    for name in chosen:
        if not _NAMESPACE.fullmatch(name):
            raise MxsyncError(f"--namespace {name!r} is not a Rego package name",
                              hint="a package is dotted words, e.g. main or mxsync.rules")
    return chosen


def query(namespace: str, rule: str) -> str:
    return f"data.{namespace}.{rule}"


def queries(chosen: tuple[str, ...]) -> list[str]:
    return [query(ns, rule) for ns in chosen for rule in RULES]


def messages_of(value: Any) -> list[tuple[str, dict[str, Any]]]:
    """(message, the object's other fields) for each item of a rule's value.

    A set arrives as a JSON list. An item that is neither a string nor an object with a
    string `msg` is shown as its JSON, so a broken rule is still seen and still fails."""
    import json

    items = value if isinstance(value, list) else [value]
    out: list[tuple[str, dict[str, Any]]] = []
    for item in items:
        if isinstance(item, str):
            out.append((item, {}))
        elif isinstance(item, dict) and isinstance(item.get("msg"), str):
            out.append((item["msg"], {k: v for k, v in item.items() if k != "msg"}))
        elif item is False and not isinstance(value, list):
            continue  # a boolean rule that does not hold says nothing
        else:
            out.append((json.dumps(item, sort_keys=True), {}))
    return out
