"""Every exit status mxsync ends with, named once.

Scripts and CI steps branch on these numbers (`plan --detailed-exitcode`, the action's
`ok-exit-codes`), so each has one meaning: a usage error is an ERROR like any other, never
CHANGES. Kept free of imports beyond the standard library: `mxsync --version` loads it.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1  # a failure, a refusal, a usage error, a declined approval
    CHANGES = 2  # `plan --detailed-exitcode` only: the plan has changes
    INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT (128 + 2)
    BROKEN_PIPE = 141  # the reader went away, as shells report SIGPIPE (128 + 13)
    TERMINATED = 143  # SIGTERM (CI cancelling a job), as shells report it (128 + 15)
