"""The warning a targeted plan carries, as Terraform's "Resource targeting is in effect".

`--target` (and `--changed-since`, which targets the changed orgs) plans part of the
manifest: whatever else differs from the live state is neither shown nor applied. Every
rendering of such a plan says so (text on stderr, Markdown in the comment, JSON as fields),
so a reviewer never takes a partial plan for the whole."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mxsync.render.safe import printable

if TYPE_CHECKING:
    from mxsync.plan import Plan


def targeting_warning(plan: Plan) -> str | None:
    """One paragraph, or None when the plan covers the whole manifest. When `--changed-since`
    chose the targets the advice differs: it is meant for every pull request, so the advice
    is a full plan now and then, not "do not use it"."""
    targets = plan.options.targets
    changed_since = plan.options.changed_since
    if not targets:
        return None
    what = ", ".join(targets)
    if changed_since is not None:
        return printable(
            f"Targeting is in effect (--changed-since {changed_since}: {what}), so this plan may "
            "be incomplete: drift in the orgs left out is not shown. Run a full plan (without "
            "--changed-since) regularly to see it.")
    return printable(
        f"Targeting is in effect: only {what} {'was' if len(targets) == 1 else 'were'} "
        "planned, so this plan may be incomplete: other changes the manifest calls for are "
        "neither shown nor applied. --target is for exceptional cases (recovering from an "
        "error, one rotation), not for routine use; run a full plan to see everything.")
