"""`mxsync audit`: findings for people (text), programs (JSON), a pull-request comment or
the job summary (Markdown), or a CI test report (JUnit)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from mxsync.views import View

if TYPE_CHECKING:
    from mxsync.audit import AuditResult


class AuditText(View):
    """`show` gets `--fail-on`: a format that marks what fails the run (JUnit) must agree with
    the exit code."""

    def skipped(self, org_ids: Sequence[str]) -> None:
        """`--all-orgs` found orgs the token belongs to but cannot manage."""
        if not org_ids:
            return
        from mxsync.render.safe import printable
        from mxsync.render.words import plural

        self.note(f"Skipped {plural(len(org_ids), 'org')} the token belongs to but cannot manage "
                  f"(not owner or admin): {printable(', '.join(org_ids))}")

    def assistant_unchecked(self, count: int) -> None:
        """Orgs whose settings were not read, so the Assistant's checks did not run there:
        said, so that a check left out is never mistaken for one that passed."""
        if not count:
            return
        from mxsync.render.words import plural

        self.note(f"The Assistant's checks (assistant-dangling, assistant-unmanaged) did not run "
                  f"in {plural(count, 'org')}: settings are read only where a manifest sets "
                  f"models or assistant (nowhere in an audit without one); --check-assistant "
                  f"reads them everywhere (one more call per org).")

    def show(self, result: AuditResult, fail_on: str = "error") -> None:
        from mxsync.render.text import render_audit

        self.colored(lambda color: render_audit(result, color=color))

    def step_summary(self, result: AuditResult) -> str | None:
        """What goes to the CI job summary: only the Markdown report is made for it."""
        return None


class AuditJson(AuditText):
    def show(self, result: AuditResult, fail_on: str = "error") -> None:
        import json

        from mxsync.render.json import audit_to_json

        self.out(json.dumps(audit_to_json(result), indent=2))


class AuditJunit(AuditText):
    def show(self, result: AuditResult, fail_on: str = "error") -> None:
        from mxsync.render.junit import audit_junit

        self.out(audit_junit(result, fail_on))

    def step_summary(self, result: AuditResult) -> str | None:
        """JUnit is for the CI's test report; people read the job summary, so the same run
        writes the Markdown there: a nightly job audits once, not once per format."""
        from mxsync.render.markdown import audit_markdown

        return audit_markdown(result)


class AuditMarkdown(AuditText):
    def show(self, result: AuditResult, fail_on: str = "error") -> None:
        from mxsync.render.markdown import audit_markdown

        self.out(audit_markdown(result))

    def step_summary(self, result: AuditResult) -> str | None:
        from mxsync.render.markdown import audit_markdown

        return audit_markdown(result)


VIEWS: dict[str, type[AuditText]] = {"text": AuditText, "table": AuditText, "json": AuditJson,
                                     "junit": AuditJunit, "markdown": AuditMarkdown}
