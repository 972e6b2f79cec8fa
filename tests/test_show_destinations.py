"""`mxsync show` of a saved plan tells a reviewer where secrets go (#20.4), and the Markdown
plan a pull request shows carries everything the text plan does (#21.3)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_helpers import mxsync, write_manifest
from tests.conftest import OrgFactory, fake_key
from tests.mint_helpers import MintWorld, mint_world


def md(words: str) -> str:
    """Words as the Markdown plan writes them: `$` escaped (GitHub math), `>` an entity."""
    return words.replace("$", "\\$").replace(">", "&gt;")


@pytest.fixture
def world(new_org: OrgFactory, emulator_url: str, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> MintWorld:
    return mint_world(new_org, emulator_url, tmp_path, monkeypatch)


def _saved_plan(world: MintWorld, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A plan with a minted key and keys from a variable, a file and a field of a document."""
    (tmp_path / "k.key").write_text(fake_key() + "\n")
    (tmp_path / "k.key").chmod(0o600)
    env = {**world.env, "K_ENV": fake_key(), "K_DOC": json.dumps({"b": fake_key()})}
    write_manifest(world.manifest, [{
        "id": world.org.id, "token_env": world.token_env,
        "xai": {"default": "minted", "credentials": [
            {"name": "minted", "mint": {"acls": ["api-key:model:*", "api-key:endpoint:*"]}},
            {"name": "from-env", "api_key_env": "K_ENV", "test": False},
            {"name": "from-file", "api_key_file": "k.key"},
            {"name": "from-field", "api_key_env": "K_DOC", "api_key_field": "b"}]},
    }], owner=world.owner, api={"url": world.org.url},
        xai_management={"team_id": world.team.id, "key_env": world.key_env, "url": world.team.url})
    planfile = tmp_path / "p.json"
    run = mxsync("plan", "-f", str(world.manifest), "--out", str(planfile), env=env)
    assert run.code == 0, run.both
    return planfile, env


def test_show_says_where_every_secret_goes_in_every_format(world: MintWorld, tmp_path: Path) -> None:
    planfile, _ = _saved_plan(world, tmp_path)
    org, team = world.org, world.team
    text = mxsync("show", str(planfile), env={}).out
    assert f"ModuleX API: {org.url}" in text
    assert f"ModuleX token of org {org.id}: ${world.token_env} -> {org.url}" in text
    assert f"xAI management key for {org.id}/xai/minted: ${world.key_env} -> {team.url}" in text
    for source in ("from $K_ENV", "from file ", "from field b of $K_DOC"):
        assert source in text, source
    assert f"management key: ${world.key_env} -> {team.url}" in text

    doc = json.loads(mxsync("show", str(planfile), "--format", "json", env={}).out)
    assert doc["api_url"] == org.url and doc["orgs"][0]["token_env"] == world.token_env
    assert {"what": f"ModuleX token of org {org.id}", "variable": world.token_env,
            "url": org.url} in doc["destinations"]
    by_name = {r["name"]: r["change"] for r in doc["resource_changes"]}
    assert by_name["minted"]["minted"] == {"team_id": team.id, "management_url": team.url,
                                           "management_key_env": world.key_env}
    assert by_name["from-env"]["key_from"] == "$K_ENV"
    assert by_name["from-field"]["key_from"] == "field b of $K_DOC"
    assert by_name["from-file"]["key_from"].startswith("file ")
    assert by_name["from-file"]["key_source"]["file"].endswith("k.key")  # the old shape stays

    markdown = mxsync("show", str(planfile), "--format", "markdown", env={}).out
    assert "Where secrets go" in markdown and f"ModuleX API: {org.url}" in markdown
    assert md(f"${world.token_env} -> {org.url}") in markdown
    assert md(f"${world.key_env} -> {team.url}") in markdown
    for source in ("from $K_ENV", "from field b of $K_DOC"):
        assert md(source) in markdown, source


def test_an_edited_api_url_shows_in_show(world: MintWorld, tmp_path: Path) -> None:
    """A plan file whose URL was changed no longer looks like the original."""
    planfile, _ = _saved_plan(world, tmp_path)
    saved = json.loads(planfile.read_text())
    saved["api_url"] = "https://collector.example"
    planfile.write_text(json.dumps(saved))
    run = mxsync("show", str(planfile), env={})
    assert "ModuleX API: https://collector.example" in run.out, run.both
    assert f"${world.token_env} -> https://collector.example" in run.out


def test_markdown_plan_carries_what_the_text_plan_shows(new_org: OrgFactory, tmp_path: Path) -> None:
    """Models, the Assistant's target, each key's source and an untested key: a reviewer of
    the pull-request comment sees what `mxsync plan` shows in a terminal."""
    org = new_org()
    (tmp_path / "k.key").write_text(fake_key() + "\n")
    (tmp_path / "k.key").chmod(0o600)
    manifest = write_manifest(tmp_path / "mxsync.yaml", [{
        "id": org.id, "xai": {
            "default": "p", "models": ["grok-4-fast"], "assistant": {"model": "grok-4-fast"},
            "credentials": [{"name": "p", "api_key_env": "K_P", "test": False},
                            {"name": "f", "api_key_file": "k.key"}]}}])
    env = {"MODULEX_BASE_URL": org.url, "MODULEX_API_KEY": org.token, "K_P": fake_key()}
    text = mxsync("plan", "-f", manifest, env=env)
    markdown = mxsync("plan", "-f", manifest, "--format", "markdown", env=env)
    assert text.code == markdown.code == 0, text.both + markdown.both
    shown = {
        "models": "models: the catalog's full list -> grok-4-fast",
        "assistant": "assistant: not set -> grok-4-fast on p",
        "env source": "from $K_P",
        "file source": f"from file {tmp_path / 'k.key'}",
        "untested": "the key is stored untested",
        "tested": "the key is tested (test-temporary) before it is stored",
    }
    for what, words in shown.items():
        assert words in text.out, (what, text.out)
        assert md(words) in markdown.out, (what, markdown.out)
