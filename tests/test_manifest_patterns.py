"""Schema patterns mean what they say in Python too: JSON Schema's `$` is the end of the
text, Python's `$` also matches before a final newline (issue 12.6)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from mxsync.manifest import load
from mxsync.manifest.schema import _validator, is_schema_valid

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "schemas" / "manifest.schema.json").read_text())


def patterns(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "pattern" and isinstance(v, str)] + [
            p for k, v in node.items() if k != "pattern" for p in patterns(v)]
    if isinstance(node, list):
        return [p for item in node for p in patterns(item)]
    return []


PATTERNS = sorted(set(patterns(SCHEMA)))


def test_every_pattern_is_anchored_at_both_ends() -> None:
    assert len(PATTERNS) >= 10
    for pattern in PATTERNS:
        assert pattern.startswith("^") and pattern.endswith("(?!\\n)$"), pattern


@pytest.mark.parametrize("pattern", PATTERNS)
@given(data=st.data())
def test_no_pattern_accepts_a_line_break(pattern: str, data: st.DataObject) -> None:
    accepted = data.draw(st.from_regex(pattern, fullmatch=True), label="accepted")
    assert re.search(pattern, accepted)
    assert re.search(pattern, accepted + "\n") is None
    cut = data.draw(st.integers(0, len(accepted)), label="cut")
    assert re.search(pattern, accepted[:cut] + "\n" + accepted[cut:]) is None


MINTED = yaml.safe_load((ROOT / "examples" / "minted.yaml").read_text())
MULTI = yaml.safe_load((ROOT / "examples" / "multi-org.yaml").read_text())
# Every patterned string of the two examples, as (document, path).
FIELDS = [
    (MULTI, ("owner",)), (MULTI, ("api", "url")), (MULTI, ("api", "token_env")),
    (MULTI, ("orgs", 0, "id")), (MULTI, ("orgs", 0, "name")), (MULTI, ("orgs", 1, "token_env")),
    (MULTI, ("orgs", 0, "xai", "require_models", 0)), (MULTI, ("orgs", 0, "xai", "models", 1)),
    (MULTI, ("orgs", 0, "xai", "assistant", "model")), (MULTI, ("orgs", 0, "xai", "assistant", "credential")),
    (MULTI, ("orgs", 0, "xai", "credentials", 0, "name")),
    (MULTI, ("orgs", 0, "xai", "credentials", 0, "api_key_env")),
    (MINTED, ("xai_management", "team_id")), (MINTED, ("xai_management", "key_env")),
    (MINTED, ("xai_management", "url")), (MINTED, ("orgs", 1, "xai_management", "team_id")),
    (MINTED, ("orgs", 0, "xai", "credentials", 0, "mint", "acls", 2)),
    (MINTED, ("orgs", 0, "xai", "credentials", 0, "rotate_after")),
]


def with_newline(doc: Any, path: tuple[str | int, ...]) -> Any:
    changed = copy.deepcopy(doc)
    node = changed
    for part in path[:-1]:
        node = node[part]
    assert isinstance(node[path[-1]], str), path
    node[path[-1]] += "\n"
    return changed


@pytest.mark.parametrize(("doc", "path"), FIELDS, ids=[".".join(map(str, p)) for _, p in FIELDS])
def test_a_trailing_newline_is_refused_by_both_validators(doc: Any, path: tuple[str | int, ...]) -> None:
    assert is_schema_valid(doc) and _validator().is_valid(doc)
    changed = with_newline(doc, path)
    assert not is_schema_valid(changed)
    assert not _validator().is_valid(changed)


def test_validate_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text('version: 1\norgs:\n  - id: "org-a\\n"\n')
    errors = load([str(path)]).errors
    assert [(e.line, e.column, e.path) for e in errors] == [(3, 9, "orgs[0].id")]
    assert "line breaks" in errors[0].message
