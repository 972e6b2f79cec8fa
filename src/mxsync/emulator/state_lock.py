"""One emulator per `--state` file: a non-blocking lock on a lock file beside it.

Two emulators on one state file would each save their own world over the
other's, and whichever wrote last would win without a word. The state file
itself cannot carry the lock: it is replaced by a rename on every save
(`mxsync.files.atomic_write`), so a lock on it would stay on the old file. The
lock file `STATE.lock` stays when the emulator stops, empty: removing it would
let a starter that opened it just before the removal lock a file nobody else
sees (and uvicorn ends the process by re-raising SIGTERM, so no cleanup would
run anyway). The lock itself goes with the process, however it ends.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mxsync.errors import MxsyncError


def lock_path(state: Path) -> Path:
    return state.with_name(state.name + ".lock")


@contextmanager
def locked_state(state: Path | None) -> Iterator[None]:
    """Hold the lock of `state` (nothing when None); MxsyncError if another emulator holds it."""
    if state is None or os.name != "posix":
        yield
        return
    import fcntl

    path = lock_path(state)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    except OSError as exc:
        raise MxsyncError(f"cannot create the lock file {path} for --state {state}: "
                          f"{exc.strerror}",
                          hint="check that the folder of the state file exists and is "
                               "writable") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise MxsyncError(
            f"another emulator is already running on the state file {state} "
            f"(it holds the lock on {path})",
            hint="stop that emulator first, or give this one its own --state file") from None
    try:
        yield
    finally:
        os.close(fd)
