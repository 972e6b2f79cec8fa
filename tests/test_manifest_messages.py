"""Messages a person can act on (issue 15.6): a missing file, a quoted version, a tab, an
unclosed bracket or quote, and YAML merge keys (supported)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from mxsync.cli import cli
from mxsync.manifest import load, load_or_raise


def write(tmp_path: Path, text: str, name: str = "mxsync.yaml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip() if not text.startswith("\t") else text)
    return str(path)


def problems(tmp_path: Path, text: str) -> list[dict]:
    result = CliRunner().invoke(cli, ["validate", "-f", write(tmp_path, text), "--json"])
    return json.loads(result.output)


@pytest.mark.parametrize("command", [["plan"], ["apply"], ["audit"]])
def test_missing_manifest_says_no_such_file(tmp_path: Path, command: list[str]) -> None:
    missing = str(tmp_path / "nope.yaml")
    result = CliRunner().invoke(cli, [*command, "-f", missing], env={"MODULEX_API_KEY": "mx_live_fake0000"})
    assert result.exit_code != 0
    assert f"no such file or folder: {missing}" in result.output
    assert "not valid" not in result.output and "Traceback" not in result.output


def test_missing_manifest_beside_a_broken_one_is_still_listed(tmp_path: Path) -> None:
    broken = write(tmp_path, "version: 2\n")
    result = CliRunner().invoke(cli, ["plan", "-f", broken, "-f", str(tmp_path / "nope.yaml")])
    assert "the manifest is not valid" in result.output
    assert "no such file or folder" in result.output and "unsupported manifest version" in result.output


@pytest.mark.parametrize(("text", "kind"), [('"1"', "a string"), ("true", "true/false"), ("[1]", "a list")])
def test_version_must_be_the_number_1(tmp_path: Path, text: str, kind: str) -> None:
    [got] = problems(tmp_path, f"version: {text}\n")
    assert (got["line"], got["column"], got["path"]) == (1, 10, "version")
    assert got["message"] == f"must be the number 1, not {kind}: write `version: 1` (no quotes)"


def test_missing_version_says_how_to_start(tmp_path: Path) -> None:
    [got] = problems(tmp_path, "orgs: []\n")
    assert "start the file with `version: 1`" in got["message"]


@pytest.mark.parametrize(("text", "line"), [
    ("version: 1\norgs:\n\t- id: a\n", 3),
    ("version: 1\norgs:\n  - id: a\n\t  xai: {}\n", 4),
])
def test_a_tab_is_named(tmp_path: Path, text: str, line: int) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(text)
    [got] = load([str(path)]).problems
    assert (got.line, got.column) == (line, 1)
    assert "a tab character here" in got.message and "spaces" in got.message


@pytest.mark.parametrize(("text", "opened", "noticed", "bracket"), [
    ("version: 1\norgs: [\n  {id: a},\n  {id: b}\nowner: x\n", (2, 7), (5, 1), "["),
    ("version: 1\norgs:\n  - id: a\n    xai: {credentials: [{name: p, api_key_env: K}\n  - id: b\n",
     (4, 24), (5, 3), "["),
    ("version: 1\norgs:\n  - {id: a, name: x\n  - id: b\n", (3, 5), (4, 7), "{"),
])
def test_unclosed_bracket_names_where_it_opened_and_where_it_was_noticed(
        tmp_path: Path, text: str, opened: tuple[int, int], noticed: tuple[int, int], bracket: str) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(text)
    [got] = load([str(path)]).problems
    assert (got.line, got.column) == noticed
    line, column = opened
    assert f"the '{bracket}' opened at line {line}, column {column} ({path}:{line}:{column})" in got.message
    assert "is not closed" in got.message


def test_unclosed_quote_names_where_it_opened(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text('version: 1\norgs:\n  - id: "abc\n')
    [got] = load([str(path)]).problems
    assert 'the quote " opened at line 3, column 9' in got.message


def test_merge_keys_are_supported(tmp_path: Path) -> None:
    manifest = load_or_raise([write(tmp_path, """
        version: 1
        x-defaults: &defaults {prune: true, token_env: TOKEN_A}
        x-labels: &labels {team: ml}
        x-more: &more {team: ops, cost-center: "4711"}
        orgs:
          - id: a
            <<: *defaults
          - id: b
            prune: false              # written in the mapping: wins over the merged value
            <<: *defaults
            xai:
              credentials:
                - name: p
                  api_key_env: K
                  metadata: {<<: [*labels, *more]}   # the first listed wins
    """)])
    a, b = manifest.orgs
    assert (a.prune, a.token_env) == (True, "TOKEN_A")
    assert (b.prune, b.token_env) == (False, "TOKEN_A")
    assert dict(b.credentials[0].labels) == {"team": "ml", "cost-center": "4711"}


def test_a_problem_in_a_merged_value_points_at_the_merge(tmp_path: Path) -> None:
    [got] = problems(tmp_path, """
        version: 1
        x-defaults: &defaults {prune: "yes"}
        orgs:
          - id: a
            <<: *defaults
    """)
    assert (got["line"], got["column"], got["path"]) == (5, 9, "orgs[0].prune")
    assert "expected true or false" in got["message"]


def test_merging_a_non_mapping_is_explained(tmp_path: Path) -> None:
    [got] = problems(tmp_path, """
        version: 1
        orgs:
          - <<: [1, 2]
            id: b
    """)
    assert (got["line"], got["column"], got["path"]) == (3, 9, "orgs[0].<<")
    assert "`<<` merges mappings into this one" in got["message"]


def test_a_quoted_merge_key_is_an_ordinary_key(tmp_path: Path) -> None:
    [got] = problems(tmp_path, 'version: 1\norgs:\n  - id: a\n    "<<": {prune: true}\n')
    assert got["message"].startswith("unknown key '<<'")
