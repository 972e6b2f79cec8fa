"""Markdown for pull-request comments and CI step summaries: plans and audits."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mxsync.plan import Change, OrgPlan, Plan
from mxsync.render.destinations import api_url, minted_destinations
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


# Up to this many names are listed on the line that counts them; more go in a collapsed
# <details> block, so that a comment on a 1,000-org manifest stays short.
LISTED_NAMES = 10


def plan_markdown(plan: Plan) -> str:
    """The plan as a pull-request comment: one block per org with something to review (a
    change, an error or a note); the orgs with nothing to do are one line, as are the
    orgs `--changed-since` left out. Reviewers read what changes, not 119 "No changes."."""
    from mxsync.render.targeting import targeting_warning

    lines = ["## mxsync plan", "", f"**{plan_summary(plan)}**", ""]
    warning = targeting_warning(plan)
    if warning:
        lines += [f"> **Warning:** {_cell(warning)}", ""]
    if plan.options.changed_since is not None:
        lines += [*_left_out(plan.options.changed_since, plan.options.left_out), ""]
    for org in plan.orgs:
        if not _foldable(org):
            lines += [*_org_block(org), ""]
    quiet = [org for org in plan.orgs if _foldable(org)]
    if quiet:
        lines += [*_quiet(quiet), ""]
    lines += ["#### Where secrets go", "", *_destinations(plan), ""]
    return "\n".join(lines)


def _org_block(org: OrgPlan) -> list[str]:
    lines = [f"### {_cell(_title(org))}", ""]
    if org.changes:
        lines += ["| | Action | Address | Why |", "|---|---|---|---|"]
        for change in org.changes:
            symbol = SYMBOLS[change.action][0]
            lines.append(f"| `{symbol}` | {_cell(change.label)} | {_code(change.address)} | "
                         f"{_why(change)} |")
    elif not org.errors:
        lines.append("No changes.")  # a note only: never folded
    lines += [f"- note: {_cell(sentence(n))}" for n in org.notes]
    lines += [f"- **error**: {_cell(sentence(e))}" for e in org.errors]
    if org.unmanaged:
        lines.append(f"- {plural(org.unmanaged, 'unmanaged xai credential')} left alone")
    return lines


def _destinations(plan: Plan) -> list[str]:
    """The text plan's "Where secrets go", with the orgs that send one token variable to
    the one URL on one line: every distinct variable and URL is still shown (an edited plan
    file shows its edit), without a line per org of a 120-org manifest."""
    url = api_url(plan)
    by_variable: dict[str, list[str]] = {}
    for org in plan.orgs:
        by_variable.setdefault(org.token_env, []).append(org.org)
    lines = [f"- {_cell(f'ModuleX API: {url}')}"]
    for variable, orgs in by_variable.items():
        sent = f"${variable or '(none)'} -> {url}"
        if len(orgs) == 1:
            lines.append(f"- {_cell(f'ModuleX token of org {orgs[0]}: {sent}')}")
            continue
        first, *rest = _names(orgs, f"- {_cell(f'ModuleX token ({sent}) of {len(orgs)} orgs')}")
        lines += [first, *(f"  {line}" if line else "" for line in rest)]
    lines += [f"- {_cell(f'{d.what}: ${d.variable} -> {d.url}')}"
              for d in minted_destinations(plan)]
    return lines


def _title(org: OrgPlan) -> str:
    return f"{org.org} ({org.label})" if org.label else org.org


def _foldable(org: OrgPlan) -> bool:
    """Nothing to review: no change, no error, no note (a note is a warning, never folded)."""
    return not (org.changes or org.errors or org.notes)


def _names(names: list[str], line: str) -> list[str]:
    """`line`, with the names on it when they are few, else in a collapsed block below it."""
    listed = ", ".join(_cell(n) for n in names)
    if len(names) <= LISTED_NAMES:
        return [f"{line}: {listed}."]
    return [f"{line}.", "", "<details><summary>Which</summary>", "", listed, "", "</details>"]


def _quiet(orgs: list[OrgPlan]) -> list[str]:
    n = len(orgs)
    lines = _names([_title(o) for o in orgs],
                   f"{plural(n, 'org')} {'has' if n == 1 else 'have'} no changes")
    unmanaged = sum(o.unmanaged for o in orgs)
    if unmanaged:
        where = "it" if n == 1 else "them"
        lines += ["", f"{plural(unmanaged, 'unmanaged xai credential')} in {where} left alone."]
    return lines


def _left_out(ref: str, names: tuple[str, ...]) -> list[str]:
    """What `--changed-since REF` did not plan: Terraform warns that -target is in effect."""
    if not names:
        return [f"Planned with `--changed-since` {_code(ref)}: every org changed since then."]
    n = len(names)
    return _names(list(names), f"Planned only the orgs changed since {_code(ref)}; "
                               f"{plural(n, 'org')} unchanged since then {'was' if n == 1 else 'were'}"
                               " left out (not read, not in this plan)")


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
