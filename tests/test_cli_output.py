"""Output that reads well: counted nouns, default changes in Markdown, unlisted credentials
in plan's closing line, audit advice a user can paste, and one table layout."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from mxsync.audit import UNUSED, AuditResult
from mxsync.catalog import models_table
from mxsync.demo import live_table
from mxsync.plan import Change, OrgPlan, Plan, Reason
from mxsync.render.markdown import audit_markdown, plan_markdown
from mxsync.render.table import table, width
from mxsync.render.text import render_audit, render_plan
from mxsync.render.words import plural
from tests.cli_helpers import mxsync, write_manifest
from tests.conftest import OrgFactory, TestOrg, fake_key


def env_for(org: TestOrg, **keys: str) -> dict[str, str]:
    return {"MODULEX_BASE_URL": org.url, "MODULEX_API_KEY": org.token, **keys}


# -- counted nouns ---------------------------------------------------------------------------
def test_plural() -> None:
    assert [plural(n, "warning") for n in (0, 1, 2)] == ["0 warnings", "1 warning", "2 warnings"]
    assert plural(2, "entry", "entries") == "2 entries"


def test_one_warning_is_one_warning_in_every_audit_format() -> None:
    result = AuditResult(orgs=["org-a"], checks=["unused"], findings=[
        UNUSED.found("org-a", name="k", cred_id="c1", created_at="2020-01-01T00:00:00Z")])
    assert render_audit(result).endswith("Audit: 1 org, 0 errors, 1 warning.")
    assert "**1 org, 0 errors, 1 warning**" in audit_markdown(result)


def test_skipped_orgs_are_counted_in_words(new_org: OrgFactory) -> None:
    other = new_org()
    org = new_org(extra_memberships={other.id: "member"})
    run = mxsync("audit", "--all-orgs", env=env_for(org))
    assert "Skipped 1 org the token belongs to but cannot manage" in run.err, run.both


# -- plans -----------------------------------------------------------------------------------
def _plan(*changes: Change, notes: tuple[Reason, ...] = ()) -> Plan:
    return Plan(owner="team", orgs=(OrgPlan(org="org-a", token_env="T", changes=changes,
                                            notes=notes),))


def test_markdown_plan_lists_the_default_a_create_takes() -> None:
    plan = _plan(Change("create", "org-a", "p", Reason("absent"), fingerprint="sha256:1",
                        make_default=True, after={"is_default": True}))
    markdown = plan_markdown(plan)
    row = next(line for line in markdown.splitlines() if "`org-a/xai/p`" in line)
    assert "made the org's default on create" in row
    assert "1 default to change" in markdown


def test_markdown_plan_has_every_line_the_text_plan_shows_under_a_change() -> None:
    """#21.3: reviewers read the Markdown; it must not leave out what `plan` shows."""
    from mxsync.plan import MintSpec
    from mxsync.secrets.reading import KeySource

    plan = _plan(
        Change("create", "org-a", "p", Reason("absent"), key=KeySource(env="K_P"),
               fingerprint="sha256:1", base_url="https://gw.example/v1",
               expires_at="2027-01-01T00:00:00Z", make_default=True),
        Change("replace", "org-a", "m", Reason("replace-forced"), credential_id="c-old",
               mint=MintSpec("team-1", "XAI_MGMT", "https://management-api.x.ai", "k-old",
                             ("api-key:model:*",), qpm=600), test=True),
        Change("set-models", "org-a", "settings/models", Reason("models-differ"),
               before={"models": "all"}, after={"models": ["grok-4-fast"]}),
        Change("set-assistant", "org-a", "settings/assistant", Reason("assistant-differs"),
               before={}, after={"model_id": "grok-4-fast", "credential": "p"}),
        Change("update", "org-a", "u", Reason("attributes-differ"), credential_id="c-u",
               before={"base_url": "https://a.example"}, after={"base_url": "https://b.example"}),
        Change("delete", "org-a", "d", Reason("pruned"), credential_id="c-d"))
    text, markdown = render_plan(plan), plan_markdown(plan)
    details = [line.strip() for line in text.splitlines() if line.startswith(" " * 8)]
    assert len(details) >= 12
    for line in details:
        as_cell = line.replace("$", "\\$").replace(">", "&gt;")
        assert as_cell in markdown or f"`{line}`" in markdown, line
    for line in ("ModuleX token of org org-a: $T -> https://api.modulex.dev",
                 "xAI management key for org-a/xai/m: $XAI_MGMT -> https://management-api.x.ai"):
        assert line in text and line.replace("$", "\\$").replace(">", "&gt;") in markdown


def test_the_closing_line_counts_unlisted_credentials() -> None:
    plan = _plan(notes=(Reason("orphans-kept", {"owner": "team", "names": ["old", "older"]}),))
    closing = render_plan(plan).splitlines()[-1]
    assert closing == ("No changes. Live state matches the manifest. 2 managed credentials of "
                       "owner 'team' are no longer listed and kept (--prune deletes them).")
    assert f"**{closing}**" in plan_markdown(plan)


