"""Exactly once under faults and races: every `POST /credentials` the service carries out
is counted (`created` in `/_emulator/stats`, by org and display name), so a duplicate that
is made and deleted later still fails these tests."""

from __future__ import annotations

import contextlib
import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from mxsync import ownership
from tests.cli_helpers import Run, mxsync, write_manifest
from tests.conftest import OrgFactory, TestOrg, fake_key
from tests.test_apply_e2e import apply_until_ok, assert_converged, canary_key, env_for

pytestmark = pytest.mark.slow  # `pytest -m "not slow"` is the quick tier


def test_the_counter_counts_what_the_service_carried_out(new_org: OrgFactory) -> None:
    """The instrument first: a create whose answer is lost or held counts, one refused
    before the service saw it does not."""
    org = new_org()
    body = {"integration_name": "xai", "display_name": "n", "auth_data": {"api_key": fake_key()}}
    for kind, counted in (("503", 0), ("reset", 0), ("lost-response", 1), ("timeout", 1)):
        before = creates_done(org).get("n", 0)
        org.faults({kind: 1.0}, hold_s=1.0)
        answered = kind == "503"
        with org.client(timeout=0.3) as c, \
                contextlib.nullcontext() if answered else pytest.raises(httpx.HTTPError):
            c.post("/credentials", json={**body, "auth_data": {"api_key": fake_key()}})
        org.faults({})
        assert creates_done(org).get("n", 0) - before == counted, kind
    with org.client() as c:
        assert c.post("/credentials", json=body).status_code == 201
    assert creates_done(org)["n"] == 3
    assert len(org.xai()) == 3


def fault_scenario(new_org: OrgFactory, tmp_path: Path, name: str
                   ) -> tuple[TestOrg, str, dict[str, str], dict[str, str], list[dict]]:
    """An org with an unmanaged default, another owner's credential, one of ours to rotate
    and one to prune, and a manifest asking for two new keys and a new default."""
    org = new_org(credentials=[
        {"integration_name": "xai", "display_name": "legacy", "api_key": fake_key(),
         "is_default": True},
        {"integration_name": "xai", "display_name": "foreign", "api_key": fake_key(),
         "metadata": ownership.managed_metadata({}, "other", "foreign", "sha256:0", None)},
    ])
    untouched = org.xai()
    old = canary_key("old")
    start = write_manifest(tmp_path / f"{name}-0.yaml", [{"id": org.id, "xai": {
        "credentials": [{"name": "rotate", "api_key_env": "K_rotate"},
                        {"name": "prune-me", "api_key_env": "K_rotate"}]}}])
    assert mxsync("apply", "-f", start, "--auto-approve",
                  env=env_for(org, K_rotate=old)).code == 0
    keys = {"rotate": canary_key("r"), "a": canary_key("a"), "b": canary_key("b")}
    path = write_manifest(tmp_path / f"{name}.yaml", [{"id": org.id, "prune": True, "xai": {
        "default": "a", "credentials": [{"name": n, "api_key_env": f"K_{n}"} for n in keys]}}])
    env = env_for(org, **{f"K_{n}": k for n, k in keys.items()})
    return org, path, env, keys, untouched


def assert_no_canary(runs: list[Run], keys: dict[str, str], token: str) -> None:
    for run in runs:
        assert "CANARY" not in run.both and token not in run.both


def creates_done(org: TestOrg) -> dict[str, int]:
    """How many `POST /credentials` the service carried out in the org, by display name,
    counting those whose answer was lost or held: a duplicate deleted later still counts."""
    stats = httpx.get(f"{org.url}/_emulator/stats").json()
    return dict(stats["created"].get(org.id, {}))


def assert_created_once(org: TestOrg, before: dict[str, int], names: list[str]) -> None:
    """Exactly one create carried out per entry since `before`, and none for anything else."""
    after = creates_done(org)
    made = {n: after.get(n, 0) - before.get(n, 0) for n in set(after) | set(before)}
    assert {n: c for n, c in made.items() if c} == dict.fromkeys(names, 1), made


@pytest.mark.parametrize("kind", ["500", "502", "503", "429", "reset", "timeout", "lost-response"])
def test_each_fault_kind_converges_exactly_once(new_org: OrgFactory, tmp_path: Path,
                                                kind: str) -> None:
    org, path, env, keys, untouched = fault_scenario(new_org, tmp_path, kind)
    injected = httpx.get(f"{org.url}/_emulator/stats").json()["faults"].get(kind, 0)
    before = creates_done(org)
    org.faults({kind: 0.35}, seed=7, hold_s=1.0)
    try:
        runs = apply_until_ok(path, env, "--timeout", "0.5", rounds=12)
    finally:
        org.faults({})
    assert httpx.get(f"{org.url}/_emulator/stats").json()["faults"][kind] > injected
    assert_created_once(org, before, ["rotate", "a", "b"])  # the replace creates once too
    assert_converged(org, keys, "a", untouched)
    assert_no_canary(runs, keys, org.token)
    assert mxsync("plan", "-f", path, "--detailed-exitcode", env=env).code == 0


