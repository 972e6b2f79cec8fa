"""`mxsync demo`: the README's first command shows the whole cycle and converges."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mxsync.demo import DEMO_ENV, DemoVariables, by_hand
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
    steps = [line for line in run.out.splitlines() if line.startswith("== mxsync ")]
    assert [s.split()[2] for s in steps] == ["validate", "plan", "apply", "plan"]
    assert "Plan: 3 to create, 0 to replace, 0 to delete, 1 default to change." in run.out
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
    assert "Plan: 2 to create, 0 to replace, 0 to delete, 1 default to change." in run.out
    assert str(tmp_path / "demo.yaml") in run.out
    assert "XAI_KEY_BETA_SHARED" not in run.out  # only the variables this manifest names are set


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


def test_demo_says_what_it_started_and_which_variables_it_set() -> None:
    run = mxsync("demo", env={})
    assert run.code == 0, run.both
    intro = run.out[:run.out.index("Live xAI credentials before:")]
    url = re.search(r"Started a throwaway ModuleX emulator at (http://127\.0\.0\.1:\d+)", intro)
    assert url, intro
    assert str(DATA / "emulator-fixture.yaml") in intro
    said = dict(re.findall(r"^  ([A-Z_]+) +(.+)$", intro, re.MULTILINE))
    assert said == {
        "MODULEX_BASE_URL": url.group(1),
        "MODULEX_API_KEY": "the fixture's demo token",
        "XAI_KEY_ACME_PRIMARY": "a fake xAI key (the emulator accepts any well-formed one)",
        "XAI_KEY_ACME_BATCH": "a fake xAI key (the emulator accepts any well-formed one)",
        "XAI_KEY_BETA_SHARED": "a fake xAI key (the emulator accepts any well-formed one)",
    }
    for secret in DEMO_ENV.values():
        assert secret not in run.both


def by_hand_lines(out: str) -> list[str]:
    """The shell lines the demo prints under its last heading."""
    tail = out[out.index("== Do it again by hand"):]
    return [line[2:] for line in tail.splitlines() if line.startswith("  ")]


def as_test_script(lines: list[str]) -> str:
    """The printed lines exactly as a person pastes them, under `set -eu` so that the first
    failing line fails the test (and the emulator is stopped whatever happens)."""
    return "\n".join(["set -eu", "trap 'kill %1 2>/dev/null || true' EXIT", *lines]) + "\n"


def test_the_commands_the_demo_prints_repeat_it_by_hand(tmp_path: Path) -> None:
    run = mxsync("demo", env={})
    assert run.code == 0, run.both
    lines = by_hand_lines(run.out)
    commands = [line.split("#")[0].strip() for line in lines if not line.startswith("#")]
    assert [c.split()[:2] for c in commands if c.startswith("mxsync ")] == [
        ["mxsync", "emulator"], ["mxsync", "validate"], ["mxsync", "plan"], ["mxsync", "apply"],
        ["mxsync", "plan"]]
    assert any(c.startswith("mxsync emulator --port 0 ") for c in commands)  # never busy
    assert {c.split("=")[0] for c in commands if c.startswith("export ")} == {
        "export MODULEX_BASE_URL", *(f"export {name}" for name in DEMO_ENV)}

    env = {k: v for k, v in os.environ.items() if not k.startswith(("MODULEX_", "XAI_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    proc = subprocess.run(["bash", "-c", as_test_script(lines)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 orgs, 3 credentials, valid." in proc.stdout
    assert "Plan: 3 to create, 0 to replace, 0 to delete, 1 default to change." in proc.stdout
    assert "Apply complete: 3 created, 0 replaced, 0 deleted, 1 default changed." in proc.stdout
    assert proc.stdout.rstrip().endswith("No changes. Live state matches the manifest.")
    assert (tmp_path / "plan.json").is_file()


def test_by_hand_names_each_file_when_they_are_in_different_folders() -> None:
    """As with a zipped install, whose files `importlib.resources` copies out one by one."""
    text = by_hand(Path("/a b/world.yaml"), Path("/c/demo.yaml"), DemoVariables(("TOKEN",), ("KEY",)))
    assert "mxsync emulator --port 0 --fixture '/a b/world.yaml' > emulator.url &" in text
    assert "export TOKEN=\"$(sed -n 's/^ *- token: *//p' '/a b/world.yaml' | head -n 1)\"" in text
    assert "mxsync validate -f /c/demo.yaml" in text
    assert "$DEMO" not in text


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
