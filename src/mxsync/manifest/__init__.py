"""Loading manifests: files or folders in, a typed `Manifest` and every problem out."""

from __future__ import annotations

import gc
import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mxsync.errors import MxsyncError
from mxsync.manifest.checks import env_problems, file_problems, inline_secrets, management_problems
from mxsync.manifest.model import (
    DEFAULT_OWNER,
    DEFAULT_TOKEN_ENV,
    AssistantSetting,
    CredentialEntry,
    Location,
    Manifest,
    MintSpec,
    OrgEntry,
    XaiManagement,
    normalize_instant,
    parse_duration,
)
from mxsync.manifest.problems import NO_SUCH_FILE, Problem, render_path, shown, summary
from mxsync.manifest.schema import schema_problems
from mxsync.manifest.yaml_positions import Positions, load_yaml
from mxsync.secrets import KeySource

__all__ = ["LoadResult", "Manifest", "ManifestInvalid", "load", "load_or_raise"]

MAX_MANIFEST_BYTES = 64 * 2**20  # 5,000 orgs take about 2 MiB
SAVED_PLAN = "this is a saved plan, not a manifest"
_NO_SUCH_FILE_HINT = "pass the manifest with -f PATH (default mxsync.yaml)"


class ManifestInvalid(MxsyncError):
    def __init__(self, problems: list[Problem]) -> None:
        errors = [p for p in problems if p.severity == "error"]
        missing = [p.file for p in errors if p.message.startswith(NO_SUCH_FILE)]
        if missing and len(missing) == len(errors):
            # Nothing was read, so nothing is "not valid": say what is missing.
            super().__init__(f"{NO_SUCH_FILE}: {', '.join(missing)}", hint=(
                f"{_NO_SUCH_FILE_HINT}, or create it: it starts with `version: 1` and lists "
                "`orgs:` (the README shows one)"))
        elif errors and all(p.message.startswith(SAVED_PLAN) for p in errors):
            files = ", ".join(p.file for p in errors)
            super().__init__(f"{files}: {SAVED_PLAN}",
                             hint=f"apply it with `mxsync apply {errors[0].file}`, or show it "
                                  f"with `mxsync show {errors[0].file}`")
        else:
            lines = "\n".join(p.format() for p in errors)
            super().__init__(f"the manifest is not valid:\n{lines}\n{summary(errors)}",
                             hint="run `mxsync validate` for every problem at once")
        self.problems = problems


@dataclass
class _File:
    name: str
    data: Any
    positions: Positions
    base_dir: Path


@dataclass
class LoadResult:
    manifest: Manifest | None
    problems: list[Problem] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


def expand(paths: list[str]) -> tuple[list[Path], list[Problem]]:
    """Files as given; a folder means its `*.yaml` / `*.yml` files, in name order."""
    files: list[Path] = []
    problems: list[Problem] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            try:
                found = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
            except OSError as exc:
                problems.append(Problem(raw, 1, 1, "(top)", (
                    f"cannot list this folder: {exc.strerror or exc}; check its permissions")))
                continue
            if not found:
                problems.append(Problem(raw, 1, 1, "(top)", "this folder holds no *.yaml or *.yml file"))
            files.extend(found)
        elif path.is_file():
            files.append(path)
        elif path.exists():
            problems.append(Problem(raw, 1, 1, "(top)", (
                "not a regular file (a device, pipe or socket); pass a manifest file or a folder")))
        else:
            problems.append(Problem(raw, 1, 1, "(top)", f"{NO_SUCH_FILE}; {_NO_SUCH_FILE_HINT}"))
    return files, problems


def _read(path: Path) -> str:
    """The file's text, refusing what no manifest is: huge, or not UTF-8."""
    with path.open("rb") as handle:
        raw = handle.read(MAX_MANIFEST_BYTES + 1)
    if len(raw) > MAX_MANIFEST_BYTES:
        raise _Unreadable(f"the file is larger than {MAX_MANIFEST_BYTES // 2**20} MiB; "
                          "no manifest is that large (split it into a folder of files?)")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - raw.rfind(b"\n", 0, exc.start)
        raise _Unreadable(f"not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as UTF-8",
                          line, column) from None


class _Unreadable(Exception):
    def __init__(self, message: str, line: int = 1, column: int = 1) -> None:
        super().__init__(message)
        self.line, self.column = line, column


