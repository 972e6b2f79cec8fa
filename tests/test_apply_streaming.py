"""Apply in CI (stdout and stderr not terminals): each step is printed as it completes, and
an apply stopped by SIGINT or SIGTERM says what was done and what was not.

The world: two orgs on one token; org `slow`'s create is held by the emulator (its answer
never comes while the test runs), org `quick`'s create goes through at once. So while apply
runs, one change is done and one is not, for as long as the test needs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cli_helpers import write_manifest
from tests.conftest import OrgFactory, TestOrg, fake_key


@dataclass
class Running:
    proc: subprocess.Popen[str]
    quick: TestOrg
    slow: TestOrg

    def line_until(self, *words: str) -> list[str]:
        """stdout's lines as they arrive, up to the first made of `words`."""
        assert self.proc.stdout is not None
        seen = []
        for line in self.proc.stdout:
            seen.append(line)
            if line.split() == list(words):
                return seen
        raise AssertionError(f"{words!r} never printed; stdout: {''.join(seen)}")


@pytest.fixture
def held_apply(new_org: OrgFactory, tmp_path: Path, request: pytest.FixtureRequest
               ) -> Iterator[Running]:
    """The apply, running; `indirect` parameters add to its environment."""
    quick = new_org()
    slow = new_org(extra_memberships={quick.id: "owner"})
    slow.faults({"timeout": 1.0}, hold_s=60, routes=["POST /credentials"])
    path = write_manifest(tmp_path / "m.yaml", [
        {"id": org.id, "xai": {"credentials": [{"name": name, "api_key_env": f"K_{name}"}]}}
        for org, name in ((quick, "fast"), (slow, "held"))])
    env = {**{k: v for k, v in os.environ.items()
              if not k.startswith(("MODULEX_", "XAI_", "MXSYNC_", "NO_COLOR"))},
           "MODULEX_BASE_URL": slow.url, "MODULEX_API_KEY": slow.token,
           "K_fast": fake_key(), "K_held": fake_key(), **getattr(request, "param", {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mxsync", "apply", "-f", path, "--auto-approve",
         "--skip-tests", "--timeout", "120"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env)
    try:
        yield Running(proc, quick, slow)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)
        slow.faults({})


def test_each_step_is_printed_while_apply_still_runs(held_apply: Running) -> None:
    quick = held_apply.quick
    lines = held_apply.line_until("ok", "create", f"{quick.id}/xai/fast")
    # The quick org's step is on stdout while the held create keeps apply running.
    assert held_apply.proc.poll() is None
    assert lines[-2].strip() == quick.id  # under its org's name, as in the final report
    assert not any("Apply complete" in line for line in lines)


@pytest.mark.parametrize("held_apply", [{"MXSYNC_PROGRESS_INTERVAL_S": "0.2"}], indirect=True)
def test_a_held_apply_logs_how_many_changes_are_done(held_apply: Running) -> None:
    """Without a terminal, stderr says every interval how far apply is, while a call is held."""
    held_apply.line_until("ok", "create", f"{held_apply.quick.id}/xai/fast")
    assert held_apply.proc.stderr is not None
    for line in held_apply.proc.stderr:
        if line == "mxsync: applying: 1/2 changes done\n":
            break
        assert line.startswith("mxsync: "), line
    else:
        raise AssertionError("no progress line on stderr")
    assert held_apply.proc.poll() is None


def _interrupt(held_apply: Running, sig: signal.Signals) -> tuple[str, str]:
    held_apply.line_until("ok", "create", f"{held_apply.quick.id}/xai/fast")
    held_apply.proc.send_signal(sig)
    out, err = held_apply.proc.communicate(timeout=60)
    return out, err


@pytest.mark.parametrize(("sig", "code", "name"), [(signal.SIGINT, 130, "Interrupted"),
                                                    (signal.SIGTERM, 143, "Terminated")])
def test_a_signal_during_apply_says_what_was_done_and_what_was_not(
        held_apply: Running, sig: signal.Signals, code: int, name: str) -> None:
    out, err = _interrupt(held_apply, sig)
    assert held_apply.proc.returncode == code, err
    assert name in err
    done, _, not_done = err.partition("Not done")
    assert f"{held_apply.quick.id}/xai/fast" in done, err
    assert f"{held_apply.slow.id}/xai/held" in not_done
    assert f"{held_apply.slow.id}/xai/held" not in done
    assert "Traceback" not in err
    assert "Apply complete" not in out
