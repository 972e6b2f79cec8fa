"""`mxsync apply`: the plan before the prompt, progress while it runs, then the report
(text); or one JSON document with the plan and what was done."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mxsync.views import View

if TYPE_CHECKING:
    from mxsync.executor import ApplyReport
    from mxsync.plan import Plan
    from mxsync.policy.model import PolicyResult
    from mxsync.render.steps import Hooks


class ApplyText(View):
    def plan(self, plan: Plan) -> None:
        from mxsync.render.targeting import targeting_warning
        from mxsync.render.text import render_plan

        self.colored(lambda color: render_plan(plan, color=color))
        warning = targeting_warning(plan)
        if warning:
            self.note(f"\nWarning: {warning}")  # targeting_warning made it printable

    def targeted(self, plan: Plan) -> None:
        """After the report, as Terraform does: what was applied may be incomplete."""
        if plan.options.targets:
            from mxsync.render.safe import printable

            self.note("\nWarning: " + printable(
                f"targeting was in effect ({', '.join(plan.options.targets)}): "
                "changes the manifest calls for elsewhere were not applied; run a full plan "
                "to see what remains."))

    def verdict(self, verdict: PolicyResult | None) -> None:
        """The policies' verdict, after the plan and before the prompt."""
        if verdict is not None:
            from mxsync.render.policy import policy_text

            self.out("\n" + policy_text(verdict))

    def cancelled(self, *, interrupted: bool) -> None:
        self.note(("\n" if interrupted else "") + "Apply cancelled; nothing was changed.")

    streamed = False  # the steps were written to stdout as they completed

    def progress(self, plan: Plan) -> Hooks | None:
        """On stderr, a line rewritten in place at a terminal, else `applying: 3/7 changes
        done` every interval; when stdout is not a terminal (CI), each step's line there as
        it completes, so a log is not silent until the end."""
        import sys

        from mxsync.render.progress import ApplyLog, ApplyProgress
        from mxsync.render.steps import Hooks, StepStream
        from mxsync.render.summary import progress_total

        self.streamed = not sys.stdout.isatty()
        total = progress_total(plan)
        return Hooks(ApplyProgress(total) if sys.stderr.isatty() else ApplyLog(total),
                     StepStream() if self.streamed else None)

    def report(self, plan: Plan, report: ApplyReport) -> None:
        if self.streamed:
            from mxsync.render.steps import report_tail

            shown = any(o.steps for o in report.orgs)
            self.out(("\n" if shown else "") + report_tail(report))
        else:
            from mxsync.render.text import render_report

            self.colored(lambda color: render_report(report, color=color))
        self.targeted(plan)


class ApplyJson(ApplyText):
    def plan(self, plan: Plan) -> None:
        """Nothing yet: the plan is part of the one JSON document at the end."""

    def progress(self, plan: Plan) -> Hooks | None:
        """Nothing on stdout before the one JSON document; on stderr, as for text."""
        import sys

        from mxsync.render.progress import ApplyLog, ApplyProgress
        from mxsync.render.steps import Hooks
        from mxsync.render.summary import progress_total

        total = progress_total(plan)
        return Hooks(ApplyProgress(total) if sys.stderr.isatty() else ApplyLog(total))

    def verdict(self, verdict: PolicyResult | None) -> None:
        """Nothing: a deny is refused with an error; stdout holds one JSON document."""

    def report(self, plan: Plan, report: ApplyReport) -> None:
        import json

        from mxsync.render.json import known_after_apply, plan_to_json, report_to_json

        self.out(json.dumps({"plan": known_after_apply(plan_to_json(plan), report),
                             "apply": report_to_json(report)}, indent=2))


VIEWS: dict[str, type[ApplyText]] = {"text": ApplyText, "json": ApplyJson}