def test_plan_says_how_many_are_unlisted_and_exits_0(new_org: OrgFactory, tmp_path: Path) -> None:
    org = new_org()
    both = write_manifest(tmp_path / "both.yaml", [{"id": org.id, "xai": {"credentials": [
        {"name": "p", "api_key_env": "K1"}, {"name": "q", "api_key_env": "K2"}]}}])
    env = env_for(org, K1=fake_key(), K2=fake_key())
    assert mxsync("apply", "-f", both, "--auto-approve", env=env).code == 0
    one = write_manifest(tmp_path / "one.yaml", [{"id": org.id, "xai": {"credentials": [
        {"name": "p", "api_key_env": "K1"}]}}])
    run = mxsync("plan", "-f", one, "--detailed-exitcode", env=env)
    assert run.code == 0, run.both
    assert run.out.strip().splitlines()[-1] == (
        "No changes. Live state matches the manifest. 1 managed credential of owner 'test' is "
        "no longer listed and kept (--prune deletes it).")


# -- audit -----------------------------------------------------------------------------------
def test_audit_advice_names_the_manifest_owner_and_says_to_merge(
        new_org: OrgFactory, tmp_path: Path) -> None:
    org = new_org(credentials=[{"integration_name": "xai", "display_name": "stray",
                                "api_key": fake_key(), "is_default": True}])
    path = write_manifest(tmp_path / "m.yaml", [{"id": org.id}], owner="team-a")
    with_manifest = mxsync("audit", "-f", path, "--format", "json", env=env_for(org))
    advice = next(f["message"] for f in json.loads(with_manifest.out)["findings"]
                  if f["code"] == "unmanaged")
    assert f"mxsync import --org {org.id} --owner team-a --adopt -o imported.yaml" in advice
    assert "merge its entries into your manifest" in advice
    live = mxsync("audit", "--org", org.id, "--format", "json", env=env_for(org))
    advice = next(f["message"] for f in json.loads(live.out)["findings"]
                  if f["code"] == "unmanaged")
    assert "--owner OWNER" in advice  # not known without a manifest: a placeholder, not a guess


def test_audit_json_has_the_credential_name_and_id_apart(new_org: OrgFactory) -> None:
    org = new_org(credentials=[{"integration_name": "xai", "display_name": "my key (old)",
                                "api_key": fake_key(), "is_default": True}])
    run = mxsync("audit", "--org", org.id, "--format", "json", env=env_for(org))
    found = json.loads(run.out)["findings"]
    [stray] = [f for f in found if f["code"] == "unmanaged"]
    cred_id = org.xai()[0]["credential_id"]
    assert (stray["credential_name"], stray["credential_id"]) == ("my key (old)", cred_id)
    assert stray["credential"] == f"my key (old) ({cred_id})"


# -- the one table ---------------------------------------------------------------------------
def test_table_aligns_pads_right_and_trims() -> None:
    assert table([("A", "NUM", "LAST"), ("long", "7", "x"), ("b", "1234", "")], right={1}) == [
        "A     NUM   LAST", "long     7  x", "b     1234"]


def test_table_counts_columns_as_a_terminal_shows_them() -> None:
    lines = table([("NAME", "X"), ("日本", "1"), ("e\u0301", "2")])
    # The second column starts at the same screen column on every line.
    assert [width(line[:-1]) for line in lines] == [6, 6, 6]


@given(st.lists(st.tuples(st.text(), st.text(), st.text()), min_size=1, max_size=6))
def test_table_lines_are_one_per_row_and_printable(rows: list[tuple[str, str, str]]) -> None:
    lines = table(rows)
    assert len(lines) == len(rows)
    for line in lines:
        assert not any(unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") for ch in line)


def test_catalog_demo_and_audit_tables_neutralise_names() -> None:
    evil = "grok\x1b[2J\rX"
    catalog = models_table({"models": [{"id": evil, "display_name": "G", "max_input_tokens": 1000,
                                        "pricing": {"input_per_million": 3}}]})
    assert "\x1b" not in catalog and "\r" not in catalog and "grok\\x1b[2J\\rX" in catalog
    assert catalog.splitlines()[1].split()[2:4] == ["1,000", "-"]
    demo = live_table({"org-a": [{"display_name": evil, "credentials_metadata": {}}]})
    assert "\x1b" not in demo and "grok\\x1b" in demo
    audit = render_audit(AuditResult(orgs=["org-a"], checks=["unused"], findings=[
        UNUSED.found("org-a", name=evil, cred_id="c1", created_at=evil)]))
    assert "\x1b" not in audit and "\r" not in audit


def test_audit_text_is_colourless_unless_asked() -> None:
    result = AuditResult(orgs=["org-a"], checks=["unused"], findings=[
        UNUSED.found("org-a", name="k", cred_id="c1", created_at="2020-01-01T00:00:00Z")])
    assert "\x1b[" not in render_audit(result)
    assert "\x1b[33m" in render_audit(result, color=True)
