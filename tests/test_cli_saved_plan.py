"""A saved plan is applied exactly as it was reviewed: no option changes it, no other API
receives it, a manifest given in its place is named as such, and applying it twice says
"already applied" instead of "stale"."""

from __future__ import annotations

from pathlib import Path

import pytest

from mxsync.plan import Change, OrgPlan, Reason
from mxsync.staleness import verdict
from mxsync.state import LiveCredential, live_digest
from tests.cli_helpers import mxsync, write_manifest
from tests.conftest import OrgFactory, TestOrg, fake_key


def env_for(org: TestOrg, **keys: str) -> dict[str, str]:
    return {"MODULEX_BASE_URL": org.url, "MODULEX_API_KEY": org.token, **keys}


def _planned(org: TestOrg, tmp_path: Path) -> tuple[str, Path, dict[str, str]]:
    path = write_manifest(tmp_path / "m.yaml", [{"id": org.id, "xai": {"credentials": [
        {"name": "p", "api_key_env": "K"}]}}])
    env = env_for(org, K=fake_key())
    planfile = tmp_path / "plan.json"
    assert mxsync("plan", "-f", path, "--out", str(planfile), env=env).code == 0
    return path, planfile, env


@pytest.mark.parametrize("flags", [
    ("-f", "{manifest}"), ("--target", "{org}"), ("--prune",), ("--skip-tests",),
    ("--prune", "--skip-tests"),
])
def test_options_that_would_change_a_saved_plan_are_refused(
        new_org: OrgFactory, tmp_path: Path, flags: tuple[str, ...]) -> None:
    org = new_org()
    manifest, planfile, env = _planned(org, tmp_path)
    args = [f.format(manifest=manifest, org=org.id) for f in flags]
    run = mxsync("apply", str(planfile), *args, "--auto-approve", env=env)
    assert run.code == 1
    assert "cannot be used with a saved plan" in run.err
    assert "applied exactly as it was reviewed" in run.err
    for flag in flags:
        if flag.startswith("-"):
            assert flag in run.err
    assert "Traceback" not in run.err
    assert org.xai() == []


def test_a_saved_plan_is_not_sent_to_another_api(new_org: OrgFactory, tmp_path: Path) -> None:
    org = new_org()
    _, planfile, env = _planned(org, tmp_path)
    other = "http://127.0.0.1:9"  # nothing listens there; the refusal comes before any call
    by_flag = mxsync("apply", str(planfile), "--api-url", other, env=env)
    assert by_flag.code == 1
    assert f"was planned against {org.url}" in by_flag.err and "--api-url" in by_flag.err
    by_env = mxsync("apply", str(planfile), env={**env, "MODULEX_BASE_URL": other})
    assert by_env.code == 1
    assert "MODULEX_BASE_URL says to call http://127.0.0.1:9" in by_env.err
    assert org.xai() == []
    # The plan's own URL, however it is spelled, and no URL at all (the plan's is used), apply.
    unset = {k: v for k, v in env.items() if k != "MODULEX_BASE_URL"}
    same = mxsync("apply", str(planfile), "--api-url", org.url + "/", env=unset)
    assert same.code == 0, same.both
    assert len(org.xai()) == 1


def test_a_manifest_given_as_the_plan_gets_a_did_you_mean(new_org: OrgFactory,
                                                         tmp_path: Path) -> None:
    org = new_org()
    manifest, _, env = _planned(org, tmp_path)
    run = mxsync("apply", manifest, env=env)
    assert run.code == 1
    assert "is a manifest, not a saved plan" in run.err
    assert f"did you mean `mxsync apply -f {manifest}`?" in run.err


@pytest.mark.parametrize("command", ["plan", "apply", "validate"])
def test_a_saved_plan_given_as_a_manifest_is_named_as_such(new_org: OrgFactory, tmp_path: Path,
                                                           command: str) -> None:
    """The reverse mistake: `-f plan.json` gets one sentence, not the schema's complaints."""
    org = new_org()
    _, planfile, env = _planned(org, tmp_path)
    run = mxsync(command, "-f", str(planfile), env=env)
    assert run.code == 1
    assert "this is a saved plan, not a manifest" in run.both
    assert f"`mxsync apply {planfile}`" in run.both
    assert "additional properties" not in run.both.lower() and run.both.count("(top)") <= 1
    assert org.xai() == []


