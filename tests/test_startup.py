"""What a command imports before it does anything: `--version`, `--help` and `schema` load
none of the heavy libraries, and `validate` loads jsonschema only for a manifest that the
fast gate (fastjsonschema) finds a problem in. Measured with `python -X importtime` on the
real command, as a user starts it."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

HEAVY = ("httpx", "httpcore", "jsonschema", "fastapi", "uvicorn", "starlette", "deepdiff")


def imported(*args: str, cwd: Path | None = None) -> set[str]:
    """The top-level packages `mxsync ARGS` imported, from its own -X importtime report."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "mxsync", *args],
                          capture_output=True, text=True, timeout=60, cwd=cwd)
    names = {line.rsplit("|", 1)[-1].strip().split(".")[0]
             for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "click" in names, proc.stderr[-2000:]  # the report really was read
    return names


@pytest.mark.parametrize("args", [("--version",), ("--help",), ("plan", "--help"),
                                  ("schema",), ("schema", "plan")])
def test_quick_commands_load_no_heavy_library(args: tuple[str, ...]) -> None:
    assert not imported(*args) & {*HEAVY, "fastjsonschema", "yaml"}


def test_validate_loads_jsonschema_only_when_the_gate_finds_a_problem(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("version: 1\norgs:\n  - id: org-a\n    xai:\n      credentials:\n"
                    "        - name: p\n          api_key_env: XAI_KEY_A\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\norgs:\n  - id: org-a\n    colour: blue\n")
    loaded = imported("validate", "-f", str(good))
    assert "fastjsonschema" in loaded and not loaded & set(HEAVY)
    assert "jsonschema" in imported("validate", "-f", str(bad))  # the full error list


@pytest.mark.parametrize("which", ["manifest", "plan", "planfile"])
def test_the_shipped_schemas_are_valid_json_schema(which: str) -> None:
    """Checked here once, instead of on every run that validates a manifest."""
    from jsonschema import Draft202012Validator

    text = resources.files("mxsync").joinpath(f"schemas/{which}.schema.json").read_text("utf-8")
    Draft202012Validator.check_schema(json.loads(text))


def test_the_shipped_gate_is_made_from_the_current_schema() -> None:
    """validate runs the pre-generated gate only while it matches the schema (else it
    compiles one each run, correct but slow): a schema change must regenerate it."""
    from mxsync.manifest import schema, schema_gate

    assert schema._digest(schema._flat_schema()) == schema_gate.SCHEMA_DIGEST, (
        "src/mxsync/manifest/schema_gate.py is out of date: run "
        "`python -c 'from mxsync.manifest.schema import write_gate; write_gate()'`")
    schema._fast_check.cache_clear()
    assert schema._fast_check() is schema_gate.validate
