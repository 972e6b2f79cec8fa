"""The one door every byte mxsync prints goes through: a redacting stream over stdout and
stderr.

`main()` installs it before anything runs, so whatever writes to `sys.stdout` or
`sys.stderr` -- `click.echo` in every format, the progress lines, the `--debug` log, a
traceback, a warning -- is redacted by `mxsync.secrets.redact` (the run's own secrets in
every echoed form, and anything shaped like a key or token) on its way out. Files take
the other door, `mxsync.files`, which redacts the same way.

A secret never holds a line break, so text is passed on a line at a time (and on every
`flush`, which a progress line calls): a value can never be split between two scans.
"""

from __future__ import annotations

import io
import sys
from typing import TextIO

# Text without any of these, written before any secret was registered (the redaction
# module not even imported, as for `--version` or `--help`), cannot hold a secret.
_SHAPE_MARKERS = ("xai-", "mx_live_", "mx_test_", "eyJ")


def redacted(text: str) -> str:
    """`text` as it may leave the process."""
    if "mxsync.secrets.redaction" not in sys.modules and not any(
            marker in text for marker in _SHAPE_MARKERS):
        return text
    from mxsync.secrets.redaction import redact

    return redact(text)


class RedactingStream(io.TextIOBase):
    """A text stream that redacts what it is given, then writes it to `inner`.

    It has no `buffer`: a writer that looks for the binary stream underneath (click does,
    for bytes) finds none, so nothing can go round it."""

    def __init__(self, inner: TextIO) -> None:
        super().__init__()
        self.inner = inner
        self._pending = ""

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self.inner.encoding

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return self.inner.errors

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        pending = self._pending + text
        cut = max(pending.rfind("\n"), pending.rfind("\r"))
        if cut == -1:
            self._pending = pending
        else:
            self._pending = pending[cut + 1:]
            self.inner.write(redacted(pending[:cut + 1]))
        return len(text)

    def flush(self) -> None:
        if self._pending:
            pending, self._pending = self._pending, ""
            self.inner.write(redacted(pending))
        self.inner.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self.inner.isatty()

    def fileno(self) -> int:
        return self.inner.fileno()

    def close(self) -> None:
        self.flush()


def install() -> None:
    """Put a `RedactingStream` over `sys.stdout` and `sys.stderr` (once)."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, RedactingStream):
            setattr(sys, name, RedactingStream(stream))


def emit(text: str, *, err: bool = False) -> None:
    """Write one line to stdout (or stderr), redacted; for code that runs outside `main()`."""
    stream = sys.stderr if err else sys.stdout
    if not isinstance(stream, RedactingStream):
        text = redacted(text)
    stream.write(text + "\n")
    stream.flush()
