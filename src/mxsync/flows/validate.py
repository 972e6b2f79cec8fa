"""`mxsync validate`: every problem of the manifests, offline, at once.

PATHS (as pre-commit passes them, one changed file each) are checked one by one, each as
a whole manifest; otherwise the -f files and folders are one manifest together."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mxsync.manifest import Manifest
    from mxsync.manifest.problems import Problem


@dataclass
class Validation:
    problems: list[Problem]
    manifest: Manifest | None = None  # the -f manifest, when it is valid
    files: tuple[str, ...] = ()  # the -f files and folders
    paths: tuple[str, ...] = field(default_factory=tuple)  # PATHS checked one by one

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


def validate(files: Sequence[str], paths: Sequence[str], check_env: bool) -> Validation:
    from mxsync.manifest import load

    if paths:
        results = [load([p], check_env=check_env) for p in paths]
        return Validation(sorted(p for r in results for p in r.problems), paths=tuple(paths))
    result = load(list(files), check_env=check_env)
    return Validation(result.problems, result.manifest if not result.errors else None,
                      files=tuple(files))
