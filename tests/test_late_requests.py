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
            assert "Traceback" not in run.both
            if run.code == 0:
                assert per_entry(org) == {"a": 1, "b": 1, "c": 1}, run.both
                break
        else:
            raise AssertionError(f"apply did not converge:\n{run.both}")
    finally:
        org.faults({})
    assert creates(org) > len(keys), "no create was sent twice: the test proves nothing"
    defaults = [c for c in org.xai() if c["is_default"]]
    assert [c["credentials_metadata"][ownership.NAME] for c in defaults] == ["a"]
