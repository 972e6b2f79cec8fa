"""mxsync at a real terminal (a pseudo-terminal that is the process's controlling
terminal, so Ctrl-C and Ctrl-D mean what they mean to a user)."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import subprocess
import sys
import termios
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cli_helpers import write_manifest
from tests.conftest import OrgFactory, TestOrg, fake_key

CTRL_C, CTRL_D = b"\x03", b"\x04"
PROMPT = b"Only 'yes' will be accepted to approve"


@dataclass
class Terminal:
    proc: subprocess.Popen[bytes]
    master: int
    seen: bytes = b""

    def read_until(self, marker: bytes) -> bytes:
        """Everything shown until `marker` (select's timeout only stops a hung test)."""
        while marker not in self.seen:
            ready, _, _ = select.select([self.master], [], [], 60)
            if not ready or not self._read():
                raise AssertionError(f"{marker!r} never shown; the terminal shows {self.seen!r}")
        return self.seen

    def _read(self) -> bool:
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # EIO: the process closed the terminal
            return False
        self.seen += chunk
        return bool(chunk)

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def finish(self) -> tuple[int, str]:
        while True:
            ready, _, _ = select.select([self.master], [], [], 60)
            if not ready:  # still running with nothing to say: it ignored what was typed
                self.proc.kill()
                raise AssertionError(f"mxsync did not end; the terminal shows {self.seen!r}")
            if not self._read():
                break
        code = self.proc.wait(timeout=60)
        os.close(self.master)
        return code, self.seen.decode(errors="replace")


def _take_terminal() -> None:
    """In the child (a session leader): make the pty its controlling terminal, and let
    Ctrl-C interrupt it even when the tests run where SIGINT is ignored (a background job)."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def on_terminal(*args: str, env: dict[str, str]) -> Terminal:
    master, slave = pty.openpty()
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("MODULEX_", "XAI_", "NO_COLOR", "MXSYNC_"))}
    proc = subprocess.Popen([sys.executable, "-m", "mxsync", *args], stdin=slave, stdout=slave,
                            stderr=slave, env={**base, **env}, start_new_session=True,
                            preexec_fn=_take_terminal)
    os.close(slave)
    return Terminal(proc, master)


def env_for(org: TestOrg, **keys: str) -> dict[str, str]:
    return {"MODULEX_BASE_URL": org.url, "MODULEX_API_KEY": org.token, **keys}


@pytest.mark.parametrize(("keys", "code"), [(CTRL_C, 130), (CTRL_D, 130), (b"no\n", 1)])
def test_leaving_the_approval_prompt_cancels_cleanly(new_org: OrgFactory, tmp_path: Path,
                                                     keys: bytes, code: int) -> None:
    org = new_org()
    path = write_manifest(tmp_path / "m.yaml", [{"id": org.id, "xai": {"credentials": [
        {"name": "p", "api_key_env": "K"}]}}])
    term = on_terminal("apply", "-f", path, "--no-color", env=env_for(org, K=fake_key()))
    term.read_until(PROMPT)
    term.type(keys)
    got, shown = term.finish()
    assert got == code, shown
    assert "Apply cancelled; nothing was changed." in shown
    assert "Aborted" not in shown and "Interrupted" not in shown and "Traceback" not in shown
    assert org.xai() == []


def test_apply_on_a_terminal_shows_each_step_once(new_org: OrgFactory, tmp_path: Path) -> None:
    org = new_org()
    path = write_manifest(tmp_path / "m.yaml", [{"id": org.id, "xai": {"credentials": [
        {"name": "p", "api_key_env": "K1"}, {"name": "q", "api_key_env": "K2"}]}}])
    term = on_terminal("apply", "-f", path, "--auto-approve", "--no-color",
                       env=env_for(org, K1=fake_key(), K2=fake_key()))
    code, shown = term.finish()
    assert code == 0, shown
    for name in ("p", "q"):
        assert shown.count(f"ok      create      {org.id}/xai/{name}") == 1, shown
    assert shown.rstrip().endswith("Apply complete: 2 created, 0 replaced, 0 deleted, "
                                   "0 defaults changed.")
    assert len(org.xai()) == 2


def test_what_changed_while_the_prompt_waited_is_refused_not_overwritten(
        new_org: OrgFactory, tmp_path: Path) -> None:
    """Approval is not a blank cheque: the plan shown was made before the person typed yes;
    a credential created meanwhile makes the org's plan stale, and nothing is changed there."""
    org = new_org()
    path = write_manifest(tmp_path / "m.yaml", [{"id": org.id, "xai": {"credentials": [
        {"name": "p", "api_key_env": "K"}]}}])
    term = on_terminal("apply", "-f", path, "--no-color", env=env_for(org, K=fake_key()))
    term.read_until(PROMPT)
    with org.client() as c:  # someone else acts while the prompt waits
        c.post("/credentials", json={"integration_name": "xai", "display_name": "meanwhile",
                                     "auth_data": {"api_key": fake_key()}}).raise_for_status()
    term.type(b"yes\n")
    code, shown = term.finish()
    assert code == 1, shown
    assert "stale" in shown
    assert [c["display_name"] for c in org.xai()] == ["meanwhile"]


def test_import_adopt_on_a_terminal_shows_progress_to_the_last_call(new_org: OrgFactory,
                                                                     tmp_path: Path) -> None:
    """#24.4: no silent minutes. The reading line, then the adoption's calls counted down to
    none left, each on its own line before the report."""
    from mxsync.importer import key_variable

    keys = [fake_key(), fake_key()]
    org = new_org(credentials=[{"integration_name": "xai", "display_name": f"k{i}", "api_key": k}
                               for i, k in enumerate(keys)])
    env = env_for(org, **{key_variable(org.id, f"k{i}"): k for i, k in enumerate(keys)})
    term = on_terminal("import", "--org", org.id, "-o", str(tmp_path / "m.yaml"), "--adopt",
                       "--no-color", env=env)
    code, shown = term.finish()
    assert code == 0, shown
    assert "Reading the live state: 1/1 orgs" in shown
    assert shown.count("Checking: 4 calls done, 0 left\x1b[K\r\n") == 1, shown  # 2 reads, 2 writes
    assert all(k not in shown for k in keys)
