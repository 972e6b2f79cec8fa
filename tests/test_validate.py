"""`mxsync validate`: every rule with its exact location and message, offline."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from mxsync.cli import cli

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.output


def write(tmp_path: Path, text: str, name: str = "mxsync.yaml") -> str:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return str(path)


def problems(tmp_path: Path, text: str) -> list[dict]:
    path = write(tmp_path, text)
    code, out = run("validate", "-f", path, "--json")
    assert code in (0, 1)
    return json.loads(out)


@pytest.mark.parametrize("example", ["minimal.yaml", "multi-org.yaml", "gateway.yaml", "split",
                                     "minted.yaml"])
def test_examples_are_valid(example: str) -> None:
    code, out = run("validate", "-f", str(ROOT / "examples" / example))
    assert code == 0, out
    assert out.strip().endswith("valid.")


def test_valid_summary_line(tmp_path: Path) -> None:
    path = write(tmp_path, """
        version: 1
        orgs:
          - id: a
            xai: {credentials: [{name: x, api_key_env: K1}, {name: y, api_key_env: K2}]}
          - id: b
    """)
    assert run("validate", "-f", path) == (0, f"{path}: 2 orgs, 2 credentials, valid.\n")


# Each case: manifest text, then (line, column, path, message part) of the one problem expected.
CASES = {
    "syntax": ("""
        version: 1
        orgs:
          - id: a
           xai: {}
     """, (4, 4, "(top)", "YAML syntax error")),
    "duplicate key": ("""
        version: 1
        orgs:
          - id: a
            id: b
    """, (4, 5, "orgs[0].id", "duplicate key 'id' (first at line 3)")),
    "unknown key with suggestion": ("""
        version: 1
        orgs:
          - id: a
            xai:
              credentials:
                - name: p
                  api_key_env: K
                  api_key_evn: K
    """, (8, 11, "orgs[0].xai.credentials[0].api_key_evn",
          "unknown key 'api_key_evn': did you mean 'api_key_env'?")),
    "inline api_key field": ("""
        version: 1
        orgs:
          - id: a
            xai:
              credentials:
                - name: p
                  api_key_env: K
                  api_key: not-a-real-key
    """, (8, 11, "orgs[0].xai.credentials[0].api_key", "secrets are never written")),
    "duplicate org across one file": ("""
        version: 1
        orgs:
          - id: a
          - id: a
    """, (4, 9, "orgs[1].id", "org 'a' is already listed at")),
    "duplicate credential name": ("""
        version: 1
        orgs:
          - id: a
            xai:
              credentials:
                - {name: p, api_key_env: K1}
                - {name: p, api_key_env: K2}
    """, (7, 18, "orgs[0].xai.credentials[1].name", "duplicate credential name 'p'")),
    "default names nothing": ("""
        version: 1
        orgs:
          - id: a
            xai:
              default: primry
              credentials: [{name: primary, api_key_env: K}]
    """, (5, 16, "orgs[0].xai.default", "did you mean 'primary'?")),
    "both key sources": ("""
        version: 1
        orgs:
          - id: a
            xai:
              credentials: [{name: p, api_key_env: K, api_key_file: k.txt}]
    """, (5, 61, "orgs[0].xai.credentials[0].api_key_file", "exactly one of")),
    "no key source": ("""
        version: 1
        orgs:
          - id: a
            xai:
              credentials: [{name: p}]
    """, (5, 21, "orgs[0].xai.credentials[0]", "missing the key's source")),
    "bad env name": ("""
        version: 1
        orgs:
          - id: a
            xai:
              credentials: [{name: p, api_key_env: 9-LIVES}]
    """, (5, 44, "orgs[0].xai.credentials[0].api_key_env", "not a valid environment variable name")),
    "base_url scheme": ("""
        version: 1
        orgs:
          - id: a
            xai:
              credentials: [{name: p, api_key_env: K, base_url: "ftp://x"}]
    """, (5, 57, "orgs[0].xai.credentials[0].base_url", "must be an http:// or https:// URL")),
    "plain http to remote": ("""
        version: 1
        orgs:
          - id: a
            xai:
              credentials: [{name: p, api_key_env: K, base_url: "http://gw.example.com/v1"}]
    """, (5, 57, "orgs[0].xai.credentials[0].base_url", "allow_insecure_http: true")),
    "expires_at not ISO": ("""
        version: 1
        orgs:
          - id: a
            xai:
              credentials: [{name: p, api_key_env: K, expires_at: "next tuesday"}]
    """, (5, 59, "orgs[0].xai.credentials[0].expires_at", "not an ISO-8601 timestamp")),
    "unsupported version": ("""
        version: 2
        orgs: []
    """, (1, 10, "version", "unsupported manifest version")),
    "wrong type": ("""
        version: 1
        orgs:
          - id: a
            prune: "yes please"
    """, (4, 12, "orgs[0].prune", "expected true or false, found a string")),
    "reserved label": ("""
        version: 1
        orgs:
          - id: a
            xai:
              credentials:
                - name: p
                  api_key_env: K
                  metadata: {mxsync_name: x}
    """, (8, 22, "orgs[0].xai.credentials[0].metadata.mxsync_name", "reserved")),
    "not a mapping": ("""
        - just
        - a list
    """, (1, 1, "(top)", "must be a mapping")),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_rule_points_at_the_problem(tmp_path: Path, case: str) -> None:
    text, (line, column, path, message) = CASES[case]
    found = problems(tmp_path, text)
    errors = [p for p in found if p["severity"] == "error"]
    assert len(errors) == 1, found
    got = errors[0]
    assert (got["line"], got["column"], got["path"]) == (line, column, path), got
    assert message in got["message"]
    assert got["file"].endswith("mxsync.yaml")


def test_past_expiry_is_a_warning_and_still_valid(tmp_path: Path) -> None:
    path = write(tmp_path, """
        version: 1
        orgs:
          - id: a
            xai:
              credentials: [{name: p, api_key_env: K, expires_at: 2020-01-01T00:00:00Z}]
    """)
    code, out = run("validate", "-f", path)
    assert code == 0
    assert f"{path}:5:59: orgs[0].xai.credentials[0].expires_at: warning: " in out
    assert out.strip().endswith("valid (1 warning).")


def test_every_problem_at_once_sorted_with_count(tmp_path: Path) -> None:
    path = write(tmp_path, """
        version: 1
        orgs:
          - id: a
            bogus: 1
            xai:
              default: nope
              credentials: [{name: p}]
    """)
    code, out = run("validate", "-f", path)
    lines = out.strip().splitlines()
    assert code == 1
    assert lines[-1] == "3 errors."
    positions = [tuple(int(x) for x in line.split(":")[1:3]) for line in lines[:-1]]
    assert positions == sorted(positions) and len(positions) == 3


@pytest.mark.parametrize("secret", [
    "xai-CANARYcanaryCANARYcanary00000",
    "mx_live_CANARYtoken000000",
])
def test_inline_secret_is_an_error_and_never_echoed(tmp_path: Path, secret: str) -> None:
    path = write(tmp_path, f"""
        version: 1
        # leaked here too: {secret}
        orgs:
          - id: a
            name: "{secret}"
            xai:
              credentials:
                - name: p
                  api_key_env: K
                  metadata: {{note: "{secret}"}}
    """)
    for args in (("validate", "-f", path), ("validate", "-f", path, "--json")):
        code, out = run(*args)
        assert code == 1
        assert secret not in out
        assert "CANARY" not in out
    found = problems(tmp_path, Path(path).read_text())
    assert {(p["line"], p["path"]) for p in found} == {
        (2, "(comment)"), (5, "orgs[0].name"), (10, "orgs[0].xai.credentials[0].metadata.note")}


def test_duplicate_org_across_files_and_directory_mode(tmp_path: Path) -> None:
    write(tmp_path, "version: 1\norgs: [{id: a}]\n", "dir/one.yaml")
    write(tmp_path, "version: 1\norgs: [{id: b}, {id: a}]\n", "dir/two.yml")
    write(tmp_path, "not: [yaml, considered]\n", "dir/notes.txt")
    code, out = run("validate", "-f", str(tmp_path / "dir"))
    assert code == 1
    assert f"{tmp_path / 'dir' / 'two.yml'}:2:22: orgs[1].id: org 'a' is already listed at " \
           f"{tmp_path / 'dir' / 'one.yaml'}:2:13" in out


def test_owner_must_agree_across_files(tmp_path: Path) -> None:
    one = write(tmp_path, "version: 1\nowner: x\n", "one.yaml")
    two = write(tmp_path, "version: 1\nowner: y\n", "two.yaml")
    code, out = run("validate", "-f", one, "-f", two)
    assert code == 1 and "'owner' differs from the one in" in out


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    code, out = run("validate", "-f", str(tmp_path / "nope.yaml"))
    assert code == 1 and "no such file or folder" in out and "Traceback" not in out


def test_json_format(tmp_path: Path) -> None:
    found = problems(tmp_path, "version: 1\norgs: [{id: a, extra: 1}]\n")
    assert found == [{"file": str(tmp_path / "mxsync.yaml"), "line": 2, "column": 16,
                      "path": "orgs[0].extra", "message": found[0]["message"],
                      "severity": "error"}]


def test_check_env(tmp_path: Path) -> None:
    good_key = "xai-CANARYgoodKEY000000000000000"
    bad_value = "xai-short-CANARY"
    (tmp_path / "k.key").write_text(good_key + "\n")
    (tmp_path / "k.key").chmod(0o644)  # whatever the umask: readable by others, not writable
    path = write(tmp_path, """
        version: 1
        orgs:
          - id: a
            token_env: TOKEN_A
            xai:
              credentials:
                - {name: good, api_key_env: GOOD}
                - {name: bad, api_key_env: BAD}
                - {name: missing, api_key_env: MISSING}
                - {name: from-file, api_key_file: k.key}
                - {name: no-file, api_key_file: nope.key}
    """)
    env = {"GOOD": good_key, "BAD": bad_value, "TOKEN_A": ""}
    code, out = run("validate", "-f", path, "--check-env", env=env)
    assert code == 1
    assert "orgs[0].token_env: environment variable TOKEN_A is not set" in out
    assert "credentials[1].api_key_env: the value in $BAD is not an xAI key" in out
    assert "credentials[2].api_key_env: environment variable MISSING is not set" in out
    assert "credentials[4].api_key_file: cannot read key file" in out
    # k.key was written readable by others: a warning at its line, not an error
    assert "credentials[3].api_key_file:" in out and "4 errors, 1 warning." in out
    assert out.count("\n") == 6  # four errors, the warning and the count
    assert "CANARY" not in out
    code, out = run("validate", "-f", path, env=env)  # offline by default
    assert code == 0


def test_schema_command_prints_the_schema_with_descriptions() -> None:
    code, out = run("schema")
    assert code == 0
    schema = json.loads(out)
    assert schema == json.loads((ROOT / "schemas" / "manifest.schema.json").read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"

    def walk(node: dict, where: str) -> None:
        for name, prop in node.get("properties", {}).items():
            assert "description" in prop, f"{where}.{name} has no description"
            walk(prop, f"{where}.{name}")
        for name, sub in node.get("$defs", {}).items():
            walk(sub, f"$defs.{name}")

    walk(schema, "")
