"""Saved plan files that are damaged, of another format, or not plans at all: `show` and
`apply PLANFILE` say what is wrong and what to do, and change nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.cli_helpers import Run, mxsync, write_manifest
from tests.conftest import OrgFactory, TestOrg, fake_key


def env_for(org: TestOrg, **keys: str) -> dict[str, str]:
    return {"MODULEX_BASE_URL": org.url, "MODULEX_API_KEY": org.token, **keys}


def saved_plan(org: TestOrg, tmp_path: Path, env: dict[str, str]) -> Path:
    path = write_manifest(tmp_path / "m.yaml", [{"id": org.id, "xai": {"credentials": [
        {"name": "p", "api_key_env": "K"}]}}])
    planfile = tmp_path / "plan.json"
    run = mxsync("plan", "-f", path, "--out", str(planfile), env=env)
    assert run.code == 0, run.both
    return planfile


def assert_refused(run: Run, *phrases: str) -> None:
    """Exit 1 with one `Error:` paragraph naming the problem, no traceback."""
    assert run.code == 1, run.both
    assert "Traceback" not in run.both and "internal error" not in run.both, run.both
    assert run.err.startswith("Error: "), run.err
    for phrase in phrases:
        assert phrase in run.err, run.err


def test_a_plan_of_the_previous_format_says_which_format_and_what_to_do(
        new_org: OrgFactory, tmp_path: Path) -> None:
    org = new_org()
    env = env_for(org, K=fake_key())
    planfile = saved_plan(org, tmp_path, env)
    doc = json.loads(planfile.read_text())
    assert doc["mxsync_plan_file"] == 3  # what this version writes (typed apply fields)
    doc["mxsync_plan_file"], doc["mxsync_version"] = 2, "0.0.9"
    planfile.write_text(json.dumps(doc))
    for run in (mxsync("show", str(planfile), env={}), mxsync("apply", str(planfile), env=env)):
        assert_refused(run, f"plan file {planfile} has format 2 (written by mxsync 0.0.9)",
                       "this mxsync reads format 3", f"run `mxsync plan --out {planfile}` again")
    assert org.xai() == []


def _truncate(text: str) -> str:
    return text[: len(text) // 2]


def _set(path: tuple[Any, ...], value: Any) -> Callable[[str], str]:
    def edit(text: str) -> str:
        doc = json.loads(text)
        node = doc
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = value
        return json.dumps(doc)
    return edit


def _drop(path: tuple[Any, ...]) -> Callable[[str], str]:
    def edit(text: str) -> str:
        doc = json.loads(text)
        node = doc
        for step in path[:-1]:
            node = node[step]
        del node[path[-1]]
        return json.dumps(doc)
    return edit


DAMAGE: dict[str, tuple[Callable[[str], str], str]] = {
    "cut in half": (_truncate, "is damaged (not JSON)"),
    "not an object": (lambda _: "[1, 2, 3]", "is not an mxsync plan file"),
    "no format field": (_drop(("mxsync_plan_file",)), "is not an mxsync plan file"),
    "format as text": (_set(("mxsync_plan_file",), "3"), "has format '3'"),
    "no owner": (_drop(("owner",)), "is damaged"),
    "orgs not a list": (_set(("orgs",), 7), "is damaged"),
    "org without token variable": (_drop(("orgs", 0, "token_env")), "is damaged"),
    "change without action": (_drop(("orgs", 0, "changes", 0, "action")), "is damaged"),
    "reason as a sentence": (_set(("orgs", 0, "changes", 0, "reason"), "because"), "is damaged"),
    "unknown field": (_set(("orgs", 0, "changes", 0, "surprise"), 1), "is damaged"),
    "unknown action": (_set(("orgs", 0, "changes", 0, "action"), "explode"),
                       "unknown action 'explode'"),
    "unknown reason code": (_set(("orgs", 0, "changes", 0, "reason", "code"), "because"),
                            "is damaged"),
    "apply field as text": (_set(("orgs", 0, "changes", 0, "old_was_default"), "yes"),
                            "orgs[0].changes[0].old_was_default: 'yes' is not of type"),
    "mint without its team": (_set(("orgs", 0, "changes", 0, "mint"), {"url": "u"}),
                              "is damaged"),
    "dependency out of range": (_set(("orgs", 0, "changes", 0, "depends_on"), [5]),
                                "depends_on names a change that is not in the plan"),
    "ids as a string": (_set(("orgs", 0, "known_ids"), "abc"), "orgs[0].known_ids: "),
    # Fields of the wrong type, found by sweeping every field with other types:
    "org id a number": (_set(("orgs", 0, "org"), 12345), "orgs[0].org: 12345 is not of type"),
    "unmanaged null": (_set(("orgs", 0, "unmanaged"), None), "orgs[0].unmanaged: None is not of type"),
    "before a string": (_set(("orgs", 0, "changes", 0, "before"), "x"), "orgs[0].changes[0].before: "),
    "after a number": (_set(("orgs", 0, "changes", 0, "after"), 3), "orgs[0].changes[0].after: 3 is not"),
    "make_default a word": (_set(("orgs", 0, "changes", 0, "make_default"), "yes"),
                            "orgs[0].changes[0].make_default: 'yes' is not of type"),
    "mint a list": (_set(("orgs", 0, "changes", 0, "mint"), []), "mint is list"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_plan_is_refused_and_changes_nothing(new_org: OrgFactory, tmp_path: Path,
                                                       damage: str) -> None:
    org = new_org()
    env = env_for(org, K=fake_key())
    planfile = saved_plan(org, tmp_path, env)
    edit, phrase = DAMAGE[damage]
    planfile.write_text(edit(planfile.read_text()))
    assert_refused(mxsync("show", str(planfile), env={}), phrase)
    assert_refused(mxsync("apply", str(planfile), env=env), phrase, "mxsync plan")
    assert org.xai() == []


def test_files_that_are_not_plans(tmp_path: Path) -> None:
    manifest = tmp_path / "mxsync.yaml"
    manifest.write_text("version: 1\norgs: [{id: org-a}]\n")
    assert_refused(mxsync("show", str(manifest), env={}), "is a manifest, not a saved plan",
                   f"mxsync apply -f {manifest}")
    binary = tmp_path / "plan.bin"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    assert_refused(mxsync("show", str(binary), env={}), "cannot read plan file", "not UTF-8")
    assert_refused(mxsync("show", str(tmp_path / "missing.json"), env={}), "does not exist",
                   "mxsync plan --out FILE")
    empty = tmp_path / "empty.json"
    empty.write_text("")
    assert_refused(mxsync("show", str(empty), env={}), "is damaged (not JSON)")



ROOT = Path(__file__).resolve().parent.parent
PLANFILE_SCHEMA = json.loads((ROOT / "schemas" / "planfile.schema.json").read_text())


def test_a_saved_plan_follows_its_published_schema(new_org: OrgFactory, tmp_path: Path) -> None:
    """A replace of the default holder, a duplicate's delete and a create: every kind of
    field a saved plan carries, checked against `schemas/planfile.schema.json`."""
    from jsonschema import Draft202012Validator

    from mxsync import ownership
    from mxsync.secrets import fingerprint

    old = fake_key("old")
    meta = ownership.managed_metadata({}, "test", "p", fingerprint(old), None)
    org = new_org(credentials=[
        {"integration_name": "xai", "display_name": "p", "api_key": old, "is_default": True,
         "metadata": meta},
        {"integration_name": "xai", "display_name": "p", "api_key": old,
         "metadata": meta}])
    path = write_manifest(tmp_path / "m.yaml", [{"id": org.id, "xai": {"credentials": [
        {"name": "p", "api_key_env": "K"}, {"name": "q", "api_key_env": "K2"}]}}])
    planfile = tmp_path / "plan.json"
    run = mxsync("plan", "-f", path, "--out", str(planfile),
                 env=env_for(org, K=fake_key("new"), K2=fake_key("q")))
    assert run.code == 0, run.both
    doc = json.loads(planfile.read_text())
    assert {c["action"] for o in doc["orgs"] for c in o["changes"]} == {"create", "replace",
                                                                        "delete"}
    replace = next(c for c in doc["orgs"][0]["changes"] if c["action"] == "replace")
    assert replace["old_was_default"] is True and replace["make_default"] is True
    Draft202012Validator(PLANFILE_SCHEMA).validate(doc)


def test_the_published_schema_names_what_this_version_reads() -> None:
    """The schema's format, actions and reason codes are the code's, and `mxsync schema
    planfile` prints the same schema."""
    from mxsync.plan import PLAN_FILE_FORMAT, Action, ReasonCode

    assert PLANFILE_SCHEMA["properties"]["mxsync_plan_file"]["const"] == PLAN_FILE_FORMAT
    change = PLANFILE_SCHEMA["$defs"]["change"]["properties"]
    assert change["action"]["enum"] == [str(a) for a in Action]
    assert PLANFILE_SCHEMA["$defs"]["reason"]["properties"]["code"]["enum"] == [
        str(c) for c in ReasonCode]
    run = mxsync("schema", "planfile", env={})
    assert run.code == 0 and json.loads(run.out) == PLANFILE_SCHEMA
