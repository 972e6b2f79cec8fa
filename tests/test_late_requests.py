"""Exactly once when a request arrives late: a create that reaches the service after mxsync
gave up on it (a proxy held it past --timeout) must not leave a second credential behind
an apply that says it succeeded."""

from __future__ import annotations

from pathlib import Path

import httpx

from mxsync import ownership
from tests.cli_helpers import mxsync, write_manifest
from tests.conftest import OrgFactory, TestOrg, fake_key


def creates(org: TestOrg) -> int:
    return httpx.get(f"{org.url}/_emulator/stats").json()["routes"].get("POST /credentials", 0)


def per_entry(org: TestOrg) -> dict[str, int]:
    counts: dict[str, int] = {}
    for cred in org.xai():
        name = (cred["credentials_metadata"] or {}).get(ownership.NAME)
        counts[name] = counts.get(name, 0) + 1
    return counts


def test_no_apply_succeeds_while_a_late_create_left_a_duplicate(new_org: OrgFactory,
                                                                tmp_path: Path) -> None:
    org = new_org()
    keys = {n: fake_key() for n in ("a", "b", "c")}
    path = write_manifest(tmp_path / "m.yaml", [{"id": org.id, "xai": {
        "default": "a", "credentials": [{"name": n, "api_key_env": f"K_{n}"} for n in keys]}}])
    env = {"MODULEX_BASE_URL": org.url, "MODULEX_API_KEY": org.token,
           **{f"K_{n}": k for n, k in keys.items()}}
    # Every create is held 0.8 s before the service sees it; the client gives up after 0.5 s,
    # looks, finds nothing, and creates again; the first copy lands and is found, and the
    # second lands after that, as a duplicate made after the run saw its entry done.
    org.faults({"late": 1.0}, hold_s=0.8, routes=["POST /credentials"])
    try:
        for _ in range(10):
            run = mxsync("apply", "-f", path, "--auto-approve", "--skip-tests", "--timeout", "0.5",
                         env=env)
            assert "Traceback" not in run.both and run.code in (0, 1), run.both
            if run.code == 0:
                assert per_entry(org) == {"a": 1, "b": 1, "c": 1}, run.both
                break
            # A failed run says so, and whatever it left is the next run's to clean up:
            # the loop goes on until a run succeeds, which must then leave each entry once.
            assert "Error" in run.both or "failed" in run.both, run.both
        else:
            raise AssertionError(f"apply did not converge:\n{run.both}")
    finally:
        org.faults({})
    assert creates(org) > len(keys), "no create was sent twice: the test proves nothing"
    defaults = [c for c in org.xai() if c["is_default"]]
    assert [c["credentials_metadata"][ownership.NAME] for c in defaults] == ["a"]


def test_two_racing_applies_never_leave_a_duplicate_behind_success(new_org: OrgFactory,
                                                                    tmp_path: Path) -> None:
    """Two applies of one owner started together both create every entry; each looks again
    before it claims success and both keep the same (oldest) credential per entry. Whatever
    the outcome, a duplicate is never left while both say they succeeded, and one that a
    failed run left is removed by the next apply."""
    import os
    import subprocess
    import sys

    org = new_org()
    keys = {n: fake_key() for n in ("a", "b", "c")}
    path = write_manifest(tmp_path / "m.yaml", [{"id": org.id, "xai": {
        "default": "a", "credentials": [{"name": n, "api_key_env": f"K_{n}"} for n in keys]}}])
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("MODULEX_", "XAI_"))},
           "MODULEX_BASE_URL": org.url, "MODULEX_API_KEY": org.token,
           **{f"K_{n}": k for n, k in keys.items()}}
    cmd = [sys.executable, "-m", "mxsync", "apply", "-f", path, "--auto-approve", "--skip-tests"]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL, text=True) for _ in range(2)]
    results = [(p.wait(timeout=120), p.communicate()) for p in procs]
    assert creates(org) >= len(keys)
    for code, (out, err) in results:
        assert "Traceback" not in out + err and code in (0, 1), (out, err)
    left = per_entry(org)
    if all(code == 0 for code, _ in results):
        assert left == {"a": 1, "b": 1, "c": 1}, results
    else:  # a run failed and said so; the next apply finds what it left and removes it
        assert any(code == 1 and ("Error" in out + err or "failed" in out + err)
                   for code, (out, err) in results), results
        again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120,
                               stdin=subprocess.DEVNULL)
        assert again.returncode == 0, again.stdout + again.stderr
        assert per_entry(org) == {"a": 1, "b": 1, "c": 1}, (left, again.stdout)
    defaults = [c for c in org.xai() if c["is_default"]]
    assert [c["credentials_metadata"][ownership.NAME] for c in defaults] == ["a"]
