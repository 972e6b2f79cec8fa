"""Plans as JSON, shaped after Terraform's JSON plan (`schemas/plan.schema.json`) so that
policy tools written for it can read mxsync's: `format_version`, `resource_changes`
with `address` and `change.actions/before/after`, and sensitive markers."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from mxsync.plan import Change, Plan
from mxsync.render.reasons import sentence
from mxsync.render.text import change_diff

if TYPE_CHECKING:
    from mxsync.audit import AuditResult, Finding

FORMAT_VERSION = "1.0"
_ACTIONS = {
    "create": ["create"],
    "replace": ["create", "delete"],  # create before destroy, in Terraform's order
    "update": ["update"],
    "adopt": ["update"],
    "set-default": ["update"],
    "delete": ["delete"],
    "set-models": ["update"],
    "set-assistant": ["update"],
}


def _resource(changes: list[Change]) -> dict[str, Any]:
    first = changes[0]
    before = next((c.before for c in changes if c.before is not None), None)
    after: dict[str, Any] | None = None
    for change in changes:
        if change.action == "delete":
            continue
        after = {**(before or {}), **(after or {}), **(change.after or {})}
    sensitive = any(c.action in ("create", "replace") for c in changes)
    resource: dict[str, Any] = {
        "address": first.address,
        "org": first.org,
        "type": "xai_settings" if first.action in ("set-models", "set-assistant") else "xai_credential",
        "name": first.name,
        "credential_id": next((c.credential_id for c in changes if c.credential_id), None),
        "mxsync_actions": [c.action for c in changes],
        "action_reason": "; ".join(sentence(c.reason) for c in changes),
        "reasons": [c.reason.to_dict() for c in changes],
        "change": {
            "actions": _ACTIONS[first.action] if len(changes) == 1 else ["update"],
            "before": before,
            "after": after,
            "before_sensitive": False,
            "after_sensitive": {"api_key": True} if sensitive else False,
            "field_diff": [line for c in changes for line in change_diff(c)],
        },
    }
    key = next((c.key for c in changes if c.key), None)
    if key is not None:
        resource["change"]["key_source"] = {"env": key.env, "file": key.file,
                                            **({"field": key.field} if key.field else {})}
        resource["change"]["test_first"] = any(c.test for c in changes)
    if any(c.action == "adopt" for c in changes):
        resource["change"]["importing"] = {"id": first.credential_id}
    return resource


def plan_to_json(plan: Plan) -> dict[str, Any]:
    grouped: dict[str, list[Change]] = {}
    for change in plan.changes:
        grouped.setdefault(change.address, []).append(change)
    return {
        "format_version": FORMAT_VERSION,
        "mxsync_version": plan.mxsync_version,
        "owner": plan.owner,
        "manifest_digest": plan.manifest_digest,
        "resource_changes": [_resource(changes) for changes in grouped.values()],
        "summary": plan.summary(),
        "orgs": [
            {
                "id": org.org,
                "name": org.label,
                "live_digest": org.live_digest,
                "unmanaged": org.unmanaged,
                "orphans": list(org.orphans),
                "notes": [sentence(n) for n in org.notes],
                "errors": [sentence(e) for e in org.errors],
                "error_codes": [e.to_dict() for e in org.errors],
            }
            for org in plan.orgs
        ],
        "errors": [f"org {org}: {sentence(e)}" for org, e in plan.errors],
    }


# How audit labels a live credential: "DISPLAY NAME (ID)"; ids carry no blanks or brackets.
_LABEL = re.compile(r"(?P<name>.*) \((?P<id>[^()\s]+)\)", re.DOTALL)


def credential_fields(finding: Finding) -> tuple[str | None, str | None]:
    """(name, id) of the credential a finding is about; either may be None.

    A finding names a live credential as "NAME (ID)" and a manifest entry by its name alone;
    programs need the two apart (the id to call the API with, the name to show)."""
    name, cred_id = getattr(finding, "credential_name", None), getattr(finding, "credential_id", None)
    if name is not None or cred_id is not None or finding.credential is None:
        return name, cred_id
    match = _LABEL.fullmatch(finding.credential)
    return (match["name"], match["id"]) if match else (finding.credential, None)


def audit_to_json(result: AuditResult) -> dict[str, Any]:
    """The audit for programs: each finding with `credential_name` and `credential_id` apart
    (and `credential`, the combined label, kept for existing readers)."""
    data = result.to_json()
    findings = []
    for finding, shown in zip(result.ordered(), data["findings"], strict=True):
        name, cred_id = credential_fields(finding)
        findings.append({**shown, "credential_name": name, "credential_id": cred_id})
    return {**data, "findings": findings}
