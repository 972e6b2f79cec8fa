"""`mxsync demo`: the README's first command shows the whole cycle and converges."""

from __future__ import annotations

from pathlib import Path

from mxsync.demo import DEMO_ENV
from tests.cli_helpers import mxsync

ROOT = Path(__file__).resolve().parents[1]


def test_demo_runs_validate_plan_apply_plan() -> None:
    run = mxsync("demo", "--examples", str(ROOT / "examples"), env={})
    assert run.code == 0, run.both
    steps = [line for line in run.out.splitlines() if line.startswith("== ")]
    assert [s.split()[2] for s in steps] == ["validate", "plan", "apply", "plan"]
    assert "Plan: 3 to create, 0 to replace, 0 to delete, 1 default change." in run.out
    assert "Apply complete: 3 created, 0 replaced, 0 deleted, 1 default changed." in run.out
    assert "No changes. Live state matches the manifest." in run.out
    for secret in DEMO_ENV.values():
        assert secret not in run.both
