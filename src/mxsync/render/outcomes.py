"""Apply's outcomes in words: each step's code and parameters as a sentence, and the
closing summary. The executor records data only; this is where it becomes text."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mxsync.outcomes import StepCode
from mxsync.render.keytest import apply_key_test_message
from mxsync.render.reasons import sentence_of
from mxsync.render.words import plural

if TYPE_CHECKING:
    from mxsync.outcomes import ApplyReport, Step


def _replaced_but(p: dict[str, Any], why: str) -> str:
    return f"created the new credential {p.get('new_id')}, but kept the old one: {why}; re-run apply"


_WORDS: dict[StepCode, Callable[[dict[str, Any]], str]] = {
    StepCode.DONE: lambda p: "",
    StepCode.ALREADY_GONE: lambda p: "already gone",
    StepCode.DEPENDS_FAILED: lambda p: (
        f"depends on {', '.join(map(str, p.get('addresses') or ()))}, which did not succeed"),
    StepCode.ERROR: lambda p: str(p.get("message") or "failed"),
    StepCode.KEY_PROBLEM: lambda p: sentence_of(p.get("reason")),
    StepCode.NO_KEY: lambda p: "no key for this entry",
    StepCode.KEY_TEST_FAILED: apply_key_test_message,
    StepCode.DUPLICATE_REMOVED: lambda p: (
        "a duplicate of this entry (a late or concurrent create) was removed"),
    StepCode.ASSISTANT_MOVED: lambda p: f"now on credential {p.get('credential_id')}",
    StepCode.TAKEN_BY_OWNER: lambda p: (
        f"owner '{p.get('owner')}' took this credential under management since the plan; "
        "nothing was changed. Run plan again"),
    StepCode.NOT_OURS: lambda p: (
        "the credential is not this manifest's ("
        + (f"owner '{p.get('owner')}' manages it" if p.get("owner") else "it is unmanaged")
        + "); "
        "apply changes only what its owner manages, whatever the plan says, so nothing was "
        "changed"),
    StepCode.REPLACED: lambda p: f"new credential {p.get('new_id')}",
    StepCode.KEPT_OLD_DEFAULT: lambda p: _replaced_but(
        p, "it holds the default, which could not be moved"),
    StepCode.KEPT_OLD_PINNED: lambda p: _replaced_but(
        p, "the Assistant runs on it and could not be moved"),
    StepCode.OLD_NOT_DELETED: lambda p: (
        f"created the new credential {p.get('new_id')}, but deleting the old one failed "
        f"({p.get('message')}); re-run apply to remove it"),
    StepCode.MINTED: lambda p: f"xAI key {p.get('key_id')} ({p.get('redacted')})",
    StepCode.MINT_LOST: lambda p: (
        f"the mint's answer was lost; {p.get('deleted')} key(s) under its name deleted, "
        "minting again"),
    StepCode.PROPAGATING: lambda p: (
        f"waiting for xAI to propagate the key ({p.get('elapsed_s')}s of at most "
        f"{p.get('timeout_s')}s)"),
    StepCode.PROPAGATED: lambda p: f"propagated after {p.get('seconds')}s",
    StepCode.XAI_KEY_KEPT: lambda p: (
        f"kept xAI key {p.get('key_id')}: credential {p.get('holder')} holds it"),
    StepCode.XAI_KEY_DELETED: lambda p: (
        f"xAI key {p.get('key_id')}" + (" (already gone)" if p.get("already_gone") else "")),
    StepCode.XAI_KEY_NOT_DELETED: lambda p: (
        f"could not delete the old key {p.get('key_id')} at xAI ({p.get('message')}); no "
        "credential uses it, re-run apply to delete it"),
    StepCode.ORPHAN_HELD: lambda p: f"credential {p.get('holder')} now holds this key; kept",
    StepCode.ORPHAN_DELETED: lambda p: "already gone" if p.get("already_gone") else "deleted at xAI",
    StepCode.UNUSED_KEY_DELETED: lambda p: f"deleted the unused new key {p.get('key_id')} at xAI",
    StepCode.UNUSED_KEY_NOT_DELETED: lambda p: (
        f"could not delete the unused new key {p.get('key_id')} at xAI ({p.get('message')}); "
        "the next apply deletes it"),
}


def step_message(step: Step) -> str:
    """The step's outcome in words ("" when the action and status say it all)."""
    words = _WORDS.get(step.code)
    return words(step.params) if words else f"{step.code} {step.params}"


def step_line(step: Step) -> str:
    text = f"{step.status:<7} {step.action:<11} {step.address}"
    message = step_message(step)
    return f"{text}: {message}" if message else text


def report_summary(report: ApplyReport) -> str:
    """The closing line of an apply."""
    if report.failed:
        total = len(report.orgs)
        return f"Apply failed for {len(report.failed)} of {total} org{'s' if total != 1 else ''}."
    from mxsync.render.summary import summary_parts

    c = report.counts()
    parts = summary_parts(c, "apply")  # the plan summary's words, in its order
    if c["deduplicated"]:  # apply's own: no plan counts these
        parts.append(plural(c["deduplicated"], "late duplicate") + " removed")
    return "Apply complete: " + ", ".join(parts) + "."
