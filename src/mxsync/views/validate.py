"""`mxsync validate`: located problems, one a line (text), or as a JSON list."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mxsync.views import View

if TYPE_CHECKING:
    from mxsync.flows.validate import Validation


class ValidateText(View):
    def show(self, v: Validation) -> None:
        from mxsync.manifest.problems import summary
        from mxsync.render.words import plural

        for problem in v.problems:
            self.out(problem.format())
        if v.errors:
            self.out(summary(v.problems))
        elif v.paths:
            self.out(f"{plural(len(v.paths), 'manifest')} valid.")
        elif v.manifest is not None:
            m = v.manifest
            warned = f" ({plural(len(v.problems), 'warning')})" if v.problems else ""
            self.out(f"{', '.join(v.files)}: {plural(len(m.orgs), 'org')}, "
                     f"{plural(m.credential_count, 'credential')}, valid{warned}.")


class ValidateJson(ValidateText):
    def show(self, v: Validation) -> None:
        import json

        self.out(json.dumps([p.to_json() for p in v.problems], indent=2))


VIEWS: dict[str, type[ValidateText]] = {"text": ValidateText, "json": ValidateJson}
