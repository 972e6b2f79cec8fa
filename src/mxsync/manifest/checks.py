"""Rules the schema cannot express: uniqueness, references, secrets, time, transport.

Every check is defensive about types, so that one pass reports every problem in
the file even when the schema has already found some.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from mxsync.manifest.model import (
    DEFAULT_MANAGEMENT_KEY_ENV,
    DEFAULT_TOKEN_ENV,
    InstantOutOfRange,
    parse_instant,
)
from mxsync.manifest.problems import Problem, is_showable, looks_random, shown
from mxsync.manifest.yaml_positions import Path_, Positions
from mxsync.secrets import KeySource, SecretError, looks_like_secret, read_key, read_token
from mxsync.urls import cleartext_to_remote

RESERVED_LABEL = re.compile(r"^(managed_by$|mxsync_)")
_SECRET_TEXT = re.compile(r"xai-[A-Za-z0-9\-_]{20,}|mx_(?:live|test)_[A-Za-z0-9\-_]+")
# Fields that name where a secret lives: a value pasted here instead of a name is a leak.
_NAME_FIELDS = frozenset({"api_key_env", "api_key_file", "token_env", "key_env"})
_INLINE_SECRET_MESSAGE = (
    "this looks like an xAI key or ModuleX token written in the manifest; secrets must come "
    "from api_key_env / api_key_file (tokens from token_env). Remove it, and rotate it if it "
    "was ever committed"
)


def _orgs(data: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    orgs = data.get("orgs") if isinstance(data, dict) else None
    for index, org in enumerate(orgs if isinstance(orgs, list) else []):
        if isinstance(org, dict):
            yield index, org


def _credentials(org: dict[str, Any]) -> Iterator[tuple[int, dict[str, Any]]]:
    xai = org.get("xai")
    creds = xai.get("credentials") if isinstance(xai, dict) else None
    for index, cred in enumerate(creds if isinstance(creds, list) else []):
        if isinstance(cred, dict):
            yield index, cred


def _hides_secret(text: str) -> bool:
    return looks_like_secret(text) or looks_random(text)


def cred_path(org_index: int, cred_index: int) -> Path_:
    return ("orgs", org_index, "xai", "credentials", cred_index)


def inline_secrets(data: Any, text: str, positions: Positions) -> list[Problem]:
    """Any value or key that looks like a secret, and any such text in a comment."""
    problems: list[Problem] = []
    flagged_lines: set[int] = set()

    def walk(node: Any, path: Path_) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if looks_like_secret(str(key)):
                    problems.append(positions.problem((*path, key), _INLINE_SECRET_MESSAGE, key=True))
                    flagged_lines.add(positions.at((*path, key), key=True)[0])
                walk(value, (*path, key))
        elif isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, (*path, index))
        elif isinstance(node, str) and looks_like_secret(node):
            problems.append(positions.problem(path, _INLINE_SECRET_MESSAGE))
            flagged_lines.add(positions.at(path)[0])
        elif isinstance(node, str) and path and path[-1] in _NAME_FIELDS and looks_random(node):
            problems.append(positions.problem(path, (
                "this looks like a key or token, not the name of an environment variable or file; "
                "write the name (e.g. XAI_KEY_ACME) and keep the value out of the manifest. "
                "Rotate the key if it was ever committed")))

    walk(data, ())
    for line_no, line in enumerate(text.splitlines(), start=1):
        match = _SECRET_TEXT.search(line)
        if match and line_no not in flagged_lines:
            problems.append(Problem(positions.file, line_no, match.start() + 1, "(comment)",
                                    _INLINE_SECRET_MESSAGE))
    return problems


def _management_in_scope(top: Any, org: dict[str, Any]) -> dict[str, Any] | None:
    """The org's `xai_management` merged field by field over the top-level one, as written."""
    blocks = [b for b in (top, org.get("xai_management")) if isinstance(b, dict)]
    if not blocks:
        return None
    merged: dict[str, Any] = {}
    for block in blocks:
        merged.update(block)
    return merged


