"""Where policies meet plan, apply, audit and the `policy` commands.

A plan is judged as the document `mxsync show --format json` prints; an audit as the
document `mxsync audit --format json` prints. A saved plan carries its verdict (the
top-level `policy` field of the plan file) so `apply PLANFILE` can refuse a denied one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mxsync.errors import MxsyncError

if TYPE_CHECKING:
    from mxsync.audit import AuditResult, Finding
    from mxsync.plan import Plan
    from mxsync.policy.model import PolicyResult

PLAN_FIELD = "policy"


def judge(document: Any, paths: tuple[str, ...], namespaces: tuple[str, ...]) -> PolicyResult:
    from mxsync.policy import conventions, require_policy
    from mxsync.policy.discovery import read_policies
    from mxsync.policy.evaluate import evaluate

    require_policy()
    chosen = conventions.namespaces(namespaces)
    return evaluate(read_policies(paths), chosen, document)


def judge_plan(plan: Plan, paths: tuple[str, ...], namespaces: tuple[str, ...]) -> PolicyResult | None:
    """None without --policy; else the verdict on the plan's JSON document."""
    if not paths:
        return None
    from mxsync.render.json import plan_to_json

    return judge(plan_to_json(plan), paths, namespaces)


def record(result: PolicyResult | None) -> dict[str, Any] | None:
    """What a saved plan keeps of its verdict (None: no policy was given)."""
    return None if result is None else {PLAN_FIELD: result.to_json()}


def recorded(planfile: Path) -> PolicyResult | None:
    """The verdict a saved plan was written with; None when it was planned without policies.

    A plan file whose `policy` field is damaged counts as denied: it cannot be shown to
    have passed."""
    from mxsync.policy.model import PolicyResult

    try:
        data = json.loads(planfile.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # load_plan, which runs first, has said what is wrong with the file
    if not isinstance(data, dict) or data.get(PLAN_FIELD) is None:
        return None
    field = data[PLAN_FIELD]
    try:
        result = PolicyResult.from_json(field)
        if bool(field.get("denied")) != result.denied or not isinstance(field["messages"], list):
            raise TypeError
        return result
    except (AttributeError, KeyError, TypeError):
        raise MxsyncError(f"{planfile}: its policy result is damaged; nothing was changed",
                          hint=f"plan again with --policy (`mxsync plan ... --policy PATH "
                               f"--out {planfile}`)") from None


def refuse_denied(result: PolicyResult | None, what: str) -> None:
    """A deny stops an apply before anything is changed."""
    if result is None or not result.denied:
        return
    from mxsync.render.policy import policy_text

    raise MxsyncError(
        f"{what} is denied by policy; nothing was changed:\n{policy_text(result)}",
        hint="change the manifest (or the policy, after review) and plan again")


def audit_findings(result: AuditResult, paths: tuple[str, ...],
                   namespaces: tuple[str, ...]) -> AuditResult:
    """The audit with the policies' messages added: deny -> error, warn -> warning.

    A message object may say which `org` and `credential` it is about; without an org the
    finding is listed under "(policy)"."""
    if not paths:
        return result
    from dataclasses import replace

    from mxsync.render.json import audit_to_json

    verdict = judge(audit_to_json(result), paths, namespaces)
    findings: list[Finding] = [_finding(m.kind, m.msg, m.file, m.details) for m in verdict.messages]
    orgs = list(result.orgs)
    orgs += [f.org for f in findings if f.org not in orgs]
    return replace(result, orgs=list(dict.fromkeys(orgs)), findings=result.findings + findings,
                   checks=[*result.checks, "policy"])


def _finding(kind: str, msg: str, file: str, details: dict[str, Any]) -> Finding:
    from mxsync.audit import Finding, FindingCode

    org = details.get("org")
    credential = details.get("credential")
    return Finding(org=org if isinstance(org, str) and org else "(policy)",
                   code=FindingCode.POLICY, severity="error" if kind == "deny" else "warning",
                   credential_name=credential if isinstance(credential, str) else None,
                   params={"msg": msg, "file": file})


def plan_document_with(document: dict[str, Any], result: PolicyResult | None) -> dict[str, Any]:
    """`plan --format json`: the plan's document, and the verdict under `policy` when given."""
    return document if result is None else {**document, PLAN_FIELD: result.to_json()}
