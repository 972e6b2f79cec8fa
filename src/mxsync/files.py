"""Writing files so that a reader never sees half of one, and a secret-adjacent file is
never readable by others, not even for the instant before a chmod."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from mxsync.errors import MxsyncError


def atomic_write(path: Path, text: str, *, mode: int = 0o644) -> None:
    """Write `text` to a unique temporary file beside `path` (created with `mode`), then
    rename it over `path`. Concurrent writers each use their own temporary file."""
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise MxsyncError(f"cannot write {path}: {exc.strerror or exc}",
                          hint=f"check that the folder {directory} exists and is writable") from None
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())  # the rename must never publish a file still in cache
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise MxsyncError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
