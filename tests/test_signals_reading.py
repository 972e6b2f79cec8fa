"""plan, audit and import (and apply while it plans) stopped by SIGTERM (CI cancelling a job)
or Ctrl-C: they say how many orgs were read and what was not written, exit 143 or 130, print
no traceback and leave no half-written file (issue #24).

The world: two orgs on one token; org `slow`'s credential list is held by the emulator (its
answer never comes while the test runs), org `quick`'s is answered at once. So while the
command runs, one org is read and one is not, for as long as the test needs; the progress
line on stderr (every 0.2 s here, as in a CI log) says when that point is reached.
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

from mxsync import ownership
from mxsync.importer import key_variable
from tests.cli_helpers import write_manifest
from tests.conftest import OrgFactory, TestOrg, fake_key


@dataclass
class World:
    quick: TestOrg
    slow: TestOrg
    keys: dict[str, str]  # org id -> the key of its one credential


@dataclass
class Running:
    proc: subprocess.Popen[str]
    seen: list[str]

    def stderr_until(self, start: str) -> None:
        """Read stderr's lines as they arrive, up to the first that starts with `start`."""
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.seen.append(line)
            if line.startswith(start):
                return
        raise AssertionError(f"{start!r} never printed; stderr: {''.join(self.seen)}")

    def stop(self, sig: signal.Signals) -> tuple[str, str]:
        """Send `sig`; stdout, and stderr from the first line read, once the run has ended."""
        self.proc.send_signal(sig)
        out, rest = self.proc.communicate(timeout=60)
        return out, "".join(self.seen) + rest


@pytest.fixture
def world(new_org: OrgFactory) -> Iterator[World]:
    keys = [fake_key(), fake_key()]
    quick = new_org(credentials=[{"integration_name": "xai", "display_name": "main",
                                  "api_key": keys[0]}])
    slow = new_org(credentials=[{"integration_name": "xai", "display_name": "main",
                                 "api_key": keys[1]}],
                   extra_memberships={quick.id: "owner"})
    try:
        yield World(quick, slow, {quick.id: keys[0], slow.id: keys[1]})
    finally:
        slow.faults({})


def start(world: World, *args: str, **env: str) -> Running:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("MODULEX_", "XAI_", "MXSYNC_", "NO_COLOR"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mxsync", *args, "--timeout", "120"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**base, "MODULEX_BASE_URL": world.slow.url, "MODULEX_API_KEY": world.slow.token,
             "MXSYNC_PROGRESS_INTERVAL_S": "0.2", **env})
    return Running(proc, [])


@pytest.fixture
def running() -> Iterator[list[Running]]:
    """Whatever a test starts is ended with it, even when an assertion fails first."""
    started: list[Running] = []
    yield started
    for run in started:
        if run.proc.poll() is None:
            run.proc.kill()
        run.proc.communicate(timeout=30)


def held_read(world: World) -> None:
    world.slow.faults({"timeout": 1.0}, hold_s=60, routes=["GET /credentials"])


def manifest(world: World, folder: Path) -> str:
    return write_manifest(folder / "m.yaml", [{"id": o.id, "xai": {"credentials": []}}
                                              for o in (world.quick, world.slow)])


OLD_MANIFEST = "# the manifest imported yesterday\n"


def command(name: str, world: World, folder: Path) -> tuple[list[str], str]:
    """The command line, and what the interruption must say after "nothing was changed"."""
    if name == "plan":
        return ["plan", "-f", manifest(world, folder), "--out", str(folder / "plan.json")], \
            "; no plan was saved."
    if name == "apply":  # its planning half: nothing changed yet
        return ["apply", "-f", manifest(world, folder), "--auto-approve"], "."
    if name == "audit":
        return ["audit", "-f", manifest(world, folder)], "; no findings were reported."
    (folder / "imported.yaml").write_text(OLD_MANIFEST)
    return ["import", "--org", world.quick.id, "--org", world.slow.id,
            "-o", str(folder / "imported.yaml"), "--force"], \
        f"; {folder / 'imported.yaml'} is as it was."


