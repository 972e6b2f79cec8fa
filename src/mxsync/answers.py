"""What the client needs from each answer, checked before anything uses it.

A server (or a proxy, or a bug) can send a list where an object belongs, a record
without `credential_id`, or JSON nested ten thousand deep. Each check here raises
`ShapeError` saying what was wrong, which the client turns into a `MalformedAnswer`
naming the endpoint, so such an answer fails that org with a clear message instead of
a KeyError or TypeError somewhere downstream. Unknown extra fields are always fine.

`describe_error` turns an error answer into the one line a user reads: the service's
`detail`, a 422's field list, or a billing-denial envelope's `reason`, with every
secret of the call and everything that looks like one redacted before it is cut short.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from mxsync.secrets import redact

MAX_DEPTH = 64  # far beyond any ModuleX answer; deep enough to be a hostile one
MAX_DETAIL_CHARS = 300
_ID_MAX = 200
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_BILLING_FIELDS = frozenset({"code", "layer", "key", "current", "limit"})


class ShapeError(Exception):
    """What is wrong with an answer, in words (never the answer's secret parts)."""


def parse_json(body: bytes) -> Any:
    try:
        value = json.loads(body)
    except RecursionError:
        raise ShapeError(f"the JSON is nested deeper than {MAX_DEPTH} levels") from None
    except ValueError:
        raise ShapeError("the answer is not JSON") from None
    if _depth_over(value, MAX_DEPTH):
        raise ShapeError(f"the JSON is nested deeper than {MAX_DEPTH} levels")
    return value


def _depth_over(value: Any, limit: int) -> bool:
    """Level by level, keeping only containers: every answer is checked, so this walk is on
    the hot path of a plan, and most nodes of an answer are strings."""
    level = [value] if type(value) in (dict, list) else []
    depth = 0
    while level:
        if depth >= limit:
            return True
        level = [child for node in level
                 for child in (node.values() if type(node) is dict else node)
                 if type(child) in (dict, list)]
        depth += 1
    return False


def _type(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number" if isinstance(value, int | float)
                                    else type(value).__name__)


def obj(value: Any, what: str = "the answer") -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ShapeError(f"{what} is {_type(value)}, expected an object")
    return value


def list_of_objects(parent: dict[str, Any], field: str) -> list[dict[str, Any]]:
    value = parent.get(field)
    if not isinstance(value, list):
        raise ShapeError(f"'{field}' is {'missing' if field not in parent else _type(value)}, "
                         "expected a list")
    for i, item in enumerate(value):
        obj(item, f"'{field}'[{i}]")
    return value


def identifier(record: dict[str, Any], field: str, where: str) -> str:
    value = record.get(field)
    if not isinstance(value, str) or not value or len(value) > _ID_MAX or _CONTROL.search(value):
        got = "missing" if field not in record else _type(value)
        raise ShapeError(f"{where} has no usable '{field}' ({got})")
    return value


def organizations(body: Any) -> list[dict[str, Any]]:
    orgs = list_of_objects(obj(body), "organizations")
    for i, org in enumerate(orgs):
        identifier(org, "id", f"'organizations'[{i}]")
    return orgs


def credential(body: Any, what: str = "the credential") -> dict[str, Any]:
    record = obj(body, what)
    identifier(record, "credential_id", what)
    metadata = record.get("credentials_metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise ShapeError(f"{what}'s 'credentials_metadata' is {_type(metadata)}, expected an object")
    return record


def credential_page(body: Any) -> tuple[list[dict[str, Any]], int | None]:
    """One page of `GET /credentials?integration_name=...`: its records and `total_count`."""
    page = obj(body)
    items = list_of_objects(page, "credentials")
    for i, item in enumerate(items):
        credential(item, f"'credentials'[{i}]")
    total = page.get("total_count")
    if total is None:
        return items, None
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        raise ShapeError(f"'total_count' is {_type(total)}, expected a count")
    return items, total


def provider(body: Any) -> dict[str, Any]:
    detail = obj(body)
    if detail.get("models") is not None:
        list_of_objects(detail, "models")
    return detail


def usage(body: Any) -> dict[str, Any]:
    """`GET /credentials/{id}/usage`: the call counts must be counts."""
    record = obj(body)
    for field in ("total_calls", "successful_calls", "failed_calls"):
        value = record.get(field, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ShapeError(f"'{field}' is {_type(value)}, expected a count")
    return record


def org_settings(body: Any) -> dict[str, Any]:
    """`GET /organizations/settings`: a visibility map of lists, and a composer or null."""
    settings = obj(body)
    visibility = settings.get("llm_model_visibility")
    visibility = {} if visibility is None else obj(visibility, "'llm_model_visibility'")
    for name in visibility:
        list_of_objects(visibility, name)
    composer = settings.get("composer_llm")
    if composer is not None:
        obj(composer, "'composer_llm'")
    return settings


# -- error answers -----------------------------------------------------------------------
def _billing_reason(node: Any) -> str | None:
    if isinstance(node, dict) and isinstance(node.get("reason"), str) and \
            _BILLING_FIELDS & node.keys():
        reason = node["reason"]
        code = node.get("code")
        return f"{reason} (billing: {code})" if isinstance(code, str | int) else reason
    return None


def _detail_text(body: Any) -> str:
    for node in (body, body.get("detail") if isinstance(body, dict) else None):
        reason = _billing_reason(node)
        if reason:
            return reason
    detail = body.get("detail", body) if isinstance(body, dict) else body
    if isinstance(detail, list):  # FastAPI 422
        return "; ".join(
            f"{'.'.join(str(p) for p in item.get('loc', []) if p != 'body')}: {item.get('msg')}"
            if isinstance(item, dict) and isinstance(item.get("loc", []), list) else str(item)
            for item in detail[:20])
    if isinstance(detail, dict):
        for name in ("reason", "message", "msg", "error"):
            if isinstance(detail.get(name), str):
                return str(detail[name])
        return json.dumps(detail, sort_keys=True)
    return str(detail)


def describe_error(body: bytes, fallback: str, secrets: Sequence[str] = ()) -> str:
    """One line for an error answer; secrets redacted before it is cut to length."""
    try:
        text = _detail_text(parse_json(body)) if body else fallback
    except ShapeError:
        text = body.decode("utf-8", "replace") or fallback
    text = _CONTROL.sub("?", redact(text, tuple(secrets)))
    text = " ".join(text.split())
    return text if len(text) <= MAX_DETAIL_CHARS else text[: MAX_DETAIL_CHARS - 3] + "..."
