"""`mxsync plan` and `mxsync show`: the plan for people (text), programs (JSON) or a
pull-request comment (Markdown). Orgs that could not be planned are in the text plan;
with any other format stdout is for a machine or a file, so they are said on stderr too."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mxsync.views import View

if TYPE_CHECKING:
    from mxsync.changed import ChangedOrgs
    from mxsync.plan import Plan
    from mxsync.policy.model import PolicyResult


class PlanText(View):
    FORMAT = "text"

    def show(self, plan: Plan, verdict: PolicyResult | None = None) -> None:
        from mxsync.render.targeting import targeting_warning
        from mxsync.render.text import render_plan

        self.colored(lambda color: render_plan(plan, color=color))
        self.verdict(verdict)
        warning = targeting_warning(plan)
        if warning:
            self.note(f"\nWarning: {warning}")

    def verdict(self, verdict: PolicyResult | None) -> None:
        """The policies' verdict follows the plan, in the plan's format."""
        if verdict is not None:
            from mxsync.render.policy import render_result

            self.out("\n" + render_result(verdict, self.FORMAT))

    def errors(self, plan: Plan) -> None:
        """Already in the text plan."""

    def changed(self, found: ChangedOrgs) -> None:
        """What `--changed-since` left out, as Terraform says that targeting is in effect."""
        from mxsync.render.safe import printable
        from mxsync.render.words import plural

        if found.everything:
            self.note(f"Planning every org: `{found.everything}`, which all orgs share, "
                      f"changed since {found.ref}.")
        elif not found.changed:
            self.note(f"No org of the manifest changed since {found.ref}: nothing to plan.")
        else:
            left = ", ".join(found.unchanged) or "none"
            self.note(printable(
                f"Planning only the {plural(len(found.changed), 'org')} changed since "
                f"{found.ref}: {', '.join(found.changed)}. Left out, unchanged: {left}."))

    def saved(self, path: Path, plan: Plan) -> None:
        if plan.errors:  # apply refuses such a plan: never offer it
            self.note(f"Saved the plan to {path} for review only: it has errors, and apply "
                      "refuses a plan with errors. Fix them and plan again.")
        else:
            self.note(f"Saved the plan to {path}: apply it with `mxsync apply {path}`.")


class PlanMarkdown(PlanText):
    FORMAT = "markdown"

    def show(self, plan: Plan, verdict: PolicyResult | None = None) -> None:
        from mxsync.render.markdown import plan_markdown

        self.out(plan_markdown(plan))
        self.verdict(verdict)

    def errors(self, plan: Plan) -> None:
        from mxsync.render.reasons import sentence

        for org_id, error in plan.errors:
            self.note(f"Error: org {org_id}: {sentence(error)}")


class PlanJson(PlanMarkdown):
    def show(self, plan: Plan, verdict: PolicyResult | None = None) -> None:
        import json

        from mxsync.flows.policy import plan_document_with
        from mxsync.render.json import plan_to_json

        self.out(json.dumps(plan_document_with(plan_to_json(plan), verdict), indent=2))

    def saved(self, path: Path, plan: Plan) -> None:
        """Nothing: stderr of a JSON run stays for errors."""


VIEWS: dict[str, type[PlanText]] = {"text": PlanText, "json": PlanJson, "markdown": PlanMarkdown}
