"""The error every user-facing failure becomes: what is wrong, where, and what to do."""

from __future__ import annotations

from mxsync.exit_codes import ExitCode


class MxsyncError(Exception):
    """An expected failure. The CLI prints it as one paragraph, with no traceback."""

    exit_code: int = ExitCode.ERROR

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  {self.hint}" if self.hint else self.message
