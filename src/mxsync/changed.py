"""`--changed-since REF`: which orgs a pull request touches, from the manifest's git history.

A pull request that changes one org of 120 should plan that org, not read all 120 at the
token's 60 calls a minute. The manifest at REF (the base branch) and the one at hand are
compared org by org, as data (comments, order and formatting do not count); a setting every
org shares (`owner`, `api`, `xai_management`, `version`) that changed puts every org in.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mxsync.errors import MxsyncError

SHARED = ("version", "owner", "api", "xai_management")

# `git` with its arguments, run in a folder: (stdout, returncode, stderr). Injectable for tests.
Git = Callable[[list[str], Path], tuple[str, int, str]]


def run_git(args: list[str], cwd: Path) -> tuple[str, int, str]:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                              timeout=60, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise MxsyncError("--changed-since needs git, and git is not installed") from None
    except subprocess.TimeoutExpired:
        raise MxsyncError("git did not answer within 60 s") from None
    return done.stdout, done.returncode, done.stderr


@dataclass(frozen=True)
class ChangedOrgs:
    ref: str
    changed: tuple[str, ...]  # the orgs to plan, in manifest order
    unchanged: tuple[str, ...]  # the orgs left out
    everything: str | None = None  # the shared setting that changed, when all orgs are in


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _parse(text: str, name: str) -> dict[str, Any]:
    from mxsync.manifest.yaml_positions import load_yaml

    loaded = load_yaml(text, name)
    if loaded.problems and loaded.data is None:
        first = loaded.problems[0]
        raise MxsyncError(f"--changed-since: {first.format()}")
    return loaded.data if isinstance(loaded.data, dict) else {}


def _orgs(data: dict[str, Any]) -> dict[str, str]:
    orgs = data.get("orgs")
    return {str(o["id"]): _canonical(o) for o in orgs if isinstance(o, dict) and "id" in o} \
        if isinstance(orgs, list) else {}


def _at_ref(ref: str, path: Path, git: Git) -> str | None:
    """The file's text at REF, or None when it did not exist there."""
    out, code, err = git(["show", f"{ref}:./{path.name}"], path.parent)
    if code == 0:
        return out
    if "exists on disk, but not in" in err or "does not exist in" in err:
        return None
    raise MxsyncError(f"--changed-since {ref}: git cannot show {path} there: "
                      f"{err.strip().splitlines()[-1] if err.strip() else f'exit {code}'}")


def changed_since(ref: str, files: Sequence[str], git: Git = run_git) -> ChangedOrgs:
    """Compare the manifest files at hand with the same files at REF."""
    if not ref or ref.startswith("-"):
        raise MxsyncError(f"--changed-since {ref!r}: not a git ref",
                          hint="name a branch, tag or commit, e.g. origin/main")
    paths = [Path(f) for f in files]
    folder = paths[0].resolve().parent if paths else Path.cwd()
    _, code, _ = git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], folder)
    if code != 0:
        raise MxsyncError(f"--changed-since {ref}: no such commit in the repository of {folder}",
                          hint="fetch it first (in CI: actions/checkout with fetch-depth: 0, "
                               "or `git fetch origin main`)")
    now_orgs: dict[str, str] = {}
    before_orgs: dict[str, str] = {}
    now_shared: dict[str, str] = {}
    before_shared: dict[str, str] = {}
    for path in paths:
        now = _parse(path.read_text(encoding="utf-8"), str(path))
        old_text = _at_ref(ref, path.resolve(), git)
        before = _parse(old_text, f"{ref}:{path}") if old_text is not None else {}
        now_orgs.update(_orgs(now))
        before_orgs.update(_orgs(before))
        for key in SHARED:
            if key in now:
                now_shared.setdefault(key, _canonical(now[key]))
            if key in before:
                before_shared.setdefault(key, _canonical(before[key]))
    order = tuple(now_orgs)
    shared_change = next((k for k in SHARED if now_shared.get(k) != before_shared.get(k)), None)
    if shared_change is not None:
        return ChangedOrgs(ref, order, (), shared_change)
    changed = tuple(o for o in order if before_orgs.get(o) != now_orgs[o])
    return ChangedOrgs(ref, changed, tuple(o for o in order if o not in changed))
