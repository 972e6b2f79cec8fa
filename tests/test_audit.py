"""`mxsync audit`: one case of every finding code, every format, every --fail-on."""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from mxsync import ownership
from mxsync.secrets import fingerprint
from tests.cli_helpers import Run, mxsync, write_manifest
from tests.conftest import OrgFactory, TestOrg, fake_key

SNAPSHOTS = Path(__file__).parent / "snapshots"
AS_OF = "2026-06-01T00:00:00Z"
OWNER = "test"


def ours(name: str, key: str, **extra: object) -> dict:
    return {"integration_name": "xai", "display_name": name, "api_key": key,
            "metadata": ownership.managed_metadata({}, OWNER, name, fingerprint(key), None), **extra}


@dataclass
class World:
    a: TestOrg
    b: TestOrg
    c: TestOrg
    path: str
    env: dict[str, str]

    def audit(self, *args: str) -> Run:
        return mxsync("audit", "-f", self.path, "--as-of", AS_OF, *args, env=self.env)

    def normalize(self, text: str) -> str:
        text = text.replace(self.a.id, "ORG-A").replace(self.b.id, "ORG-B")
        text = text.replace(self.c.id, "ORG-C")
        return re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<id>", text)


@pytest.fixture
def world(new_org: OrgFactory, tmp_path: Path) -> World:
    keys = {n: fake_key(n) for n in ("main", "dup", "soon", "stray", "x", "y")}
    a = new_org(credentials=[
        ours("main", keys["main"], expires_at="2026-01-01T00:00:00Z"),        # expired
        ours("dup", keys["dup"]), ours("dup", keys["dup"]),                    # duplicate
        ours("soon", keys["soon"], expires_at="2026-06-11T00:00:00Z"),        # expiring
        {"integration_name": "xai", "display_name": "stray", "api_key": keys["stray"],
         "is_default": True, "last_used_at": "2025-01-01T00:00:00Z"},       # unmanaged, unused,
    ], invalid_keys=[keys["stray"]])                                         # key-invalid
    b = new_org(credentials=[ours("x", keys["x"], is_default=True), ours("y", keys["y"])])
    with b.client() as client:  # deleting the default leaves the org without one: no-default
        client.delete(f"/credentials/{next(c for c in b.xai() if c['is_default'])['credential_id']}")
    c = new_org()
    httpx.post(f"{a.url}/_emulator/world", json={"users": [
        {"token": a.token, "memberships": {b.id: "admin", c.id: "member"}}]}).raise_for_status()
    path = write_manifest(tmp_path / "m.yaml", [
        {"id": a.id, "xai": {"default": "main", "require_models": ["grok-4-fast", "grok-9"],
                             "credentials": [
                                 {"name": n, "api_key_env": f"K_{n}",
                                  **({"expires_at": "2026-01-01T00:00:00Z"} if n == "main" else {}),
                                  **({"expires_at": "2026-06-11T00:00:00Z"} if n == "soon" else {})}
                                 for n in ("main", "dup", "soon", "missing")]}},  # drift: create
        {"id": b.id, "xai": {"credentials": [{"name": "x", "api_key_env": "K_x"},
                                             {"name": "y", "api_key_env": "K_y"}]}},
        {"id": c.id},                                                        # permission
    ], owner=OWNER)
    env = {"MODULEX_BASE_URL": a.url, "MODULEX_API_KEY": a.token,
           **{f"K_{n}": k for n, k in keys.items()}, "K_missing": fake_key()}
    return World(a, b, c, path, env)


def test_every_finding_code_in_json(world: World) -> None:
    run = world.audit("--format", "json", "--test-keys")
    assert run.code == 1, run.both
    doc = json.loads(run.out)
    found = {(world.normalize(f["org"]), f["code"], f["severity"]) for f in doc["findings"]}
    assert found == {
        ("ORG-A", "drift", "error"), ("ORG-A", "duplicate", "error"),
        ("ORG-A", "default-mismatch", "error"), ("ORG-A", "expired", "error"),
        ("ORG-A", "expiring", "warning"), ("ORG-A", "unmanaged", "warning"),
        ("ORG-A", "unused", "warning"), ("ORG-A", "key-invalid", "error"),
        ("ORG-A", "model-missing", "error"), ("ORG-B", "no-default", "error"),
        ("ORG-B", "drift", "error"), ("ORG-C", "permission", "error"),
    }
    assert doc["summary"] == {"orgs": 3, "errors": sum(f["severity"] == "error"
                                                       for f in doc["findings"]),
                              "warnings": sum(f["severity"] == "warning" for f in doc["findings"])}
    for f in doc["findings"]:
        assert set(f) == {"org", "code", "credential", "credential_name", "credential_id",
                          "message", "severity", "params"}
        assert f["message"] and isinstance(f["params"], dict)
        if f["credential_id"] is not None:  # a live credential: its label is "NAME (ID)"
            assert f["credential"] == f"{f['credential_name']} ({f['credential_id']})"
        else:
            assert f["credential_name"] == f["credential"]
    assert any(f["credential_id"] for f in doc["findings"])


