"""The one door for every file mxsync writes (a saved plan, an imported manifest, the step
summary, the catalog cache): what is written is redacted first, only a regular file is
ever created or replaced, and a reader never sees half of one.

What is at the path decides: nothing or a regular file is replaced atomically (a unique
temporary file beside it, created with its final mode, so a secret-adjacent file is never
readable by others, not even for the instant before a chmod, then renamed over the path);
a character device such as /dev/null is opened and written through, never replaced; a
directory, FIFO, socket or block device is refused, since replacing it would break
whatever uses it and writing into a FIFO could block forever.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from mxsync.errors import MxsyncError


def _redacted(text: str) -> str:
    from mxsync.secrets import redact

    return redact(text)


def _kind(path: Path) -> str:
    """'absent', 'regular' or 'device' (a character device); MxsyncError for anything else."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "absent"
    except OSError as exc:
        raise MxsyncError(f"cannot write {path}: {exc.strerror or exc}") from None
    if stat.S_ISREG(mode):
        return "regular"
    if stat.S_ISCHR(mode):
        return "device"
    what = ("a directory" if stat.S_ISDIR(mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(mode)
            else "a socket" if stat.S_ISSOCK(mode) else "a block device" if stat.S_ISBLK(mode)
            else "not a regular file")
    raise MxsyncError(f"cannot write {path}: it is {what}; mxsync writes only regular files",
                      hint="give the path of a regular file (it is created if missing)")


def _write_through(path: Path, text: str, *, append: bool = False) -> None:
    """Open an existing character device (or file) and write into it; never create one."""
    flags = os.O_WRONLY | os.O_NOCTTY | (os.O_APPEND if append else 0)
    try:
        fd = os.open(path, flags)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise MxsyncError(f"cannot write {path}: {exc.strerror or exc}") from None


def atomic_write(path: Path, text: str, *, mode: int = 0o644, replace: bool = True,
                 redacted: bool = True) -> None:
    """Write the redacted `text` to `path` (see the module text for what may be there).

    `replace=False` refuses an existing regular file (the caller offers `--force`).
    `redacted=False` is for the emulator's state file alone: it is the emulator's fake world,
    keys and tokens included by design, and a redacted copy could not be served again."""
    if redacted:
        text = _redacted(text)
    kind = _kind(path)
    if kind == "device":
        _write_through(path, text)
        return
    if kind == "regular" and not replace:
        raise MxsyncError(f"{path} exists; it was left as it is",
                          hint="pass --force to replace it, or give another path")
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
        _kind(path)  # what appeared at the path meanwhile is refused just the same
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise MxsyncError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def append_text(path: Path, text: str, *, mode: int = 0o644) -> None:
    """Add the redacted `text` to the end of `path` (a CI step summary), creating a regular
    file if none is there."""
    text = _redacted(text)
    if _kind(path) == "device":
        _write_through(path, text, append=True)
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOCTTY | os.O_NONBLOCK,
                     mode)
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped in since the check
            os.close(fd)
            _kind(path)
            raise MxsyncError(f"cannot write {path}: it is not a regular file")
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise MxsyncError(f"cannot write {path}: {exc.strerror or exc}") from None