def test_fifty_seeded_fault_mixes(new_org: OrgFactory, tmp_path: Path) -> None:
    """50 orgs, each with its own seeded mix of every fault, applied together until done."""
    first = new_org()
    orgs = [first] + [new_org() for _ in range(49)]
    httpx.post(f"{first.url}/_emulator/world", json={"users": [
        {"token": first.token, "memberships": {o.id: "owner" for o in orgs}}]}).raise_for_status()
    keys = {o.id: {"a": canary_key("a"), "b": canary_key("b")} for o in orgs}
    manifest = [{"id": o.id, "xai": {"default": "b", "credentials": [
        {"name": n, "api_key_env": f"K_{i}_{n}"} for n in ("a", "b")]}}
        for i, o in enumerate(orgs)]
    env = env_for(first, **{f"K_{i}_{n}": keys[o.id][n] for i, o in enumerate(orgs)
                            for n in ("a", "b")})
    mix = {"500": 0.04, "502": 0.04, "503": 0.04, "429": 0.03, "reset": 0.04, "timeout": 0.03,
           "lost-response": 0.06}
    for seed, org in enumerate(orgs):
        org.faults(mix, seed=seed, hold_s=1.0)
    path = write_manifest(tmp_path / "m.yaml", manifest)
    injected = sum(httpx.get(f"{first.url}/_emulator/stats").json()["faults"].values())
    before = {org.id: creates_done(org) for org in orgs}
    try:
        runs = apply_until_ok(path, env, "--timeout", "0.5", "--parallelism", "32", rounds=15)
    finally:
        for org in orgs:
            org.faults({})
    assert sum(httpx.get(f"{first.url}/_emulator/stats").json()["faults"].values()) > injected + 20
    for org in orgs:
        assert_created_once(org, before[org.id], ["a", "b"])
        assert_converged(org, keys[org.id], "b", [])
    assert_no_canary(runs, {}, first.token)


def _read_until(proc: subprocess.Popen[bytes], text: bytes, seen: bytearray) -> None:
    """Read the process's stdout until `text` shows (a prompt has no newline to wait for)."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    while text not in seen:
        ready, _, _ = select.select([fd], [], [], 60)
        chunk = os.read(fd, 4096) if ready else b""
        if not chunk:
            raise AssertionError(f"no {text!r} from mxsync: {bytes(seen)!r}")
        seen.extend(chunk)


def _reported_creates(out: str) -> int:
    """What a text report says was created: the `N created` of its last line, or the ok
    create lines of a failed run."""
    match = re.search(r"Apply complete: (\d+) created", out)
    if match:
        return int(match.group(1))
    return len(re.findall(r"^\s*ok\s+create\s", out, flags=re.MULTILINE))


def test_two_simultaneous_applies_report_what_they_did(new_org: OrgFactory,
                                                       tmp_path: Path) -> None:
    """Both runs plan before either applies (each waits at its prompt until both have
    planned): each ends with a clear outcome, and together their reports count every
    credential the service created; one more apply then leaves each entry once."""
    org = new_org()
    keys = {n: fake_key() for n in ("a", "b", "c")}
    path = write_manifest(tmp_path / "m.yaml", [{"id": org.id, "xai": {
        "default": "a", "credentials": [{"name": n, "api_key_env": f"K_{n}"} for n in keys]}}])
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("MODULEX_")},
           **env_for(org, **{f"K_{n}": k for n, k in keys.items()})}
    before = creates_done(org)
    terminals = [pty.openpty() for _ in range(2)]
    procs = [subprocess.Popen([sys.executable, "-m", "mxsync", "apply", "-f", path], env=env,
                              stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _, slave in terminals]
    outputs = [bytearray(), bytearray()]
    try:
        for proc, seen in zip(procs, outputs, strict=True):
            _read_until(proc, b"Only 'yes' will be accepted", seen)
        assert all(b"Plan: 3 to create" in seen for seen in outputs)  # both planned the same
        for master, _ in terminals:
            os.write(master, b"yes\n")
        results = []
        for proc, seen in zip(procs, outputs, strict=True):
            out, err = proc.communicate(timeout=120)
            results.append((proc.returncode, (bytes(seen) + out).decode(), err.decode()))
    finally:
        for master, slave in terminals:
            os.close(master)
            os.close(slave)
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    for code, out, err in results:
        assert code in (0, 1) and "Traceback" not in out + err, (code, out, err)
        # Since an approved plan is checked again after the prompt, the later run may find
        # the earlier one's work already there: success either way, said as such.
        done = "Apply complete:" in out or "Nothing to apply: the plan was already applied." in out
        assert done == (code == 0), out
        assert code == 0 or "Apply failed" in out or "Error:" in err, (out, err)
    carried_out = sum(creates_done(org).values()) - sum(before.values())
    assert sum(_reported_creates(out) for _, out, _ in results) == carried_out, results
    apply_until_ok(path, env)
    assert_converged(org, keys, "a", [])