def management_problems(data: Any, positions: Positions, top: Any,
                        environ: Mapping[str, str] | None, reported: set[str]) -> list[Problem]:
    """Minted entries need a Management API in scope: `top` is the manifest's top-level
    `xai_management`, from whichever file of the manifest sets it. With `environ` (for
    --check-env) the management key's variable must be set; each variable is reported once
    across the files (`reported` is shared)."""
    out: list[Problem] = []
    for oi, org in _orgs(data):
        management = _management_in_scope(top, org)
        if isinstance(org.get("xai_management"), dict) and management is not None \
                and "team_id" not in management:
            out.append(positions.problem(("orgs", oi, "xai_management"), (
                "no team_id: set xai_management.team_id here or in the manifest's top-level "
                "xai_management (the xAI team the keys are minted in)")))
        for ci, cred in _credentials(org):
            if "mint" not in cred:
                continue
            path = (*cred_path(oi, ci), "mint")
            if management is None:
                out.append(positions.problem(path, (
                    "minting a key needs xAI's Management API: add `xai_management: {team_id: ...}` "
                    "at the top of the manifest or in this org (the management key is read from "
                    f"{DEFAULT_MANAGEMENT_KEY_ENV} unless key_env names another variable)"), key=True))
                continue
            key_env = management.get("key_env", DEFAULT_MANAGEMENT_KEY_ENV)
            if (environ is not None and isinstance(key_env, str) and not _hides_secret(key_env)
                    and not environ.get(key_env) and key_env not in reported):
                reported.add(key_env)
                out.append(positions.problem(path, (
                    f"management key variable {key_env} is not set; export the xAI management key "
                    "(xAI Console, Settings, Management Keys) of the team in xai_management"),
                    key=True))
    return out


def file_problems(data: Any, positions: Positions, now: datetime) -> list[Problem]:
    """Checks within one file."""
    out: list[Problem] = []
    api = data.get("api") if isinstance(data, dict) else None
    url = api.get("url") if isinstance(api, dict) else None
    if isinstance(url, str) and cleartext_to_remote(url):
        out.append(positions.problem(("api", "url"), (
            "plain http to a host other than this machine would send the ModuleX token in clear; "
            "use https:// (plain http is only allowed to localhost/127.0.0.1/::1)")))
    out.extend(_management_url_problems(data.get("xai_management") if isinstance(data, dict) else None,
                                        ("xai_management",), positions))
    for oi, org in _orgs(data):
        names: dict[str, int] = {}
        adopted: dict[str, int] = {}
        out.extend(_management_url_problems(org.get("xai_management"), ("orgs", oi, "xai_management"),
                                            positions))
        for ci, cred in _credentials(org):
            path = cred_path(oi, ci)
            name = cred.get("name")
            if isinstance(name, str):
                if name in names:
                    out.append(positions.problem((*path, "name"), (
                        f"duplicate credential name {shown(name)} in org (first in "
                        f"credentials[{names[name]}]); names must be unique within an org")))
                else:
                    names[name] = ci
            adopt_id = cred.get("adopt_id")
            if isinstance(adopt_id, str):
                if adopt_id in adopted:
                    # One live credential, two entries: whichever adopted it, the other would
                    # be created as a second copy of the same key.
                    out.append(positions.problem((*path, "adopt_id"), (
                        f"credentials[{adopted[adopt_id]}] already adopts this credential; "
                        "a live credential belongs to one entry: remove one of them")))
                else:
                    adopted[adopt_id] = ci
            out.extend(_credential_problems(cred, path, positions, now))
        xai = org.get("xai")
        if not isinstance(xai, dict):
            continue
        default = xai.get("default")
        if isinstance(default, str):
            out.extend(_names_entry(default, names, ("orgs", oi, "xai", "default"), "default", positions))
        out.extend(_assistant_problems(xai.get("assistant"), default, names, ("orgs", oi, "xai"),
                                       positions))
    return out


def _names_entry(name: str, names: dict[str, int], path: Path_, what: str,
                 positions: Positions) -> list[Problem]:
    if name in names:
        return []
    close = difflib.get_close_matches(name, list(names), n=1, cutoff=0.6)
    hint = (f"did you mean {shown(close[0])}?" if close and is_showable(close[0])
            else "add that entry or fix the name")
    listed = ", ".join(shown(n) for n in sorted(names)) or "none"
    return [positions.problem(path, (
        f"{what} {shown(name)} names no credential of this org (listed: {listed}); {hint}"))]


