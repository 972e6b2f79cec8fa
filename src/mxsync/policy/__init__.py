"""Policy as code: Rego policies (conftest's conventions) judge plans and audits.

Built on regopy (the `policy` extra), run in a worker process (`worker`) so the engine's
crashes and printing never reach mxsync. `discovery` finds the files, `conventions` says
what the rules mean, `evaluate` judges a document, `cases` runs the policies' own tests."""

from __future__ import annotations

from mxsync.errors import MxsyncError

POLICY_INSTALL = "pip install 'mxsync[policy]'"


def require_policy(option: str = "--policy") -> None:
    """A clear error, not an ImportError, when regopy is missing."""
    import importlib.util

    if importlib.util.find_spec("regopy") is None:  # found, not loaded: the worker loads it
        raise MxsyncError(
            f"{option} needs `{POLICY_INSTALL}`: regopy is not installed",
            hint="the Rego engine (regopy) is an optional extra; plan, apply and audit work "
                 "without it when no --policy is given")
