"""Plans and apply reports for people, in Terraform's visual language."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import click

from mxsync.plan import Change, OrgPlan, Plan
from mxsync.render.destinations import destination_lines
from mxsync.render.diff import field_diff
from mxsync.render.reasons import sentence
from mxsync.render.safe import printable
from mxsync.render.table import table
from mxsync.render.words import plural

if TYPE_CHECKING:  # only for annotations: `show` must not import the HTTP stack
    from mxsync.audit import AuditResult
    from mxsync.outcomes import ApplyReport

SYMBOLS: dict[str, tuple[str, str]] = {
    "create": ("+", "green"),
    "replace": ("-/+", "yellow"),
    "update": ("~", "yellow"),
    "adopt": ("=", "cyan"),
    "delete": ("-", "red"),
    "set-default": ("*", "blue"),
    "set-models": ("~", "blue"),
    "set-assistant": ("~", "blue"),
}


def use_color(flag: bool | None, stream: object = None) -> bool:
    """Colour only on a terminal, never with NO_COLOR (https://no-color.org) or --no-color."""
    if flag is False or os.environ.get("NO_COLOR"):
        return False
    stream = stream or sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)())


def _style(text: str, color: bool, *, fg: str | None = None, bold: bool | None = None) -> str:
    return click.style(text, fg=fg, bold=bold) if color else text


def change_diff(change: Change) -> tuple[str, ...]:
    """What an in-place change alters, field by field."""
    if change.action not in ("update", "adopt"):
        return ()
    return field_diff(change.before, change.after)


def default_note(change: Change) -> str | None:
    """What a create or replace does to the org's default, when it touches it: the plan's
    summary counts these as default changes, so every rendering must show them."""
    if change.action not in ("create", "replace") or not change.make_default:
        return None
    if change.action == "replace" and change.old_was_default:
        return "the new credential keeps the org's default"
    return "made the org's default on create"


def orphans_line(plan: Plan) -> str:
    """How many of this owner's managed credentials are no longer listed (kept: no prune)."""
    names = [name for org in plan.orgs for note in org.notes if note.code == "orphans-kept"
             for name in note.params.get("names") or ()]
    if not names:
        return ""
    one = len(names) == 1
    return (f"{plural(len(names), 'managed credential')} of owner '{plan.owner}' "
            f"{'is' if one else 'are'} no longer listed and kept "
            f"(--prune deletes {'it' if one else 'them'}).")


def change_details(change: Change) -> Iterable[str]:
    """Everything a plan says about one change under its address (text and Markdown)."""
    if change.mint:
        from mxsync.minting.render import details

        yield from details(change)
        return
    if change.action in ("create", "replace"):
        source = change.key.describe() if change.key else "a minted key"
        yield f"api_key: (sensitive) from {source}, fingerprint {change.fingerprint}"
        if change.base_url:
            yield f"base_url: {change.base_url}"
        if change.expires_at:
            yield f"expires_at: {change.expires_at}"
        note = default_note(change)
        if note:
            yield note
        if change.test:
            yield "the key is tested (test-temporary) before it is stored"
        else:
            yield "the key is stored untested (test: false or --skip-tests)"
    if change.action in ("set-models", "set-assistant"):
        yield from _settings_details(change)
        return
    if change.action == "replace":
        yield f"{sentence(change.reason)}; the old credential {change.credential_id} is deleted last"
    elif change.action in ("delete", "set-default", "adopt"):
        yield sentence(change.reason)
    yield from change_diff(change)


def _settings_details(change: Change) -> Iterable[str]:
    before, after = change.before or {}, change.after or {}
    if change.action == "set-models":
        def shown(models: object) -> str:
            if models == "all":
                return "the catalog's full list"
            return ", ".join(map(str, models)) if isinstance(models, list | tuple) else ""

        yield f"models: {shown(before.get('models'))} -> {shown(after.get('models'))}"
    else:
        def pin(view: dict[str, object]) -> str:
            if not view:
                return "not set"
            where = view.get("credential") or view.get("credential_id") or "-"
            return f"{view.get('model_id')} on {where}"

        yield f"assistant: {pin(before)} -> {pin(after)}"
    yield sentence(change.reason)


LABEL_WIDTH = 11  # "create", "replace", "set-default": the usual labels, and the column


def label_width(changes: Iterable[Change]) -> int:
    """The action column's width: wide enough for every label shown (`set-assistant`,
    `create (minted)`), so every address starts at the same column."""
    return max((len(c.label) for c in changes), default=LABEL_WIDTH)


def render_org(org: OrgPlan, color: bool, width: int | None = None) -> list[str]:
    """`width`: of the action column, the same for every org of a plan."""
    title = printable(f"{org.org} ({org.label})" if org.label else org.org)
    lines = [_style(title, color, bold=True)]
    width = max(LABEL_WIDTH, width if width is not None else label_width(org.changes))
    for change in org.changes:
        symbol, colour = SYMBOLS[change.action]
        head = f"  {symbol:>3} {change.label:<{width}} {printable(change.address)}"
        lines.append(_style(head, color, fg=colour))
        lines.extend(f"        {printable(line)}" for line in change_details(change))
    if not org.changes and not org.errors:
        lines.append("    no changes")
    if org.unmanaged:
        lines.append(f"    {plural(org.unmanaged, 'unmanaged xai credential')} left alone")
    lines.extend(f"    note: {printable(sentence(note))}" for note in org.notes)
    lines.extend(_style(f"    error: {printable(sentence(error))}", color, fg="red")
                 for error in org.errors)
    return lines


