"""Plans as JSON, shaped after Terraform's JSON plan (`schemas/plan.schema.json`) so that
policy tools written for it can read mxsync's: `format_version`, `resource_changes`
with `address` and `change.actions/before/after`, and sensitive markers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mxsync.plan import Change, Plan
from mxsync.render.destinations import api_url, destinations, key_source
from mxsync.render.reasons import sentence
from mxsync.render.targeting import targeting_warning
from mxsync.render.text import change_diff

if TYPE_CHECKING:
    from mxsync.audit import AuditResult
    from mxsync.outcomes import ApplyReport, OrgReport

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
    if after is not None and any(c.action == "replace" or c.credential_from is not None
                                 for c in changes):
        # The credential after a replace (or the Assistant's, once it follows one) is a new
        # one: its id is unknown until apply creates it, and is never the old one's.
        after["credential_id"] = None
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
    source = next((key_source(c) for c in changes if key_source(c)), None)
    if source is not None:
        resource["change"]["key_from"] = source
    mint = next((c.mint for c in changes if c.mint and c.action in ("create", "replace")), None)
    if mint is not None:
        resource["change"]["minted"] = {"team_id": mint.team_id, "management_url": mint.url,
                                        "management_key_env": mint.key_env}
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
        "api_url": api_url(plan),
        "destinations": [{"what": d.what, "variable": d.variable, "url": d.url}
                         for d in destinations(plan)],
        "resource_changes": [_resource(changes) for changes in grouped.values()],
        "summary": plan.summary(),
        "orgs": [
            {
                "id": org.org,
                "name": org.label,
                "token_env": org.token_env,
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
        # --target / --changed-since: what was planned; empty for a plan of everything.
        "targeted": list(plan.options.targets),
        "warnings": [w for w in (targeting_warning(plan),) if w],
    }


def known_after_apply(plan_json: dict[str, Any], report: ApplyReport) -> dict[str, Any]:
    """The plan's JSON with what only apply could know: the new credential's id where the
    plan had null (a replace, the Assistant following it), once apply has created it."""
    made: dict[str, str] = {}
    for step in (s for o in report.orgs for s in o.steps):
        new_id = step.params.get("new_id") if step.action == "replace" else (
            step.credential_id if step.action == "set-assistant" and step.status == "ok" else None)
        if new_id:
            made[step.address] = str(new_id)
    for resource in plan_json["resource_changes"]:
        after = resource["change"]["after"]
        if isinstance(after, dict) and "credential_id" in after and after["credential_id"] is None:
            after["credential_id"] = made.get(resource["address"])
    return plan_json


def report_to_json(report: ApplyReport) -> dict[str, Any]:
    """An apply report for programs: each step with its code and parameters, and the same
    words a person sees (`message`)."""
    from mxsync.render.outcomes import step_message

    def org_json(org: OrgReport) -> dict[str, Any]:
        return {"org": org.org, "status": org.status,
                "error": "; ".join(sentence(e) for e in org.errors) or None,
                "error_codes": [e.to_dict() for e in org.errors],
                "note": sentence(org.note) if org.note else None,
                "steps": [{"org": s.org, "address": s.address, "action": str(s.action),
                           "status": s.status, "code": str(s.code), "params": s.params,
                           "message": step_message(s), "credential_id": s.credential_id}
                          for s in org.steps]}

    return {"orgs": [org_json(o) for o in report.orgs],
            "summary": {**report.counts(), "orgs": len(report.orgs),
                        "failed_orgs": len(report.failed)},
            "ok": not report.failed}


def audit_to_json(result: AuditResult) -> dict[str, Any]:
    """The audit for programs: each finding with its code, parameters, `credential_name` and
    `credential_id` apart, the words a person sees (`message`), and `credential`, the
    combined label, kept for existing readers."""
    from mxsync.render.findings import finding_message

    return {"findings": [{"org": f.org, "code": str(f.code), "severity": f.severity,
                          "credential": f.credential, "credential_name": f.credential_name,
                          "credential_id": f.credential_id, "params": f.params,
                          "message": finding_message(f)} for f in result.ordered()],
            "summary": result.summary(), "checks": list(result.checks),
            "by_code": [{"code": r.code, "severity": r.severity, "findings": r.findings,
                         "orgs": r.orgs} for r in result.by_code()]}
