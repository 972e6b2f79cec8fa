"""`mxsync import`: the manifest on stdout (or a line saying where it was written), what
could not be read on stderr, then what `--adopt` did."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mxsync.views import View
from mxsync.views.audit import AuditText

if TYPE_CHECKING:
    from mxsync.flows.imports import Adoption, ImportRun


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

    def key_document(self, run: ImportRun, env: str, written_to: Path | None) -> None:
        """Which one secret to create, when every key is a field of one document."""
        if not run.imported.variables:
            return
        where = f"at the top of {written_to}" if written_to else "at the top of the manifest"
        self.note(f"Create one secret, {env}: a document with one field per key "
                  f"({run.imported.variables[0][0]}=xai-... and so on; the fields are listed "
                  f"{where}).")

    def adopted(self, adoption: Adoption) -> None:
        from mxsync.render.reasons import sentence
        from mxsync.render.safe import printable
        from mxsync.render.text import render_report
        from mxsync.render.words import plural

        for org_id, error in adoption.plan.errors:
            self.note(f"not adopted: org {printable(org_id)}: {sentence(error)}")
        if adoption.not_set:
            self.note(f"not tried: {plural(len(adoption.not_set), 'entry', 'entries')} whose key "
                      "is not set (listed at the top of the manifest); set them and run "
                      "`mxsync plan`, which adopts them")
        self.colored(lambda color: render_report(adoption.report, color=color), err=True)


VIEWS: dict[str, type[ImportText]] = {"text": ImportText}
