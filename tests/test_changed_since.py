"""`--changed-since REF` picks the orgs whose part of the manifest differs from a git ref."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from mxsync.changed import changed_since
from mxsync.errors import MxsyncError
from tests.cli_helpers import mxsync
from tests.conftest import OrgFactory, fake_key


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                   cwd=repo, check=True, capture_output=True)


def write(path: Path, orgs: list[dict[str, object]], **top: object) -> None:
    path.write_text(yaml.safe_dump({"version": 1, **top, "orgs": orgs}, sort_keys=False))


def org(org_id: str, *names: str) -> dict[str, object]:
    return {"id": org_id, "xai": {"credentials": [
        {"name": n, "api_key_env": f"XAI_KEY_{org_id.upper().replace('-', '_')}_{n.upper()}"}
        for n in names]}}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "split").mkdir()
    write(tmp_path / "mxsync.yaml", [org("a", "k"), org("b", "k"), org("c", "k")], owner="team")
    write(tmp_path / "split" / "one.yaml", [org("d", "k")])
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "base")
    return tmp_path


def test_only_the_org_whose_block_changed_is_planned(repo: Path) -> None:
    text = (repo / "mxsync.yaml").read_text().replace("XAI_KEY_B_K", "XAI_KEY_B_NEW")
    (repo / "mxsync.yaml").write_text("# a comment does not count\n" + text)
    found = changed_since("main", [str(repo / "mxsync.yaml"), str(repo / "split" / "one.yaml")])
    assert found.changed == ("b",)
    assert found.unchanged == ("a", "c", "d")
    assert found.everything is None


def test_a_new_org_and_a_new_file_are_changes(repo: Path) -> None:
    write(repo / "mxsync.yaml", [org("a", "k"), org("b", "k"), org("c", "k"), org("e", "k")],
          owner="team")
    write(repo / "split" / "two.yaml", [org("f", "k")])
    found = changed_since("main", [str(repo / "mxsync.yaml"), str(repo / "split" / "one.yaml"),
                                   str(repo / "split" / "two.yaml")])
    assert found.changed == ("e", "f")


def test_a_shared_setting_puts_every_org_in(repo: Path) -> None:
    write(repo / "mxsync.yaml", [org("a", "k"), org("b", "k"), org("c", "k")], owner="other")
    found = changed_since("main", [str(repo / "mxsync.yaml")])
    assert found.everything == "owner"
    assert found.changed == ("a", "b", "c") and found.unchanged == ()


def test_nothing_changed_plans_nothing(repo: Path) -> None:
    found = changed_since("HEAD", [str(repo / "mxsync.yaml")])
    assert found.changed == () and found.unchanged == ("a", "b", "c")


@pytest.mark.parametrize("ref", ["no-such-branch", "--output=/tmp/x", ""])
def test_a_ref_that_is_not_a_commit_is_a_clear_error(repo: Path, ref: str) -> None:
    with pytest.raises(MxsyncError) as caught:
        changed_since(ref, [str(repo / "mxsync.yaml")])
    assert "--changed-since" in str(caught.value)


def test_plan_changed_since_reads_only_the_changed_org(new_org: OrgFactory,
                                                        tmp_path: Path) -> None:
    a, b = new_org(), new_org()
    git(tmp_path, "init", "-q", "-b", "main")
    manifest = tmp_path / "mxsync.yaml"

    def write_orgs(b_names: tuple[str, ...]) -> None:
        write(manifest, [{"id": a.id, "token_env": "TOKEN_A", "xai": {"credentials": [
            {"name": "k", "api_key_env": "XAI_KEY_K"}]}},
            {"id": b.id, "token_env": "TOKEN_B", "xai": {"credentials": [
                {"name": n, "api_key_env": "XAI_KEY_K"} for n in b_names]}}], owner="team")

    write_orgs(("k",))
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "base")
    write_orgs(("k", "k2"))
    # TOKEN_A is not set: an org that is read would fail, so a clean run proves a is not read.
    env = {"MODULEX_BASE_URL": b.url, "TOKEN_B": b.token, "XAI_KEY_K": fake_key()}
    run = mxsync("plan", "-f", str(manifest), "--changed-since", "main", env=env)
    assert run.code == 0, run.both
    assert f"Planning only the 1 org changed since main: {b.id}. Left out, unchanged: {a.id}." \
        in run.err
    assert f"{b.id}/xai/k2" in run.out and a.id not in run.out
    assert f"Targeting is in effect (--changed-since main: {b.id}), so this plan may be " \
           "incomplete: drift in the orgs left out is not shown" in run.err
    run = mxsync("plan", "-f", str(manifest), "--changed-since", "HEAD", "--target", a.id, env=env)
    assert run.code == 1 and "drop --target" in run.err
    # A shared setting changed: every org is planned, and that is no targeting.
    text = manifest.read_text()
    manifest.write_text(text.replace("owner: team", "owner: team-2"))
    run = mxsync("plan", "-f", str(manifest), "--changed-since", "main", "--json",
                 env={**env, "TOKEN_A": a.token})
    assert run.code == 0, run.both
    assert "Planning every org" in run.err and "Targeting" not in run.both
    assert json.loads(run.out)["targeted"] == []
    # Nothing changed since the ref: nothing read, and the plan does not claim a match.
    git(tmp_path, "commit", "-q", "-am", "owner")
    run = mxsync("plan", "-f", str(manifest), "--changed-since", "HEAD", env=env)
    assert run.code == 0, run.both
    assert "No org changed since HEAD: nothing was read or planned." in run.out
    assert "matches the manifest" not in run.out
