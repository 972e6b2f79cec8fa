"""`mxsync demo`: the README's first command shows the whole cycle and converges."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mxsync.demo import DEMO_ENV
from tests.cli_helpers import Run, mxsync

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "src" / "mxsync" / "data"
EXTRA_MESSAGE = "needs `pip install 'mxsync[emulator]'`"


def run_in(folder: Path, *args: str) -> Run:
    """`mxsync ARGS` started from FOLDER, as a user outside the repository would."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MODULEX_", "XAI_"))}
    proc = subprocess.run([sys.executable, "-m", "mxsync", *args], cwd=folder, env=base,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    return Run(proc.returncode, proc.stdout, proc.stderr)


def test_demo_runs_validate_plan_apply_plan() -> None:
    run = mxsync("demo", env={})
    assert run.code == 0, run.both
    steps = [line for line in run.out.splitlines() if line.startswith("== ")]
    assert [s.split()[2] for s in steps] == ["validate", "plan", "apply", "plan"]
    assert "Plan: 3 to create, 0 to replace, 0 to delete, 1 default change." in run.out
    assert "Apply complete: 3 created, 0 replaced, 0 deleted, 1 default changed." in run.out
    assert "No changes. Live state matches the manifest." in run.out
    for secret in DEMO_ENV.values():
        assert secret not in run.both


def test_demo_needs_no_repository_around_it(tmp_path: Path) -> None:
    """From an empty folder the demo uses the manifest and fixture shipped in the package."""
    run = run_in(tmp_path, "demo")
    assert run.code == 0, run.both
    assert "No changes. Live state matches the manifest." in run.out
    assert str(DATA / "demo.yaml") in run.out


def test_examples_folder_overrides_the_packaged_files(tmp_path: Path) -> None:
    (tmp_path / "emulator-fixture.yaml").write_text((DATA / "emulator-fixture.yaml").read_text())
    manifest = (DATA / "demo.yaml").read_text()
    (tmp_path / "demo.yaml").write_text(manifest[:manifest.index("  - id: org-beta")])
    run = mxsync("demo", "--examples", str(tmp_path), env={})
    assert run.code == 0, run.both
    assert "Plan: 2 to create, 0 to replace, 0 to delete, 1 default change." in run.out
    assert str(tmp_path / "demo.yaml") in run.out


def test_examples_folder_without_the_demo_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "demo.yaml").write_text((DATA / "demo.yaml").read_text())
    run = mxsync("demo", "--examples", str(tmp_path), env={})
    assert run.code == 1
    assert f"{tmp_path} has no emulator-fixture.yaml" in run.err
    assert "Traceback" not in run.both


def test_packaged_demo_manifest_is_valid() -> None:
    run = mxsync("validate", "-f", str(DATA / "demo.yaml"), env={})
    assert run.code == 0, run.both
    assert run.out.strip().endswith("valid.")


# The web stack is made unimportable the way a missing package is: `import fastapi` raises
# ModuleNotFoundError. (tests/test_wheel.py checks the same in a real venv without the extra.)
WITHOUT = "import sys; sys.modules[{name!r}] = None; sys.argv = ['mxsync', *sys.argv[1:]]; " \
          "from mxsync.cli import main; main()"


@pytest.mark.parametrize("missing", ["fastapi", "uvicorn"])
@pytest.mark.parametrize("command", [["demo"], ["emulator", "--port", "0"]])
def test_without_the_emulator_extra_says_how_to_get_it(missing: str, command: list[str]) -> None:
    proc = subprocess.run([sys.executable, "-c", WITHOUT.format(name=missing), *command],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 1
    assert f"`mxsync {command[0]}` {EXTRA_MESSAGE}: {missing} is not installed" in proc.stderr
    assert "internal error" not in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
