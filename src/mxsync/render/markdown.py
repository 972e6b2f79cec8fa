"""Markdown for pull-request comments and CI step summaries: plans and audits."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mxsync.plan import Plan
from mxsync.render.reasons import sentence
from mxsync.render.text import SYMBOLS, change_diff, plan_summary

if TYPE_CHECKING:
    from mxsync.audit import AuditResult


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def plan_markdown(plan: Plan) -> str:
    lines = ["## mxsync plan", "", f"**{plan_summary(plan)}**", ""]
    for org in plan.orgs:
        title = f"{org.org} ({org.label})" if org.label else org.org
        lines += [f"### {title}", ""]
        if org.changes:
            lines += ["| | Action | Address | Why |", "|---|---|---|---|"]
            for change in org.changes:
                symbol = SYMBOLS[change.action][0]
                why = sentence(change.reason) + "".join(f"<br>`{d}`" for d in change_diff(change))
                lines.append(f"| `{symbol}` | {change.action} | `{change.address}` | {_cell(why)} |")
        elif not org.errors:
            lines.append("No changes.")
        lines += [f"- note: {_cell(sentence(n))}" for n in org.notes]
        lines += [f"- **error**: {_cell(sentence(e))}" for e in org.errors]
        if org.unmanaged:
            lines.append(f"- {org.unmanaged} unmanaged xai credential(s) left alone")
        lines.append("")
    return "\n".join(lines)


def audit_markdown(result: AuditResult) -> str:
    s = result.summary()
    lines = ["## mxsync audit", "",
             f"**{s['orgs']} orgs, {s['errors']} errors, {s['warnings']} warnings**", ""]
    for org in result.orgs:
        found = [f for f in result.ordered() if f.org == org]
        lines += [f"### {org}", ""]
        if not found:
            lines += ["No findings.", ""]
            continue
        lines += ["| Severity | Code | Credential | Finding |", "|---|---|---|---|"]
        lines += [f"| {f.severity} | `{f.code}` | {_cell(f.credential or '-')} | {_cell(f.message)} |"
                  for f in found]
        lines.append("")
    return "\n".join(lines)
