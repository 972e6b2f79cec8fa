"""Apply's steps as they happen, for a log (CI): each step's line when it completes, then
only what the end adds (an org's failure, a note) and the summary.

At a terminal the steps are shown once, in the report at the end, while a status line moves
(`render.progress.ApplyProgress`). In a log nothing moves, so waiting for the end would leave
the log silent for the whole apply; here every step is written, and flushed, as it completes.
Orgs run concurrently: an org's name is written again whenever its steps resume after
another org's, so every step line stays under the org it belongs to.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, TextIO

from mxsync.outcomes import StepCode
from mxsync.render.safe import printable

if TYPE_CHECKING:
    from mxsync.outcomes import ApplyReport, Step


class StepStream:
    """The executor's progress hook that writes each recorded step to `stream` (stdout)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.org: str | None = None  # whose steps the last lines were
        self.shown = 0

    def __call__(self, step: Step) -> None:
        from mxsync.render.outcomes import step_line

        if step.code is StepCode.PROPAGATING:  # a wait still under way, not a step taken
            return
        lines: list[str] = []
        if step.org != self.org:
            lines += ([""] if self.org is not None else []) + [printable(step.org)]
            self.org = step.org
        lines.append("  " + printable(step_line(step)))
        self.stream.write("".join(f"{line}\n" for line in lines))
        self.stream.flush()
        self.shown += 1

    def close(self) -> None:
        """Nothing to wipe: every line written stays."""


class Hooks:
    """Several progress hooks as one: the log's step lines, the terminal's status line,
    the periodic line for a log's stderr, the record an interruption reports from."""

    def __init__(self, *hooks: Any) -> None:
        self.hooks = [h for h in hooks if h is not None]

    def __call__(self, step: Step) -> None:
        for hook in self.hooks:
            hook(step)

    def close(self) -> None:
        for hook in self.hooks:
            hook.close()


def report_tail(report: ApplyReport) -> str:
    """What the report adds to the steps already written: each failed org's error, each
    org's note (a saved plan found applied), and the closing summary."""
    from mxsync.render.outcomes import report_summary
    from mxsync.render.reasons import sentence

    lines: list[str] = []
    for org in report.orgs:
        extra = []
        if org.status == "unchanged" and org.note:
            extra.append(f"  {printable(sentence(org.note))}")
        if org.errors:
            extra.append("  failed: " + printable("; ".join(sentence(e) for e in org.errors)))
        if extra:
            lines += [printable(org.org), *extra, ""]
    closing = report_summary(report)
    if not report.failed and any(o.note for o in report.orgs) and not any(
            o.steps for o in report.orgs):
        closing = "Nothing to apply: the plan was already applied."
    lines.append(closing)
    return "\n".join(lines)