@pytest.mark.slow
def test_fail_on_levels(world: World, new_org: OrgFactory, tmp_path: Path) -> None:
    assert world.audit("--fail-on", "never").code == 0
    assert world.audit("--fail-on", "error").code == 1
    only_warnings = new_org(credentials=[{"integration_name": "xai", "display_name": "s",
                                          "api_key": fake_key(), "is_default": True}])
    live = ("--org", only_warnings.id, "--as-of", AS_OF)
    env = {"MODULEX_BASE_URL": only_warnings.url, "MODULEX_API_KEY": only_warnings.token}
    assert mxsync("audit", *live, env=env).code == 0  # one unmanaged: a warning
    assert mxsync("audit", *live, "--fail-on", "warning", env=env).code == 1


def test_junit_has_a_case_per_org_and_check(world: World) -> None:
    run = world.audit("--format", "junit")
    root = ET.fromstring(run.out)
    suites = {world.normalize(s.get("name", "")): s for s in root.iter("testsuite")}
    assert set(suites) == {"ORG-A", "ORG-B", "ORG-C"}
    checks = [c.get("name") for c in suites["ORG-B"].iter("testcase")]
    assert "no-default" in checks and "key-invalid" not in checks  # only with --test-keys
    failing = {c.get("name"): c.find("failure") for c in suites["ORG-B"].iter("testcase")
               if c.find("failure") is not None}
    assert set(failing) == {"no-default", "drift"}
    assert "none is the default" in (failing["no-default"].text or "")
    assert root.get("failures") == str(sum(int(s.get("failures", 0)) for s in suites.values()))


def _cases(run: Run, world: World, org: str) -> dict[str, ET.Element]:
    root = ET.fromstring(run.out)
    suite = next(s for s in root.iter("testsuite") if world.normalize(s.get("name", "")) == org)
    return {c.get("name", ""): c for c in suite.iter("testcase")}


def test_junit_fails_only_what_fails_the_run(world: World) -> None:
    """`--fail-on never` exits 0, so the CI test report must not show red either; the
    findings are still there, as skipped cases with their lines in the case's output."""
    never = world.audit("--fail-on", "never", "--format", "junit")
    assert never.code == 0
    root = ET.fromstring(never.out)
    assert not list(root.iter("failure")) and root.get("failures") == "0"
    expired = _cases(never, world, "ORG-A")["expired"]
    skipped = expired.find("skipped")
    assert skipped is not None and "--fail-on never" in skipped.get("message", "")
    assert "[error] main (" in (expired.findtext("system-out") or "")
    assert int(root.get("skipped", "0")) == len(list(root.iter("skipped"))) > 0

    default = world.audit("--format", "junit")  # --fail-on error: warnings do not fail
    assert default.code == 1
    cases = _cases(default, world, "ORG-A")
    assert cases["expired"].find("failure") is not None
    assert cases["expiring"].find("failure") is None and cases["expiring"].find("skipped") is not None
    assert "[warning] soon (" in (cases["expiring"].findtext("system-out") or "")

    warning = world.audit("--fail-on", "warning", "--format", "junit")
    assert warning.code == 1
    cases = _cases(warning, world, "ORG-A")
    assert cases["expiring"].find("failure") is not None and cases["expiring"].find("skipped") is None
    assert not list(ET.fromstring(warning.out).iter("skipped"))


@pytest.mark.parametrize(("fmt", "snapshot"), [("markdown", "audit.md"), ("table", "audit.txt")])
def test_reviewed_snapshots(world: World, fmt: str, snapshot: str, tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    run = mxsync("audit", "-f", world.path, "--as-of", AS_OF, "--format", fmt,
                 env={**world.env, "GITHUB_STEP_SUMMARY": str(summary)})
    if os.environ.get("MXSYNC_UPDATE_SNAPSHOTS"):  # then review the diff before committing
        (SNAPSHOTS / snapshot).write_text(world.normalize(run.out))
    assert world.normalize(run.out) == (SNAPSHOTS / snapshot).read_text()
    if fmt == "markdown":
        assert world.normalize(summary.read_text()) == (SNAPSHOTS / snapshot).read_text()


def test_live_audit_of_all_orgs(world: World) -> None:
    run = mxsync("audit", "--all-orgs", "--as-of", AS_OF, "--format", "json",
                 env={"MODULEX_BASE_URL": world.a.url, "MODULEX_API_KEY": world.a.token})
    codes = {(world.normalize(f["org"]), f["code"]) for f in json.loads(run.out)["findings"]}
    # ORG-C, where the token is only a member, is skipped and said once, not an error.
    assert "ORG-C" not in {org for org, _ in codes} and ("ORG-B", "no-default") in codes
    assert world.normalize(run.err).count("ORG-C") == 1 and "cannot manage" in run.err
    assert ("ORG-A", "unmanaged") in codes
    assert not any(code in ("drift", "default-mismatch") for _, code in codes)  # no manifest


def test_audit_needs_a_manifest_or_orgs(world: World, tmp_path: Path) -> None:
    run = mxsync("audit", env=world.env, cwd=tmp_path)  # a folder without mxsync.yaml
    assert run.code == 1 and "nothing to audit" in run.err
    both = mxsync("audit", "-f", world.path, "--org", world.a.id, env=world.env)
    assert both.code == 1 and "not both" in both.err
