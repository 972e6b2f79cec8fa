"""`mxsync import`: the manifest on stdout (or a line saying where it was written), what
could not be read on stderr, then what `--adopt` did."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mxsync.views import View
from mxsync.views.audit import AuditText

if TYPE_CHECKING:
    from mxsync.executor import ApplyReport
    from mxsync.flows.imports import ImportRun
    from mxsync.plan import Plan


class ImportText(View):
    def read(self, run: ImportRun) -> None:
        from mxsync.render.reasons import sentence
        from mxsync.render.safe import printable

        AuditText(self.color).skipped(run.read.skipped)
        for org_id, why in run.read.failed.items():
            self.note(f"Error: org {printable(org_id)} was not imported: {sentence(why)}")

    def manifest(self, run: ImportRun, written_to: Path | None) -> None:
        from mxsync.render.words import plural

        if written_to is None:
            self.out(run.text, nl=False)
            return
        self.note(f"Wrote {written_to}: {plural(len(run.read.states), 'org')}, "
                  f"{plural(len(run.imported.variables), 'credential')}.")

    def adopted(self, plan: Plan, report: ApplyReport) -> None:
        from mxsync.render.reasons import sentence
        from mxsync.render.safe import printable
        from mxsync.render.text import render_report

        for org_id, error in plan.errors:
            self.note(f"not adopted: org {printable(org_id)}: {sentence(error)}")
        self.colored(lambda color: render_report(report, color=color), err=True)


VIEWS: dict[str, type[ImportText]] = {"text": ImportText}
