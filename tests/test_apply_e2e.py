"""`mxsync apply` against the emulator: ordering, approval, stale plans, faults."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from mxsync import ownership
from mxsync.secrets import fingerprint
from tests.cli_helpers import Run, drain, mxsync, write_manifest
from tests.conftest import OrgFactory, TestOrg, fake_key

OWNER = "test"


def env_for(org: TestOrg, **keys: str) -> dict[str, str]:
    return {"MODULEX_BASE_URL": org.url, "MODULEX_API_KEY": org.token, **keys}


def canary_key(label: str) -> str:
    return f"xai-CANARY{label}{uuid.uuid4().hex}"


def ours(org: TestOrg, owner: str = OWNER) -> dict[str, list[dict]]:
    by_name: dict[str, list[dict]] = {}
    for cred in org.xai():
        meta = cred["credentials_metadata"] or {}
        if ownership.owned_by(meta, owner):
            by_name.setdefault(meta[ownership.NAME], []).append(cred)
    return by_name


def assert_converged(org: TestOrg, keys: dict[str, str], default: str | None,
                     untouched: list[dict]) -> None:
    """Every entry present once with its key's fingerprint, the right default, and what is
    not ours exactly as it was."""
    mine = ours(org)
    assert set(mine) == set(keys), mine
    for name, key in keys.items():
        assert len(mine[name]) == 1, f"{name}: {len(mine[name])} credentials"
        assert mine[name][0]["credentials_metadata"][ownership.FINGERPRINT] == fingerprint(key)
    live = {c["credential_id"]: c for c in org.xai()}
    if default:
        defaults = [c for c in live.values() if c["is_default"]]
        assert [c["credential_id"] for c in defaults] == [mine[default][0]["credential_id"]]
    for cred in untouched:
        now = live.get(cred["credential_id"])
        assert now is not None, "a credential that is not ours was deleted"
        for field in ("display_name", "credentials_metadata", "expires_at"):
            assert now[field] == cred[field]


def apply_until_ok(path: str, env: dict[str, str], *extra: str, rounds: int = 10) -> list[Run]:
    runs = []
    for _ in range(rounds):
        run = mxsync("apply", "-f", path, "--auto-approve", *extra, env=env, timeout=300)
        runs.append(run)
        assert "Traceback" not in run.both, run.both
        if run.code == 0:
            return runs
    raise AssertionError(f"apply did not converge in {rounds} rounds:\n{runs[-1].both}")


# -- the cycle and approval ---------------------------------------------------------------
def test_apply_then_plan_is_empty(new_org: OrgFactory, tmp_path: Path) -> None:
    legacy = {"integration_name": "xai", "display_name": "legacy", "api_key": fake_key(),
              "is_default": True}
    org = new_org(credentials=[legacy])
    untouched = org.xai()
    keys = {"primary": fake_key(), "batch": fake_key()}
    path = write_manifest(tmp_path / "m.yaml", [{"id": org.id, "xai": {
        "default": "primary", "credentials": [{"name": n, "api_key_env": f"K_{n}"}
                                              for n in keys]}}])
    env = env_for(org, **{f"K_{n}": k for n, k in keys.items()})
    run = mxsync("apply", "-f", path, "--auto-approve", env=env)
    assert run.code == 0, run.both
    assert run.out.strip().endswith(
        "Apply complete: 2 created, 0 replaced, 0 deleted, 1 default changed.")
    assert_converged(org, keys, "primary", untouched)
    again = mxsync("plan", "-f", path, "--detailed-exitcode", env=env)
    assert again.code == 0, again.out


def test_refuses_without_a_terminal_or_auto_approve(new_org: OrgFactory, tmp_path: Path) -> None:
    org = new_org()
    path = write_manifest(tmp_path / "m.yaml", [{"id": org.id, "xai": {"credentials": [
        {"name": "p", "api_key_env": "K"}]}}])
    run = mxsync("apply", "-f", path, env=env_for(org, K=fake_key()))
    assert run.code == 1
    assert "refusing to apply without approval" in run.err and "--auto-approve" in run.err
    assert org.xai() == []


@pytest.mark.parametrize(("answer", "applied"), [(b"yes\n", True), (b"no\n", False)])
def test_asks_on_a_terminal(new_org: OrgFactory, tmp_path: Path, answer: bytes,
                            applied: bool) -> None:
    org = new_org()
    path = write_manifest(tmp_path / "m.yaml", [{"id": org.id, "xai": {"credentials": [
        {"name": "p", "api_key_env": "K"}]}}])
    master, slave = pty.openpty()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("MODULEX_")},
           **env_for(org, K=fake_key())}
    proc = subprocess.Popen([sys.executable, "-m", "mxsync", "apply", "-f", path], stdin=slave,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    os.write(master, answer)
    out, err = proc.communicate(timeout=60)
    os.close(master)
    os.close(slave)
    assert b"Do you want to perform these actions?" in out
    assert (proc.returncode == 0) is applied, (out, err)
    assert len(org.xai()) == (1 if applied else 0)


# -- saved plans ----------------------------------------------------------------------------
def test_stale_plan_changes_nothing_in_that_org(new_org: OrgFactory, tmp_path: Path) -> None:
    a, b = new_org(), new_org()
    httpx.post(f"{a.url}/_emulator/world", json={"users": [
        {"token": a.token, "memberships": {b.id: "owner"}}]})
    path = write_manifest(tmp_path / "m.yaml", [
        {"id": o.id, "xai": {"credentials": [{"name": "p", "api_key_env": "K"}]}} for o in (a, b)])
    env = env_for(a, K=fake_key())
    planfile = tmp_path / "plan.json"
    assert mxsync("plan", "-f", path, "--out", str(planfile), env=env).code == 0
    with a.client() as c:  # someone changes org a between plan and apply
        c.post("/credentials", json={"integration_name": "xai", "display_name": "manual",
                                     "auth_data": {"api_key": fake_key()}})
    run = mxsync("apply", str(planfile), env=env)
    assert run.code == 1
    assert f"plan is stale for org {a.id}: " in run.out and "Run plan again" in run.out
    assert run.out.strip().endswith("Apply failed for 1 of 2 orgs.")
    assert [c["display_name"] for c in a.xai()] == ["manual"]
    assert [c["display_name"] for c in b.xai()] == ["p"]


def test_key_changed_since_the_plan(new_org: OrgFactory, tmp_path: Path) -> None:
    org = new_org()
    path = write_manifest(tmp_path / "m.yaml", [{"id": org.id, "xai": {"credentials": [
        {"name": "p", "api_key_env": "K"}]}}])
    planfile = tmp_path / "plan.json"
    assert mxsync("plan", "-f", path, "--out", str(planfile),
                  env=env_for(org, K=fake_key())).code == 0
    run = mxsync("apply", str(planfile), env=env_for(org, K=fake_key()))
    assert run.code == 1
    assert "the key in $K changed since the plan" in run.out
    assert org.xai() == []


def test_failed_key_test_in_a_replace_keeps_old_credential_and_default(
        new_org: OrgFactory, tmp_path: Path) -> None:
    revoked = fake_key("revoked")
    org = new_org(invalid_keys=[revoked])
    old_key = fake_key()
    path = write_manifest(tmp_path / "m.yaml", [{"id": org.id, "xai": {
        "default": "p", "credentials": [{"name": "p", "api_key_env": "K"}]}}])
    assert mxsync("apply", "-f", path, "--auto-approve", env=env_for(org, K=old_key)).code == 0
    before = org.xai()
    run = mxsync("apply", "-f", path, "--auto-approve", env=env_for(org, K=revoked))
    assert run.code == 1
    assert "key test failed: xAI answered 400" in run.out
    assert org.xai() == before  # the old credential is there, and still the default
    assert before[0]["is_default"]


def test_order_within_an_org(new_org: OrgFactory, tmp_path: Path) -> None:
    org = new_org()
    keys = {"keep": fake_key(), "gone": fake_key(), "rotate": fake_key()}
    first = write_manifest(tmp_path / "a.yaml", [{"id": org.id, "xai": {
        "default": "keep", "credentials": [{"name": n, "api_key_env": f"K_{n}"} for n in keys]}}])
    env = env_for(org, **{f"K_{n}": k for n, k in keys.items()})
    assert mxsync("apply", "-f", first, "--auto-approve", env=env).code == 0
    env["K_rotate"], env["K_new"] = fake_key(), fake_key()
    second = write_manifest(tmp_path / "b.yaml", [{"id": org.id, "prune": True, "xai": {
        "default": "new", "credentials": [
            {"name": "keep", "api_key_env": "K_keep", "metadata": {"team": "x"}},
            {"name": "rotate", "api_key_env": "K_rotate"},
            {"name": "new", "api_key_env": "K_new"}]}}])
    run = mxsync("apply", "-f", second, "--auto-approve", "--json", env=env)
    assert run.code == 0, run.both
    steps = [(s["action"], s["address"].split("/")[-1].split("[")[0])
             for s in json.loads(run.out)["apply"]["orgs"][0]["steps"]]
    order = [action for action, _ in steps]
    phase = {"test": 0, "create": 1, "default": 1, "update": 3, "delete": 4, "replace": 4}
    assert [phase[a] for a in order] == sorted(phase[a] for a in order), steps
    assert ("delete", "gone") in steps and ("replace", "rotate") in steps
    assert ("update", "keep") in steps and ("create", "new") in steps


def test_prune_deletes_only_this_owners_credentials(new_org: OrgFactory, tmp_path: Path) -> None:
    org = new_org()
    env = env_for(org, K1=fake_key(), K2=fake_key())
    theirs = write_manifest(tmp_path / "theirs.yaml", [{"id": org.id, "xai": {"credentials": [
        {"name": "shared-name", "api_key_env": "K1"}]}}], owner="other-team")
    assert mxsync("apply", "-f", theirs, "--auto-approve", env=env).code == 0
    untouched = org.xai()
    mine = write_manifest(tmp_path / "mine.yaml", [{"id": org.id, "prune": True, "xai": {
        "credentials": [{"name": "p", "api_key_env": "K2"}]}}])
    run = mxsync("apply", "-f", mine, "--auto-approve", env=env)
    assert run.code == 0, run.both
    assert_converged(org, {"p": env["K2"]}, None, untouched)


def test_progress_lines_and_json_report_hold_no_secret(new_org: OrgFactory, tmp_path: Path) -> None:
    """Progress lines (stderr on a terminal, --debug on) and the --json report hold neither
    the key nor the token."""
    first, second = new_org(), new_org()
    path = write_manifest(tmp_path / "m.yaml", [{"id": first.id, "xai": {"default": "p",
                                                "credentials": [
        {"name": "p", "api_key_env": "K"}, {"name": "q", "api_key_env": "K2"}]}}])
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("MODULEX_")},
           **env_for(first, K=canary_key("k"), K2=canary_key("k2"))}
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "mxsync", "--debug", "apply", "-f", path,
                             "--auto-approve"], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    shown = drain(master).decode()  # until mxsync closes the terminal: it never fills up
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, (out, shown)
    # The progress really was shown on the terminal (one status line), and each step once:
    # in the report on stdout, not again on the terminal.
    # 2 to create and 1 default to change: the plan summary's items, each a report line.
    assert "Applying: 3/3 changes done" in shown, shown
    for line in (f"ok      test        {first.id}/xai/p",
                 f"ok      create      {first.id}/xai/q",
                 f"ok      default     {first.id}/xai/p"):
        assert out.decode().count(line) == 1 and line not in shown, (out, shown)
    assert "POST /credentials" in shown  # and --debug logged the exchanges there
    for text in (shown, out.decode()):
        assert "CANARY" not in text and first.token not in text

    path = write_manifest(tmp_path / "m2.yaml", [{"id": second.id, "xai": {"credentials": [
        {"name": "p", "api_key_env": "K"}]}}])
    run = mxsync("--debug", "apply", "-f", path, "--auto-approve", "--json",
                 env=env_for(second, K=canary_key("j")))
    assert run.code == 0, run.both
    report: dict[str, Any] = json.loads(run.out)["apply"]
    assert report["ok"] and report["summary"]["create"] == 1
    assert "CANARY" not in run.both and second.token not in run.both
