"""Optional parts of mxsync, and the one sentence a user needs when one is missing.

`pip install mxsync` brings what validate, plan and apply need. The emulator (and so the
demo, which runs on it) needs a web stack that CI and production hosts have no use for,
so it is the `emulator` extra. Without it, a command that needs it must say how to get it
rather than fail on an ImportError deep inside the server code.
"""

from __future__ import annotations

from mxsync.errors import MxsyncError

EMULATOR_INSTALL = "pip install 'mxsync[emulator]'"


def require_emulator(command: str) -> None:
    """Raise a clear `MxsyncError` when the emulator's web stack cannot be imported."""
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        missing = exc.name or "fastapi"
        raise MxsyncError(
            f"`mxsync {command}` needs `{EMULATOR_INSTALL}`: {missing} is not installed",
            hint="the emulator runs on FastAPI and uvicorn, which a plain `pip install mxsync` "
                 "leaves out; validate, plan and apply work without them",
        ) from None