@contextmanager
def _paused_gc() -> Iterator[None]:
    """Loading builds hundreds of thousands of acyclic objects for a large manifest; the
    cyclic collector would walk them again and again for nothing (measured: 3x slower)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def load(paths: list[str], *, now: datetime | None = None, check_env: bool = False,
         environ: dict[str, str] | None = None) -> LoadResult:
    with _paused_gc():
        return _load(paths, now or datetime.now(UTC), check_env, environ)


def _load(paths: list[str], now: datetime, check_env: bool,
          environ: dict[str, str] | None) -> LoadResult:
    files, problems = expand(paths)
    loaded: list[_File] = []
    for path in files:
        name = str(path)
        try:
            text = _read(path)
        except OSError as exc:
            problems.append(Problem(name, 1, 1, "(top)", f"cannot read the file: {exc.strerror or exc}"))
            continue
        except _Unreadable as exc:
            problems.append(Problem(name, exc.line, exc.column, "(top)", str(exc)))
            continue
        parsed = load_yaml(text, name)
        problems.extend(parsed.problems)
        if parsed.data is None and not parsed.problems:
            problems.append(Problem(name, 1, 1, "(top)", "the file is empty; start it with `version: 1`"))
            continue
        if parsed.data is None:
            continue
        if isinstance(parsed.data, dict) and "mxsync_plan_file" in parsed.data:
            problems.append(Problem(name, 1, 1, "(top)", (
                f"{SAVED_PLAN}: apply it with `mxsync apply {name}` "
                f"(or show it with `mxsync show {name}`)")))
            continue
        if not isinstance(parsed.data, dict):
            problems.append(parsed.positions.problem((), (
                "the manifest must be a mapping with `version: 1` and `orgs:` at the top")))
            continue
        problems.extend(inline_secrets(parsed.data, text, parsed.positions))
        problems.extend(p for p in schema_problems(parsed.data, parsed.positions)
                        if p.path not in parsed.reported)
        problems.extend(file_problems(parsed.data, parsed.positions, now))
        if check_env:
            problems.extend(env_problems(parsed.data, parsed.positions, path.parent, environ))
        loaded.append(_File(name, parsed.data, parsed.positions, path.parent))
    problems.extend(_across_files(loaded))
    top = next((f.data["xai_management"] for f in loaded if "xai_management" in f.data), None)
    reported: set[str] = set()
    for f in loaded:
        problems.extend(management_problems(f.data, f.positions, top,
                                            (os.environ if environ is None else environ)
                                            if check_env else None, reported))
    problems = sorted(set(problems))
    result = LoadResult(None, problems, [str(p) for p in files])
    if not result.errors and loaded:
        result.manifest = _build(loaded)
    return result


def load_or_raise(paths: list[str], **kwargs: Any) -> Manifest:
    result = load(paths, **kwargs)
    if result.errors or result.manifest is None:
        raise ManifestInvalid(result.problems or [Problem(",".join(paths), 1, 1, "(top)", "nothing to load")])
    return result.manifest


def _across_files(files: list[_File]) -> list[Problem]:
    """One org in one file only; owner and api settings must agree."""
    problems: list[Problem] = []
    first_org: dict[str, str] = {}
    settings: dict[str, tuple[Any, str]] = {}
    variables: dict[str, tuple[str, str]] = {}  # upper-cased name -> (as written, where)
    for f in files:
        problems.extend(_variables_differing_in_case(f, variables))
        for key in ("owner", "api", "xai_management"):
            if key in f.data:
                if key in settings and settings[key][0] != f.data[key]:
                    problems.append(f.positions.problem((key,), (
                        f"'{key}' differs from the one in {settings[key][1]}; "
                        "files of one manifest must agree (set it in one file only)"), key=True))
                settings.setdefault(key, (f.data[key], f.name))
        orgs = f.data.get("orgs")
        for index, org in enumerate(orgs if isinstance(orgs, list) else []):
            org_id = org.get("id") if isinstance(org, dict) else None
            if not isinstance(org_id, str):
                continue
            line, col = f.positions.at(("orgs", index, "id"))
            here = f"{f.name}:{line}:{col}"
            if org_id in first_org:
                problems.append(f.positions.problem(("orgs", index, "id"), (
                    f"org {shown(org_id)} is already listed at {first_org[org_id]}; "
                    "an org may appear once in the whole manifest")))
            else:
                first_org[org_id] = here
    return problems


def _variables_differing_in_case(f: _File, seen: dict[str, tuple[str, str]]) -> list[Problem]:
    """Key variables that differ only in case (`XAI_KEY_Prod`, `XAI_KEY_PROD`): one shell,
    CI system or Windows environment may hold only one of them, so one entry would store
    the other's key. The same name twice is fine (one document, many fields)."""
    problems: list[Problem] = []
    orgs = f.data.get("orgs")
    for oi, org in enumerate(orgs if isinstance(orgs, list) else []):
        xai = org.get("xai") if isinstance(org, dict) else None
        creds = xai.get("credentials") if isinstance(xai, dict) else None
        for ci, cred in enumerate(creds if isinstance(creds, list) else []):
            name = cred.get("api_key_env") if isinstance(cred, dict) else None
            if not isinstance(name, str):
                continue
            path = ("orgs", oi, "xai", "credentials", ci, "api_key_env")
            first = seen.get(name.upper())
            if first is None:
                line, col = f.positions.at(path)
                seen[name.upper()] = (name, f"{f.name}:{line}:{col}")
            elif first[0] != name:
                problems.append(f.positions.problem(path, (
                    f"variable {shown(name)} differs only in case from {shown(first[0])} "
                    f"(at {first[1]}); environments and CI secrets do not tell them apart: "
                    "give each key a name that differs in more than case")))
    return problems