@pytest.mark.parametrize("name", ["plan", "audit", "import", "apply"])
def test_sigterm_while_reading_says_what_was_read_and_writes_nothing(
        world: World, tmp_path: Path, running: list[Running], name: str) -> None:
    held_read(world)
    args, unwritten = command(name, world, tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    run = start(world, *args)
    running.append(run)
    run.stderr_until("mxsync: reading the live state: 1/2 orgs")  # quick read, slow held
    out, err = run.stop(signal.SIGTERM)
    assert run.proc.returncode == 143, err
    assert err.endswith(f"Terminated (SIGTERM) during {name}: read 1 of 2 orgs; "
                        f"nothing was changed{unwritten}\n"), err  # nothing said after it
    assert "Traceback" not in err
    assert out == ""  # no half of a plan, a report or a manifest
    # No file written, none replaced, no temporary file left beside them.
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    if name == "import":
        assert (tmp_path / "imported.yaml").read_text() == OLD_MANIFEST


def test_ctrl_c_while_reading_exits_130_and_says_what_was_read(
        world: World, tmp_path: Path, running: list[Running]) -> None:
    held_read(world)
    run = start(world, "plan", "-f", manifest(world, tmp_path), "--out",
                str(tmp_path / "plan.json"))
    running.append(run)
    run.stderr_until("mxsync: reading the live state: 1/2 orgs")
    out, err = run.stop(signal.SIGINT)
    assert run.proc.returncode == 130, err
    assert err.endswith("Interrupted (SIGINT) during plan: read 1 of 2 orgs; nothing was "
                        "changed; no plan was saved.\n"), err
    assert "Traceback" not in err and out == ""
    assert not (tmp_path / "plan.json").exists()


def test_sigterm_while_adopting_says_what_was_adopted(
        world: World, tmp_path: Path, running: list[Running]) -> None:
    """`import --adopt` does change the server: stopped while adopting, it lists what it
    adopted, and the org it had not adopted yet is left unmarked."""
    world.slow.faults({"timeout": 1.0}, hold_s=60,
                      routes=["GET /credentials/{credential_id}"])
    out_file = tmp_path / "imported.yaml"
    keys = {key_variable(o.id, "main"): world.keys[o.id] for o in (world.quick, world.slow)}
    run = start(world, "import", "--org", world.quick.id, "--org", world.slow.id,
                "-o", str(out_file), "--adopt", **keys)
    running.append(run)
    run.stderr_until(f"Wrote {out_file}")
    # The quick org's masked key read and its adoption done; the slow org's read is held.
    run.stderr_until("mxsync: checking: 2 calls done, 1 left")
    out, err = run.stop(signal.SIGTERM)
    assert run.proc.returncode == 143, err
    said = err[err.index("Terminated (SIGTERM) during import"):].splitlines()
    assert said[0] == (f"Terminated (SIGTERM) during import: read 2 of 2 orgs; the manifest "
                       f"was written to {out_file}.")
    assert said[1] == "Adoptions done so far:"
    assert world.quick.id in said[2] and "adopt" in said[2]
    assert world.slow.id not in "\n".join(said)
    assert "Traceback" not in err
    assert all(key not in out + err for key in world.keys.values())
    marked = {o.id: ownership.has_marker(o.xai()[0]["credentials_metadata"])
              for o in (world.quick, world.slow)}
    assert marked == {world.quick.id: True, world.slow.id: False}


def test_ctrl_c_at_a_terminal_is_said_on_a_line_of_its_own(world: World, tmp_path: Path) -> None:
    """At a terminal the progress line is open (rewritten in place, no newline yet): what
    is said when Ctrl-C stops the run starts on a line of its own, not glued to it."""
    from tests.test_cli_terminal import CTRL_C, on_terminal

    held_read(world)
    path = write_manifest(tmp_path / "m.yaml", [{"id": world.slow.id, "xai": {"credentials": []}}])
    term = on_terminal("plan", "-f", path, "--timeout", "120", "--no-color",
                       env={"MODULEX_BASE_URL": world.slow.url,
                            "MODULEX_API_KEY": world.slow.token})
    term.read_until(b"Reading the live state: 0/1 orgs")
    term.type(CTRL_C)
    code, shown = term.finish()
    assert code == 130, shown
    assert "\r\nInterrupted (SIGINT) during plan: read 0 of 1 org; nothing was changed.\r\n" \
        in shown, repr(shown)
    assert "Traceback" not in shown
