"""A manifest that cannot be loaded, said as JSON on stdout for `--format json` runs.

`plan`, `apply` and `audit` with `--format json` promise JSON on stdout; a bad manifest
must not leave a program reading it with nothing. The envelope follows Terraform's
`validate -json` (`format_version`, `valid`, counts, `diagnostics`), and each diagnostic
is exactly what `mxsync validate --format json` prints for a problem, so there is one
diagnostic format. The person reading the log still gets the text on stderr.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mxsync.views import View

if TYPE_CHECKING:
    from mxsync.manifest.problems import Problem

DIAGNOSTICS_FORMAT_VERSION = "1.0"


def diagnostics_document(problems: list[Problem]) -> dict[str, Any]:
    errors = sum(p.severity == "error" for p in problems)
    return {
        "format_version": DIAGNOSTICS_FORMAT_VERSION,
        "valid": errors == 0,
        "error_count": errors,
        "warning_count": len(problems) - errors,
        "diagnostics": [p.to_json() for p in problems],
    }


class DiagnosticsJson(View):
    def show(self, problems: list[Problem]) -> None:
        import json

        self.out(json.dumps(diagnostics_document(problems), indent=2))
