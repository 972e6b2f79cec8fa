"""`mxsync apply` without a saved plan: ask a person before changing anything.

Only a typed `yes` approves (as Terraform asks); Ctrl-C or Ctrl-D at the prompt is a
choice not to go on, not a crash. With no terminal to ask on, apply refuses unless
--auto-approve was given: CI must say so on purpose.
"""

from __future__ import annotations

import sys
from enum import Enum

import click

from mxsync.errors import MxsyncError

QUESTION = "\nDo you want to perform these actions? Only 'yes' will be accepted to approve"


class Approval(Enum):
    NOT_ASKED = "not-asked"  # no changes, or --auto-approve
    APPROVED = "approved"  # a person typed yes: the plan is checked for staleness again
    DECLINED = "declined"  # anything but yes
    INTERRUPTED = "interrupted"  # Ctrl-C or Ctrl-D at the prompt


def approve(has_changes: bool, auto_approve: bool) -> Approval:
    """Ask for approval when it is needed; refuse when it is needed but cannot be asked."""
    if not has_changes or auto_approve:
        return Approval.NOT_ASKED
    if not sys.stdin.isatty():
        raise MxsyncError(
            "refusing to apply without approval: there is no terminal to ask on and "
            "--auto-approve was not given; nothing was changed",
            hint="review with `mxsync plan --out FILE`, then run `mxsync apply FILE`, "
                 "or pass --auto-approve")
    try:
        answer = ask(QUESTION)
    except click.Abort:
        return Approval.INTERRUPTED
    return Approval.APPROVED if answer.strip() == "yes" else Approval.DECLINED


def ask(question: str) -> str:
    """One line typed at the terminal; click.Abort on Ctrl-C or Ctrl-D.

    Not `input()`: a Ctrl-C that lands just before it starts reading is noted by Python but
    does not interrupt the read, and the prompt then ignores it. Waiting in select() on the
    terminal and on a signal wakeup fd leaves no such gap."""
    import os
    import select
    import signal
    import threading

    if os.name == "nt" or threading.current_thread() is not threading.main_thread():
        return str(click.prompt(question, default="", show_default=False))
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    previous = signal.set_wakeup_fd(wake_write, warn_on_full_buffer=False)
    try:
        click.echo(f"{question}: ", nl=False)
        while True:
            ready, _, _ = select.select([sys.stdin, wake_read], [], [])
            if wake_read in ready:  # a signal came; a SIGINT has raised by now
                os.read(wake_read, 512)
            if sys.stdin in ready:
                line = sys.stdin.readline()
                if not line:
                    raise EOFError
                return line.rstrip("\r\n")
    except (KeyboardInterrupt, EOFError):
        raise click.Abort() from None
    finally:
        signal.set_wakeup_fd(previous)
        os.close(wake_read)
        os.close(wake_write)
