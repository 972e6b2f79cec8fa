"""Which .rego files a `--policy PATH` names, and which of them are tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mxsync.errors import MxsyncError

MAX_POLICY_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class PolicyFile:
    """A policy's path as the user named it (messages show it) and its text."""

    path: str
    source: str

    @property
    def is_test(self) -> bool:
        return self.path.endswith("_test.rego")


def _rego_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*.rego") if p.is_file())
    if path.is_file():
        return [path]
    raise MxsyncError(f"--policy {path}: no such file or folder",
                      hint="pass a .rego file or a folder of them")


def read_policies(paths: tuple[str, ...] | list[str], *, tests: bool = False) -> list[PolicyFile]:
    """The .rego files under `paths` (folders read recursively), in a stable order.

    `*_test.rego` files hold `test_*` rules; they are left out of evaluation (`tests=False`),
    as conftest and `opa eval` leave them out."""
    found: dict[str, PolicyFile] = {}
    for given in paths:
        for file in _rego_files(Path(given)):
            name = str(file)
            if name in found or (file.name.endswith("_test.rego") and not tests):
                continue
            try:
                if file.stat().st_size > MAX_POLICY_BYTES:
                    raise MxsyncError(f"{file} is too large to be a policy")
                found[name] = PolicyFile(name, file.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError) as exc:
                why = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
                raise MxsyncError(f"cannot read policy {file}: {why}") from None
    policies = list(found.values())
    if not any(not p.is_test for p in policies) and not tests:
        raise MxsyncError(f"--policy {' '.join(paths)}: no .rego policy there",
                          hint="policies are .rego files (`*_test.rego` files are tests)")
    return policies


def case_files(paths: tuple[str, ...] | list[str]) -> list[Path]:
    """Case files beside the policies: `*_test.yaml`, `*_test.yml`, `*_test.json`."""
    found: list[Path] = []
    for given in paths:
        path = Path(given)
        candidates = sorted(path.rglob("*_test.*")) if path.is_dir() else []
        found += [p for p in candidates if p.is_file()
                  and p.suffix in (".yaml", ".yml", ".json") and p not in found]
    return found
