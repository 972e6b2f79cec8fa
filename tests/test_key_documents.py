"""Key documents (`api_key_field`): many keys in one variable or file, never printed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mxsync.secrets import KeySource, SecretError, isolated_registry, read_key, redact
from tests.cli_helpers import mxsync, write_manifest
from tests.conftest import fake_key


def _forms(a: str, b: str) -> dict[str, str]:
    return {
        "json": json.dumps({"A": a, "B": b}),
        "yaml": f"# keys\nA: {a}\nB: '{b}'\n",
        "dotenv": f"# keys\nexport A={a}\nB=\"{b}\"\n",
    }


@pytest.mark.parametrize("form", ["json", "yaml", "dotenv"])
def test_each_form_gives_its_fields_and_registers_every_key(form: str) -> None:
    a, b = fake_key(), fake_key()
    with isolated_registry():
        env = {"XAI_KEYS": _forms(a, b)[form]}
        assert read_key(KeySource(env="XAI_KEYS", field="A"), env).reveal() == a
        # B was not asked for, yet it is redacted from any text from now on.
        assert b not in redact(f"leaked {b} here")


def test_a_missing_field_names_the_variable_and_the_field() -> None:
    a = fake_key()
    with pytest.raises(SecretError) as caught:
        read_key(KeySource(env="XAI_KEYS", field="MISSING"), {"XAI_KEYS": json.dumps({"A": a})})
    assert "field MISSING" in str(caught.value) and "$XAI_KEYS" in str(caught.value)
    assert a not in str(caught.value)


@pytest.mark.parametrize("text", ['{"A": "xai-notclosed', "A: [unclosed\nB: x", "- a list\n- b"])
def test_a_broken_document_is_never_quoted(text: str) -> None:
    with pytest.raises(SecretError) as caught:
        read_key(KeySource(env="XAI_KEYS", field="A"), {"XAI_KEYS": text})
    message = str(caught.value)
    assert "$XAI_KEYS" in message
    assert "notclosed" not in message and "unclosed" not in message and "a list" not in message


def test_a_document_file_and_check_env(tmp_path: Path) -> None:
    a = fake_key()
    (tmp_path / "keys.env").write_text(f"A={a}\n")
    (tmp_path / "keys.env").chmod(0o600)
    path = write_manifest(tmp_path / "m.yaml", [{"id": "org-a", "xai": {"credentials": [
        {"name": "a", "api_key_file": "keys.env", "api_key_field": "A"},
        {"name": "b", "api_key_file": "keys.env", "api_key_field": "B"}]}}])
    run = mxsync("validate", "-f", path, "--check-env", env={"MODULEX_API_KEY": "mx_live_" + "x" * 24})
    assert run.code == 1
    assert "credentials[1].api_key_file" in run.both and "no field B" in run.both
    assert a not in run.both


def test_a_field_without_a_document_is_a_located_error(tmp_path: Path) -> None:
    path = write_manifest(tmp_path / "m.yaml", [{"id": "org-a", "xai": {"credentials": [
        {"name": "a", "api_key_field": "A", "mint": {"acls": ["api-key:model:*"]}}]}}])
    run = mxsync("validate", "-f", path, env={})
    assert run.code == 1
    assert "credentials[0].api_key_field" in run.both and "api_key_env" in run.both