def _assistant_problems(assistant: Any, default: Any, names: dict[str, int], xai_path: Path_,
                        positions: Positions) -> list[Problem]:
    if not isinstance(assistant, dict):
        return []
    path = (*xai_path, "assistant")
    credential = assistant.get("credential")
    if isinstance(credential, str):
        return _names_entry(credential, names, (*path, "credential"), "assistant credential", positions)
    if "credential" not in assistant and not isinstance(default, str):
        return [positions.problem(path, (
            "the Assistant needs a credential: set assistant.credential to one of this org's "
            "entries, or set xai.default (the Assistant then uses the default)"))]
    return []


def _management_url_problems(block: Any, path: Path_, positions: Positions) -> list[Problem]:
    url = block.get("url") if isinstance(block, dict) else None
    if isinstance(url, str) and cleartext_to_remote(url):
        return [positions.problem((*path, "url"), (
            "plain http to a host other than this machine would send the xAI management key in "
            "clear; use https:// (plain http is only allowed to localhost/127.0.0.1/::1)"))]
    return []


_SOURCES = ("api_key_env", "api_key_file", "mint")
# ModuleX tests a key with a chat completion on this model (see mxsync.emulator.xai).
_KEY_TEST_MODEL = "grok-4-fast"


def _mint_acl_problems(mint: Any, path: Path_, positions: Positions) -> list[Problem]:
    """A minted key must pass ModuleX's key test before it is stored, and that test is a
    chat completion on grok-4-fast: ACLs without the chat endpoint (or that model) make a
    key that apply would mint, see fail, and throw away."""
    acls = mint.get("acls") if isinstance(mint, dict) else None
    if not isinstance(acls, list) or not all(isinstance(a, str) for a in acls):
        return []
    out: list[Problem] = []
    if not {"api-key:endpoint:chat", "api-key:endpoint:*"} & set(acls):
        out.append(positions.problem((*path, "acls"), (
            "these ACLs do not grant api-key:endpoint:chat (or api-key:endpoint:*): ModuleX's "
            "key test is a chat completion, so it will fail and apply will store nothing for "
            "this entry; add \"api-key:endpoint:chat\""), severity="warning"))
    if not {"api-key:model:*", f"api-key:model:{_KEY_TEST_MODEL}"} & set(acls):
        out.append(positions.problem((*path, "acls"), (
            f"these ACLs do not grant api-key:model:{_KEY_TEST_MODEL} (or api-key:model:*): "
            f"ModuleX's key test calls {_KEY_TEST_MODEL}, so it will fail and apply will store "
            f"nothing for this entry; add \"api-key:model:{_KEY_TEST_MODEL}\""),
            severity="warning"))
    out += _endpoint_near_misses(acls, path, positions)
    return out


# The endpoints xAI teams list (the names any team offers; a team may offer more).
_KNOWN_ENDPOINTS = ("chat", "image", "responses")


def _endpoint_near_misses(acls: list[str], path: Path_, positions: Positions) -> list[Problem]:
    """`api-key:endpoint:chats` is a valid ACL form (a team may list any endpoint), so the
    schema lets it through; plan would refuse it once it has the team's list. A name one
    letter off a known endpoint is most likely a typo: say so now, offline."""
    import difflib

    prefix = "api-key:endpoint:"
    out: list[Problem] = []
    for i, acl in enumerate(acls):
        name = acl[len(prefix):] if acl.startswith(prefix) else None
        if name is None or name == "*" or name in _KNOWN_ENDPOINTS:
            continue
        close = difflib.get_close_matches(name, _KNOWN_ENDPOINTS, n=1, cutoff=0.75)
        if close:
            out.append(positions.problem((*path, "acls", i), (
                f"endpoint '{name}' is not one xAI lists ({', '.join(_KNOWN_ENDPOINTS)}, ...); "
                f"did you mean '{prefix}{close[0]}'? (plan checks it against the team's list)"),
                severity="warning"))
    return out


