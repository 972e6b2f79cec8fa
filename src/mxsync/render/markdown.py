"""Markdown for pull-request comments and CI step summaries: plans and audits."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mxsync.plan import Change, Plan
from mxsync.render.destinations import destination_lines
from mxsync.render.findings import finding_message
from mxsync.render.reasons import sentence
from mxsync.render.safe import printable
from mxsync.render.text import SYMBOLS, change_details, change_diff, plan_summary
from mxsync.render.words import plural

if TYPE_CHECKING:
    from mxsync.audit import AuditResult


def _cell(text: str) -> str:
    """Text for a table cell or list item: printable, and unable to end the cell, open an
    HTML tag or a code span (names come from the service; the comment is rendered). A `$`
    is escaped: GitHub renders the text between two of them (`$VAR ... $OTHER`) as math."""
    return (printable(text).replace("\\", "\\\\").replace("&", "&amp;").replace("<", "&lt;")
            .replace(">", "&gt;").replace("|", "\\|").replace("$", "\\$"))


def _code(text: str) -> str:
    """`text` as a code span; a backtick inside would end it, so it is shown as a quote."""
    return "`" + printable(text).replace("`", "'").replace("|", "\\|") + "`"


def plan_markdown(plan: Plan) -> str:
    lines = ["## mxsync plan", "", f"**{plan_summary(plan)}**", ""]
    for org in plan.orgs:
        title = f"{org.org} ({org.label})" if org.label else org.org
        lines += [f"### {_cell(title)}", ""]
        if org.changes:
            lines += ["| | Action | Address | Why |", "|---|---|---|---|"]
            for change in org.changes:
                symbol = SYMBOLS[change.action][0]
                lines.append(f"| `{symbol}` | {_cell(change.label)} | {_code(change.address)} | "
                             f"{_why(change)} |")
        elif not org.errors:
            lines.append("No changes.")
        lines += [f"- note: {_cell(sentence(n))}" for n in org.notes]
        lines += [f"- **error**: {_cell(sentence(e))}" for e in org.errors]
        if org.unmanaged:
            lines.append(f"- {plural(org.unmanaged, 'unmanaged xai credential')} left alone")
        lines.append("")
    lines += ["#### Where secrets go", "", *(f"- {_cell(line)}" for line in destination_lines(plan)),
              ""]
    return "\n".join(lines)


def _why(change: Change) -> str:
    """The Why cell: the reason, then every line the text plan shows under the change (the
    key's source, models, the Assistant's target, tests, defaults), diffs as code."""
    reason = sentence(change.reason)
    details = list(change_details(change))
    diffs = set(change_diff(change))
    cells = [] if any(reason in d for d in details) else [_cell(reason)]
    cells += [_code(d) if d in diffs else _cell(d) for d in details]
    return "<br>".join(cells)


def audit_markdown(result: AuditResult) -> str:
    s = result.summary()
    lines = ["## mxsync audit", "",
             f"**{plural(s['orgs'], 'org')}, {plural(s['errors'], 'error')}, "
             f"{plural(s['warnings'], 'warning')}**", ""]
    if result.findings:  # by code first: at a hundred orgs the findings below are long
        lines += ["| Code | Severity | Findings | Orgs |", "|---|---|---:|---:|"]
        lines += [f"| {_code(r.code)} | {r.severity} | {r.findings} | {r.orgs} |"
                  for r in result.by_code()]
        lines.append("")
    for org in result.orgs:
        found = [f for f in result.ordered() if f.org == org]
        lines += [f"### {_cell(org)}", ""]
        if not found:
            lines += ["No findings.", ""]
            continue
        lines += ["| Severity | Code | Credential | Finding |", "|---|---|---|---|"]
        lines += [f"| {f.severity} | `{f.code}` | {_cell(f.credential or '-')} | "
                  f"{_cell(finding_message(f))} |" for f in found]
        lines.append("")
    return "\n".join(lines)
