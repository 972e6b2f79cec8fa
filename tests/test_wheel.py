"""The wheel is the product: built as a user builds it, installed into fresh venvs, run elsewhere.

The editable install the suite runs on cannot show a file missing from the wheel, so these
tests build one from a copy of the source tree (`python -m pip wheel --no-deps .`), install it
into fresh venvs (no system site-packages, so the editable install is invisible; dependencies
come from the package index as for any user) and run the README's commands from a folder with
no repository around it. One venv has the wheel alone, one has it with the `emulator` extra.
About 25 s in all, most of it pip.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from mxsync import __version__
from mxsync.demo import DEMO_ENV

# One worker builds the wheel and its venvs once (`--dist loadgroup` in pyproject.toml):
# split over two workers, each built its own (about 20 s of a 2-core run).
pytestmark = [pytest.mark.slow,  # `pytest -m "not slow"` is the quick tier
              pytest.mark.xdist_group("wheel")]

ROOT = Path(__file__).resolve().parents[1]
# What a fresh clone does not have; the rest of the tree is copied as it is.
_IGNORED = shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "__pycache__", ".venv",
                                  ".pytest_cache", ".ruff_cache", ".hypothesis", ".mxsync-cache")
# Ignored by .gitignore at these places only (`src/mxsync/secrets` is a package, not a secret).
_IGNORED_HERE = {ROOT / "examples": {"secrets"}, ROOT / "benchmarks": {"out"}}


def NOT_IN_A_CLONE(folder: str, names: list[str]) -> set[str]:
    return set(_IGNORED(folder, names)) | (_IGNORED_HERE.get(Path(folder), set()) & set(names))


@dataclass
class Venv:
    path: Path
    home: Path  # an empty folder to run from: no repository, no manifest

    def run(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items()
               if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
               and not k.startswith(("MODULEX_", "XAI_"))}
        env["PATH"] = f"{self.path / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        return subprocess.run(list(args), cwd=cwd or self.home, env=env, capture_output=True,
                              text=True, timeout=300, stdin=subprocess.DEVNULL)

    def mxsync(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return self.run(str(self.path / "bin" / "mxsync"), *args, cwd=cwd)


def _checked(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("clone") / "mxsync"
    shutil.copytree(ROOT, source, ignore=NOT_IN_A_CLONE)
    dist = tmp_path_factory.mktemp("dist")
    _checked(subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), "."],
                            cwd=source, capture_output=True, text=True, timeout=300))
    (built,) = dist.glob("mxsync-*.whl")
    return built


def _venv(factory: pytest.TempPathFactory, requirement: str) -> Venv:
    path = factory.mktemp("venv")
    _checked(subprocess.run([sys.executable, "-m", "venv", str(path)], capture_output=True, text=True,
                            timeout=300))
    venv = Venv(path, factory.mktemp("home"))
    _checked(venv.run(str(path / "bin" / "python"), "-m", "pip", "install", "-q", requirement))
    return venv


@pytest.fixture(scope="module")
def bare(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    return _venv(tmp_path_factory, str(wheel))


@pytest.fixture(scope="module")
def full(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    return _venv(tmp_path_factory, f"{wheel}[emulator]")


def test_wheel_carries_the_metadata_an_index_shows(wheel: Path, bare: Venv) -> None:
    python = str(bare.path / "bin" / "python")
    proc = _checked(bare.run(python, "-c", "import json, importlib.metadata as m; "
                                           "print(json.dumps(m.metadata('mxsync').json)); "
                                           "print(m.distribution('mxsync').read_text('licenses/LICENSE'))"))
    first, _, license_text = proc.stdout.partition("\n")
    meta = json.loads(first)
    assert meta["version"] == __version__
    assert meta["license_expression"] == "Apache-2.0"
    assert "License" not in meta  # the deprecated free-text field is gone with the SPDX string
    assert "Apache License" in license_text
    assert "Version 2.0, January 2004" in license_text
    assert {url.split(",")[0] for url in meta["project_url"]} >= {"Homepage", "Source", "Issues"}
    assert "Programming Language :: Python :: 3.11" in meta["classifier"]
    assert "Typing :: Typed" in meta["classifier"]


def test_without_the_emulator_extra_demo_and_emulator_say_what_to_install(bare: Venv) -> None:
    for command in (["demo"], ["emulator", "--port", "0"]):
        proc = bare.mxsync(*command)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert f"`mxsync {command[0]}` needs `pip install 'mxsync[emulator]'`" in proc.stderr
        assert "internal error" not in proc.stderr
        assert "Traceback" not in proc.stderr


def test_without_the_emulator_extra_the_offline_commands_work(bare: Venv) -> None:
    shutil.copy(ROOT / "examples" / "minimal.yaml", bare.home / "mxsync.yaml")
    proc = _checked(bare.mxsync("validate"))
    assert proc.stdout.strip().endswith("valid."), proc.stdout


def test_wheel_runs_demo_schema_validate_from_an_empty_folder(full: Venv) -> None:
    assert _checked(full.mxsync("--version")).stdout.strip().endswith(__version__)

    demo = _checked(full.mxsync("demo"))
    assert "Apply complete: 3 created" in demo.stdout
    assert "No changes. Live state matches the manifest." in demo.stdout
    for secret in DEMO_ENV.values():
        assert secret not in demo.stdout + demo.stderr

    schema = json.loads(_checked(full.mxsync("schema")).stdout)
    assert schema["title"]
    plan_schema = json.loads(_checked(full.mxsync("schema", "plan")).stdout)
    assert plan_schema != schema

    for example in ("minimal.yaml", "multi-org.yaml"):
        shutil.copy(ROOT / "examples" / example, full.home / example)
        proc = _checked(full.mxsync("validate", "-f", example))
        assert proc.stdout.strip().endswith("valid."), proc.stdout
    broken = full.home / "broken.yaml"
    broken.write_text((ROOT / "examples" / "minimal.yaml").read_text().replace("version: 1", "version: 2"))
    proc = full.mxsync("validate", "-f", "broken.yaml")
    assert proc.returncode == 1
    assert "broken.yaml:" in proc.stdout