def test_applying_a_saved_plan_twice_says_already_applied(new_org: OrgFactory,
                                                          tmp_path: Path) -> None:
    org = new_org()
    _, planfile, env = _planned(org, tmp_path)
    assert mxsync("apply", str(planfile), env=env).code == 0
    again = mxsync("apply", str(planfile), env=env)
    assert again.code == 0, again.both
    assert "already applied" in again.out and "stale" not in again.both
    assert again.out.strip().endswith("Nothing to apply: the plan was already applied.")
    assert len(org.xai()) == 1


def test_a_plan_overtaken_by_another_change_is_still_stale(new_org: OrgFactory,
                                                           tmp_path: Path) -> None:
    org = new_org()
    _, planfile, env = _planned(org, tmp_path)
    assert mxsync("apply", str(planfile), env=env).code == 0
    with org.client() as c:  # after the apply, someone deletes what it created, adds another
        for cred in org.xai():
            c.delete(f"/credentials/{cred['credential_id']}")
        c.post("/credentials", json={"integration_name": "xai", "display_name": "manual",
                                     "auth_data": {"api_key": fake_key()}})
    run = mxsync("apply", str(planfile), env=env)
    assert run.code == 1 and "plan is stale" in run.out and "already applied" not in run.out
    assert [c["display_name"] for c in org.xai()] == ["manual"]


# -- the verdict itself, without a server ------------------------------------------------
OWNER = "o"


def _cred(id_: str, name: str | None = None, *, fp: str = "fp1", default: bool = False
          ) -> LiveCredential:
    meta = ({"managed_by": "mxsync", "mxsync_owner": OWNER, "mxsync_name": name,
             "mxsync_key_fingerprint": fp} if name else {})
    return LiveCredential(id=id_, display_name=name or id_, is_default=default, metadata=meta)


def _org(live: list[LiveCredential], *changes: Change) -> OrgPlan:
    return OrgPlan(org="org", token_env="T", live_digest=live_digest(live), changes=changes,
                   known_ids=tuple(c.id for c in live))


def _create(name: str, default: bool = False) -> Change:
    return Change("create", "org", name, Reason("absent"), fingerprint="fp1",
                  make_default=default)


def test_verdict_current_when_nothing_moved() -> None:
    live = [_cred("c1")]
    assert verdict(_org(live, _create("p")), OWNER, live, live_digest(live)) == "current"


def test_verdict_already_applied_when_every_change_is_there() -> None:
    before = [_cred("c1"), _cred("c2", "old")]
    plan = _org(before, _create("p", default=True),
                Change("delete", "org", "old", Reason("pruned"), credential_id="c2"))
    after = [_cred("c1"), _cred("c9", "p", default=True)]
    assert verdict(plan, OWNER, after, live_digest(after)) == "already-applied"


@pytest.mark.parametrize("after", [
    [_cred("c1")],  # the delete happened, the create did not
    [_cred("c1"), _cred("c9", "p", fp="other")],  # another key
    [_cred("c1"), _cred("c9", "p")],  # created, but the default did not move
    [_cred("c1"), _cred("c2", "old"), _cred("c9", "p", default=True)],  # delete not done
])
def test_verdict_stale_when_any_change_is_missing(after: list[LiveCredential]) -> None:
    before = [_cred("c1"), _cred("c2", "old")]
    plan = _org(before, _create("p", default=True),
                Change("delete", "org", "old", Reason("pruned"), credential_id="c2"))
    assert verdict(plan, OWNER, after, live_digest(after)) == "stale"


def test_an_existing_credential_is_not_taken_for_a_new_one() -> None:
    """The credential a create would make must be new: one known at plan time does not count."""
    before = [_cred("c1", "p")]
    plan = _org(before, _create("p"))
    moved = [_cred("c1", "p"), _cred("c3")]
    assert verdict(plan, OWNER, moved, live_digest(moved)) == "stale"