def _credential_problems(cred: dict[str, Any], path: Path_, positions: Positions,
                         now: datetime) -> list[Problem]:
    out: list[Problem] = []
    given = [s for s in _SOURCES if s in cred]
    if len(given) > 1:
        out.extend(positions.problem((*path, extra), (
            f"set exactly one of api_key_env, api_key_file or mint; this entry also sets {given[0]}"))
            for extra in given[1:])
    elif not given:
        out.append(positions.problem(path, (
            "missing the key's source: set api_key_env (an environment variable), "
            "api_key_file (a file next to the manifest) or mint (mxsync mints the key at xAI)")))
    if "adopt_id" in cred and "mint" in cred:
        out.append(positions.problem((*path, "adopt_id"), (
            "a minted entry cannot adopt a credential: mxsync never knew its key. Remove "
            "adopt_id (a new key is minted), or give the entry api_key_env / api_key_file"),
            key=True))
    if "api_key_field" in cred and not any(s in cred for s in ("api_key_env", "api_key_file")):
        out.append(positions.problem((*path, "api_key_field"), (
            "api_key_field names a field of a document: set api_key_env (a variable holding "
            "the document) or api_key_file (a file holding it) as well"), key=True))
    base_url = cred.get("base_url")
    if (isinstance(base_url, str) and cleartext_to_remote(base_url)
            and cred.get("allow_insecure_http") is not True):
        out.append(positions.problem((*path, "base_url"), (
            "plain http to a host other than this machine would expose every request made with "
            "this key; use https://, or set allow_insecure_http: true if you really mean it")))
    expires = cred.get("expires_at")
    if isinstance(expires, str):
        try:
            instant = parse_instant(expires)
        except InstantOutOfRange:
            out.append(positions.problem((*path, "expires_at"), (
                "this date is out of range once moved to UTC; write a real expiry like "
                "\"2027-06-01T00:00:00Z\"")))
        except ValueError:
            out.append(positions.problem((*path, "expires_at"), (
                "not an ISO-8601 timestamp; write it like \"2027-06-01T00:00:00Z\"")))
        else:
            if instant <= now and "adopt_id" not in cred:  # adopting keeps what is there
                out.append(positions.problem((*path, "expires_at"), (
                    "this date is in the past: the credential would be created already expired"),
                    severity="warning"))
    out.extend(_mint_acl_problems(cred.get("mint"), (*path, "mint"), positions))
    labels = cred.get("metadata")
    if isinstance(labels, dict):
        for key in labels:
            if RESERVED_LABEL.match(str(key)):
                out.append(positions.problem((*path, "metadata", key), (
                    f"label {shown(key)} is reserved for mxsync's own bookkeeping "
                    "(managed_by and mxsync_*); rename it"), key=True))
    return out


def env_problems(data: Any, positions: Positions, base_dir: Path,
                 environ: dict[str, str] | None = None) -> list[Problem]:
    """`--check-env`: every key and token is there and well-formed. Values are never shown."""
    env = os.environ if environ is None else environ
    out: list[Problem] = []
    api = data.get("api") if isinstance(data, dict) else None
    default_token = api.get("token_env") if isinstance(api, dict) else None
    default_token = default_token if isinstance(default_token, str) else DEFAULT_TOKEN_ENV
    for oi, org in _orgs(data):
        own_token = org.get("token_env")
        token_env: str = own_token if isinstance(own_token, str) else default_token
        if _hides_secret(token_env):
            continue  # inline_secrets reported it; saying "X is not set" would repeat it
        try:  # the same reader plan and apply use, so the words are the same too
            read_token(token_env, dict(env))
        except SecretError as exc:
            where = ("orgs", oi, "token_env") if "token_env" in org else ("orgs", oi, "id")
            out.append(positions.problem(where, str(exc)))
        for ci, cred in _credentials(org):
            path = cred_path(oi, ci)
            env_name, file_name = cred.get("api_key_env"), cred.get("api_key_file")
            field_name = cred.get("api_key_field")
            key_field = field_name if isinstance(field_name, str) else None
            if "mint" in cred:
                continue  # the management key is checked by management_problems
            if isinstance(env_name, str):
                if _hides_secret(env_name):
                    continue
                source, field = KeySource(env=env_name, field=key_field), "api_key_env"
            elif isinstance(file_name, str):
                if _hides_secret(file_name):
                    continue
                source, field = (KeySource(file=str(base_dir / file_name), field=key_field),
                                 "api_key_file")
            else:
                continue
            warnings: list[str] = []
            try:
                read_key(source, dict(env), warnings)
            except SecretError as exc:
                out.append(positions.problem((*path, field), str(exc)))
            out += [positions.problem((*path, field), w, severity="warning") for w in warnings]
    return out
