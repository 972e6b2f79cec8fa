"""Promises about the code's shape that a user feels: a fast start and a planner that is
pure data in, data out."""

from __future__ import annotations

import subprocess
import sys

import pytest


def loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize("module", ["mxsync.planner", "mxsync.plan", "mxsync.state",
                                    "mxsync.render.text", "mxsync.render.json", "mxsync.audit"])
def test_pure_modules_do_not_load_the_http_stack(module: str) -> None:
    loaded = loaded_after(f"import {module}")
    assert not {"httpx", "httpcore", "deepdiff", "mxsync.api", "mxsync.live"} & loaded
