"""Hostile manifests: each fails at once with a located, plain problem, never a traceback,
a hang or "internal error" (issue 12, items 2 and 5)."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from mxsync.cli import cli
from mxsync.manifest import MAX_MANIFEST_BYTES, load, load_or_raise
from mxsync.manifest.model import normalize_instant, parse_instant
from mxsync.manifest.yaml_positions import ALIAS_BUDGET, MAX_DEPTH, load_yaml

# 353 bytes that expand to 9^9 (387 million) strings: the classic "billion laughs".
ALIAS_BOMB = "version: 1\n" + 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{name}: &{name} [{','.join(['*' + prev] * 9)}]\n"
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True))


def validate_json(tmp_path: Path, text: str | bytes) -> list[dict]:
    path = tmp_path / "mxsync.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    result = CliRunner().invoke(cli, ["validate", "-f", str(path), "--json"], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    return json.loads(result.output)


def only_problem(tmp_path: Path, text: str | bytes) -> dict:
    found = validate_json(tmp_path, text)
    assert len(found) == 1, found
    return found[0]


def test_alias_bomb_stops_at_the_alias_that_crosses_the_budget(tmp_path: Path) -> None:
    assert len(ALIAS_BOMB.encode()) == 353
    got = only_problem(tmp_path, ALIAS_BOMB)
    # b, c and d add 90 + 819 + 7,380 values; e's first alias adds 7,381 more: over the budget
    assert (got["line"], got["column"], got["path"]) == (6, 8, "e[0]"), got
    assert "billion laughs" in got["message"] and f"{ALIAS_BUDGET:,}" in got["message"]


def test_plain_aliases_still_work(tmp_path: Path) -> None:
    """Anchors that share labels between entries are ordinary YAML and stay allowed."""
    path = tmp_path / "m.yaml"
    path.write_text(textwrap.dedent("""
        version: 1
        orgs:
          - id: a
            xai:
              credentials:
                - {name: p, api_key_env: K1, metadata: &labels {team: ml, cost-center: "4711"}}
                - {name: q, api_key_env: K2, metadata: *labels}
    """))
    manifest = load_or_raise([str(path)])
    labels = [dict(c.labels) for c in manifest.orgs[0].credentials]
    assert labels == [{"team": "ml", "cost-center": "4711"}] * 2


def test_undefined_alias_is_named(tmp_path: Path) -> None:
    got = only_problem(tmp_path, "version: 1\norgs: *nope\n")
    assert (got["line"], got["column"], got["path"]) == (2, 7, "orgs")
    assert "the alias '*nope' names no anchor" in got["message"]


@pytest.mark.parametrize("text", [
    "version: 1\norgs:\n" + "".join("  " * i + "- \n" for i in range(1, 400)),  # block lists
    "version: 1\norgs: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n",  # flow mappings
    "version: 1\norgs: " + "[" * 500 + "]" * 500 + "\n",  # under libyaml's own bound
    "version: 1\norgs: " + "[" * 5000 + "]" * 5000 + "\n",  # over it
])
def test_deep_nesting_is_a_located_error_not_a_recursion_error(tmp_path: Path, text: str) -> None:
    got = only_problem(tmp_path, text)
    assert got["line"] >= 2 and got["column"] > 1, got
    assert "nested" in got["message"] and "deep" in got["message"], got
    assert "Recursion" not in got["message"]


def test_nesting_up_to_the_bound_is_accepted() -> None:
    assert load_yaml("a: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH, "f").problems == []


def test_a_5000_digit_integer_is_one_clear_problem(tmp_path: Path) -> None:
    got = only_problem(tmp_path, "version: 1\norgs:\n  - id: a\n    prune: " + "9" * 5000 + "\n")
    assert (got["line"], got["column"], got["path"]) == (4, 12, "orgs[0].prune")
    assert "a number of 5,000 characters" in got["message"]


def test_a_huge_value_is_one_clear_problem(tmp_path: Path) -> None:
    got = only_problem(tmp_path, 'version: 1\norgs:\n  - id: a\n    name: "' + "x" * 5_000_000 + '"\n')
    assert (got["line"], got["column"], got["path"]) == (4, 11, "orgs[0].name")
    assert "5,000,000 characters" in got["message"]
    assert "x" * 100 not in got["message"]


@pytest.mark.parametrize("stamp", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+01:00"])
def test_expires_at_out_of_range(tmp_path: Path, stamp: str) -> None:
    got = only_problem(tmp_path, textwrap.dedent(f"""
        version: 1
        orgs:
          - id: a
            xai: {{credentials: [{{name: p, api_key_env: K, expires_at: "{stamp}"}}]}}
    """).lstrip())
    assert got["path"] == "orgs[0].xai.credentials[0].expires_at" and "out of range" in got["message"]
    with pytest.raises(ValueError, match="out of range"):
        parse_instant(stamp)


def test_early_years_keep_one_spelling() -> None:
    assert normalize_instant("0001-01-01T00:00:00Z") == "0001-01-01T00:00:00Z"
    assert parse_instant(normalize_instant("0999-06-01T00:00:00+00:00") or "").year == 999


def test_not_a_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "m.yaml"
    os.mkfifo(fifo)
    result = load([str(fifo), "/dev/zero"])
    assert [p.message.split(";")[0] for p in result.errors] == [
        "not a regular file (a device, pipe or socket)"] * 2


def test_non_utf8_is_located(tmp_path: Path) -> None:
    got = only_problem(tmp_path, b'version: 1\norgs: [{id: "caf\xe9"}]\n')
    assert (got["line"], got["column"]) == (2, 17) and "not UTF-8" in got["message"]


def test_oversized_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mxsync.manifest.MAX_MANIFEST_BYTES", 1000)
    path = tmp_path / "m.yaml"
    path.write_text("version: 1\n" + "# padding\n" * 200)
    assert "larger than" in load([str(path)]).errors[0].message
    assert MAX_MANIFEST_BYTES >= 32 * 2**20


def test_unlistable_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: Path) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "iterdir", refuse)
    result = load([str(tmp_path)])
    assert [p.message for p in result.errors] == [
        "cannot list this folder: Permission denied; check its permissions"]


def test_as_of_out_of_range_is_a_usage_error_not_an_internal_error() -> None:
    """audit --as-of goes through the same parse_instant, so it needs no handler of its own."""
    example = str(Path(__file__).resolve().parents[1] / "examples" / "minimal.yaml")
    result = CliRunner().invoke(cli, ["audit", "-f", example, "--as-of", "9999-12-31T23:59:59-23:59"])
    assert result.exit_code == 1, result.output
    assert "--as-of" in result.output and "internal error" not in result.output