_NAMED = 10  # orgs named on a shared error's line; the rest are counted


def _errors_alone(org: OrgPlan) -> tuple[str, ...] | None:
    """The org's errors as said, when they are all it shows (nothing planned, noted or
    left alone)."""
    if org.errors and not org.changes and not org.notes and not org.unmanaged:
        return tuple(sentence(e) for e in org.errors)
    return None


def _shared_errors(orgs: Sequence[OrgPlan]) -> dict[tuple[str, ...], list[str]]:
    """Errors that are all two or more orgs show, word for word (an API that refuses
    connections, a token it rejects), with those orgs: said once for all, not 120 times."""
    seen: dict[tuple[str, ...], list[str]] = {}
    for org in orgs:
        errors = _errors_alone(org)
        if errors is not None:
            seen.setdefault(errors, []).append(org.org)
    return {errors: ids for errors, ids in seen.items() if len(ids) > 1}


def plan_summary(plan: Plan) -> str:
    """The closing line: what apply would do, and what it leaves on purpose."""
    return " ".join(part for part in (_changes_summary(plan), orphans_line(plan)) if part)


def _changes_summary(plan: Plan) -> str:
    if plan.errors and not plan.has_changes:
        return f"No changes planned; {plural(len(plan.errors), 'error')}."
    if not plan.orgs and plan.options.changed_since is not None:
        # Nothing was compared: "matches the manifest" would claim what was never read.
        return (f"No org changed since {printable(plan.options.changed_since)}: nothing was "
                "read or planned.")
    if not plan.has_changes:
        return "No changes. Live state matches the manifest."
    from mxsync.render.summary import summary_parts

    # Errors beside changes: the headline a reviewer reads must not hide them.
    errors = f"; {plural(len(plan.errors), 'error')}" if plan.errors else ""
    return "Plan: " + ", ".join(summary_parts(plan.summary(), "plan")) + errors + "."


def render_plan(plan: Plan, color: bool = False) -> str:
    lines: list[str] = []
    if plan.has_changes:
        lines += ["mxsync will perform the following actions:", ""]
    width = label_width(plan.changes)
    shared = _shared_errors(plan.orgs)
    grouped = {o for ids in shared.values() for o in ids}
    for org in plan.orgs:
        if org.org not in grouped:
            lines += [*render_org(org, color, width), ""]
    for errors, org_ids in shared.items():
        names = ", ".join(org_ids[:_NAMED]) + (f" and {len(org_ids) - _NAMED} more"
                                               if len(org_ids) > _NAMED else "")
        lines.append(_style(printable(f"{plural(len(org_ids), 'org')}: {names}"), color,
                            bold=True))
        lines += [_style(f"    error: {printable(e)}", color, fg="red") for e in errors]
        lines.append("")
    lines += ["Where secrets go:", *(f"  {printable(line)}" for line in destination_lines(plan)), ""]
    lines.append(_style(plan_summary(plan), color, bold=True))
    return "\n".join(lines)


_STATUS_COLOURS = {"ok": "green", "failed": "red", "skipped": "yellow"}


def render_report(report: ApplyReport, color: bool = False) -> str:
    from mxsync.render.outcomes import report_summary, step_line

    lines: list[str] = []
    for org in report.orgs:
        if org.status == "unchanged":
            if org.note:
                lines += [_style(printable(org.org), color, bold=True),
                          f"  {printable(sentence(org.note))}", ""]
            continue
        lines.append(_style(printable(org.org), color, bold=True))
        for step in org.steps:
            lines.append("  " + _style(printable(step_line(step)), color,
                                       fg=_STATUS_COLOURS[step.status]))
        if org.errors:
            error = "; ".join(sentence(e) for e in org.errors)
            lines.append("  " + _style(f"failed: {printable(error)}", color, fg="red"))
        lines.append("")
    closing = report_summary(report)
    if not report.failed and any(o.note for o in report.orgs) and not any(
            o.steps for o in report.orgs):
        closing = "Nothing to apply: the plan was already applied."
    lines.append(_style(closing, color, bold=True, fg="red" if report.failed else None))
    return "\n".join(lines)


def render_audit(result: AuditResult, color: bool = False) -> str:
    from mxsync.render.findings import finding_message

    if not result.findings:
        lines = ["No findings."]
    else:
        found = result.ordered()
        rows = [("ORG", "CODE", "SEVERITY", "CREDENTIAL", "FINDING")]
        rows += [(f.org, f.code, f.severity, f.credential or "-", finding_message(f)) for f in found]
        lines = []
        for i, text in enumerate(table(rows)):
            colour = None if i == 0 else ("red" if found[i - 1].severity == "error" else "yellow")
            lines.append(_style(text, color, fg=colour, bold=i == 0))
    if result.findings:  # by code: what a hundred orgs' findings come to
        lines.append("")
        counts: list[tuple[str, ...]] = [("CODE", "SEVERITY", "FINDINGS", "ORGS")]
        counts += [(r.code, r.severity, str(r.findings), str(r.orgs)) for r in result.by_code()]
        lines += [_style(text, color, bold=i == 0)
                  for i, text in enumerate(table(counts, right=(2, 3)))]
    s = result.summary()
    lines.append(f"Audit: {plural(s['orgs'], 'org')}, {plural(s['errors'], 'error')}, "
                 f"{plural(s['warnings'], 'warning')}.")
    return "\n".join(lines)
