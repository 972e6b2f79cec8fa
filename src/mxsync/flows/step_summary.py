"""GitHub Actions' job summary: a step appends Markdown to the file `GITHUB_STEP_SUMMARY`
names, and the run's page shows it. Outside Actions the variable is unset: nothing to do."""

from __future__ import annotations

import os
from collections.abc import Mapping


def append_step_summary(text: str | None, environ: Mapping[str, str] | None = None) -> None:
    """Append `text` (when there is any) to the job summary, when there is one."""
    summary_file = (os.environ if environ is None else environ).get("GITHUB_STEP_SUMMARY")
    if text is None or not summary_file:
        return
    from pathlib import Path

    from mxsync.files import append_text

    append_text(Path(summary_file), text + "\n")  # redacted, regular files only
