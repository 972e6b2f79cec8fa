"""Random and mutated manifests: validate always answers with problems, never crashes."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mxsync.cli import cli
from mxsync.manifest.schema import _validator, is_schema_valid

pytestmark = pytest.mark.slow  # `pytest -m "not slow"` is the quick tier

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = yaml.safe_load((ROOT / "examples" / "multi-org.yaml").read_text())
MINTED = yaml.safe_load((ROOT / "examples" / "minted.yaml").read_text())

scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False),
                    st.sampled_from(["", "xai", "primary", "K_1", "http://x", "https://y",
                                     "2027-01-01", "org-a", "1BAD", "a b", "30d", "12h",
                                     "api-key:model:*", "api-key:endpoint:chat", "grok-4-fast"]),
                    st.text(max_size=8))
keys = st.sampled_from(["version", "owner", "api", "url", "token_env", "orgs", "id", "name",
                        "prune", "xai", "default", "require_models", "credentials",
                        "api_key_env", "api_key_file", "base_url", "allow_insecure_http",
                        "expires_at", "metadata", "test", "bogus", "models", "assistant",
                        "model", "credential", "xai_management", "team_id", "key_env", "mint",
                        "acls", "qps", "qpm", "tpm", "rotate_after"])
documents = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=5)), max_leaves=25)


def mutate(doc: Any, path: list[Any], value: Any) -> Any:
    """Replace the node at a (clamped) path of the example by a random value."""
    if not path or not isinstance(doc, (dict, list)) or not doc:
        return value
    if isinstance(doc, dict):
        key = sorted(doc)[path[0] % len(doc)]
        return {**doc, key: mutate(doc[key], path[1:], value)}
    index = path[0] % len(doc)
    return [*doc[:index], mutate(doc[index], path[1:], value), *doc[index + 1:]]


def validate_text(text: str) -> tuple[int, str]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.yaml"
        path.write_text(text)
        result = CliRunner().invoke(cli, ["validate", "-f", str(path)])
    return result.exit_code, result.output


def check(text: str) -> None:
    code, out = validate_text(text)
    assert code in (0, 1), out
    assert "Traceback" not in out and "internal error" not in out
    assert out.strip(), "validate must always say something"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_random_documents(doc: Any) -> None:
    check(yaml.safe_dump(doc))


@settings(max_examples=150, deadline=None)
@given(st.sampled_from([EXAMPLE, MINTED]), st.lists(st.integers(0, 20), max_size=6), documents)
def test_mutated_example(example: Any, path: list[int], value: Any) -> None:
    check(yaml.safe_dump(mutate(example, path, value), sort_keys=False))


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("{}[]:,-'\"#&*!|> \n\tab1")), max_size=60))
def test_garbage_text(text: str) -> None:
    check("version: 1\n" + text)


@settings(max_examples=300, deadline=None)
@given(st.one_of(documents, st.builds(mutate, st.sampled_from([EXAMPLE, MINTED]),
                                      st.lists(st.integers(0, 20), max_size=6), documents)))
def test_fast_schema_gate_agrees_with_jsonschema(doc: Any) -> None:
    """The fastjsonschema gate must never call valid what jsonschema calls invalid."""
    assert is_schema_valid(doc) == _validator().is_valid(doc)