def _location(f: _File, path: tuple[str | int, ...]) -> Location:
    line, column = f.positions.at(path)
    return Location(f.name, line, column, render_path(path))


def _management(block: dict[str, Any] | None, over: dict[str, Any] | None) -> XaiManagement | None:
    """Field by field: the org's block over the top-level one over the defaults."""
    if block is None and over is None:
        return None
    merged = {**(block or {}), **(over or {})}
    return XaiManagement(**merged)


def _mint(raw: dict[str, Any] | None) -> MintSpec | None:
    if raw is None:
        return None
    return MintSpec(acls=tuple(raw["acls"]), qps=raw.get("qps"), qpm=raw.get("qpm"), tpm=raw.get("tpm"))


def _credential(f: _File, c: dict[str, Any], path: tuple[str | int, ...]) -> CredentialEntry:
    if "api_key_env" in c:
        source: KeySource | None = KeySource(env=c["api_key_env"], field=c.get("api_key_field"))
    elif "api_key_file" in c:
        source = KeySource(file=str(f.base_dir / c["api_key_file"]), field=c.get("api_key_field"))
    else:
        source = None  # minted: validation guarantees `mint` is set
    rotate_after = c.get("rotate_after")
    return CredentialEntry(
        name=c["name"],
        key=source,
        base_url=c.get("base_url"),
        expires_at=normalize_instant(c.get("expires_at")),
        labels=dict(c.get("metadata") or {}),
        test=c.get("test", True),
        mint=_mint(c.get("mint")),
        rotate_after_s=parse_duration(rotate_after) if rotate_after is not None else None,
        where=_location(f, path),
        display_name=c.get("display_name"),
        adopt_id=c.get("adopt_id"),
    )


def _assistant(xai: dict[str, Any]) -> AssistantSetting | None:
    raw = xai.get("assistant")
    if raw is None:
        return None
    if "credential" in raw:
        return AssistantSetting(model=raw["model"], credential=raw["credential"])
    return AssistantSetting(model=raw["model"], credential=xai["default"], follows_default=True)


def _build(files: list[_File]) -> Manifest:
    owner, api = DEFAULT_OWNER, dict[str, Any]()
    top_management: dict[str, Any] | None = None
    for f in files:
        owner = f.data.get("owner", owner)
        api = f.data.get("api", api)
        top_management = f.data.get("xai_management", top_management)
    orgs: list[OrgEntry] = []
    for f in files:
        for oi, raw in enumerate(f.data.get("orgs") or []):
            xai = raw.get("xai") or {}
            creds = [_credential(f, c, ("orgs", oi, "xai", "credentials", ci))
                     for ci, c in enumerate(xai.get("credentials") or [])]
            models = xai.get("models")
            orgs.append(OrgEntry(
                id=raw["id"],
                label=raw.get("name"),
                token_env=raw.get("token_env"),
                prune=raw.get("prune", False),
                default=xai.get("default"),
                require_models=tuple(xai.get("require_models") or ()),
                credentials=tuple(creds),
                models=tuple(models) if models is not None else None,
                assistant=_assistant(xai),
                xai_management=_management(top_management, raw.get("xai_management")),
                where=_location(f, ("orgs", oi)),
            ))
    every_org = [o for f in files for o in f.data.get("orgs") or []]
    settings: dict[str, Any] = {"owner": owner, "api": api}
    if top_management is not None:  # only when set, so older manifests keep their digest
        settings["xai_management"] = top_management
    canonical = json.dumps(
        {**settings, "orgs": sorted(every_org, key=lambda o: str(o["id"]))},
        sort_keys=True, separators=(",", ":"), default=str,
    )
    return Manifest(
        owner=owner,
        api_url=api.get("url"),
        token_env=api.get("token_env", DEFAULT_TOKEN_ENV),
        orgs=tuple(orgs),
        files=tuple(f.name for f in files),
        digest="sha256:" + hashlib.sha256(canonical.encode()).hexdigest(),
        xai_management=_management(top_management, None),
    )
