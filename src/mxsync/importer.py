"""`mxsync import`: a valid manifest written from the live state of existing orgs.

Every entry records the live credential it came from (`adopt_id`, as Terraform's import
blocks do), so plan adopts exactly that credential whatever the display names are. Entry
names come from display names (made valid and unique, also ignoring case); where the live
display name cannot be the entry's name it is kept as `display_name`, so adopting renames
nothing. Keys are referenced by placeholder variables listed in the header comment (or
fields of one key document), and the current default is kept, so that `plan` with the keys
set shows only adopts.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from mxsync import ownership
from mxsync.manifest.model import (
    CredentialEntry,
    Manifest,
    OrgEntry,
    entry_name_for,
    normalize_instant,
)
from mxsync.manifest.problems import looks_random
from mxsync.secrets import KeySource, looks_like_secret
from mxsync.state import LiveOrg

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # never written into a manifest (the schema refuses)
_LABEL_KEY_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$")


MAX_DISPLAY_NAME = 1024  # the manifest schema's bound on display_name


def base_name(display_name: str) -> str:
    """The valid entry name closest to a display name: accents dropped (`Ünïcødé kéy` ->
    `Unic-de-key`), anything else not allowed in a name made `-`; `credential` when nothing
    is left (a blank or all-symbol name)."""
    plain = "".join(ch for ch in unicodedata.normalize("NFKD", display_name)
                    if not unicodedata.combining(ch))
    return entry_name_for(plain) or "credential"


def safe_name(display_name: str, taken: set[str]) -> str:
    """A name no other entry of the org has, also ignoring case (`taken` holds them
    lower-cased): `Prod` and `prod` become `Prod` and `prod-2`."""
    name = base_name(display_name)
    candidate, n = name, 2
    while candidate.lower() in taken:
        suffix = f"-{n}"
        candidate, n = name[: 63 - len(suffix)].rstrip("-._") + suffix, n + 1
    taken.add(candidate.lower())
    return candidate


def key_variable(org_id: str, name: str, taken: set[str] | None = None) -> str:
    """`XAI_KEY_<ORG>_<ENTRY>`, unique across the manifest when `taken` is shared: two
    entries whose names differ only in case or punctuation get `_2`, `_3`..."""
    short = re.sub(r"^org[-_]", "", org_id)
    body = re.sub(r"[^A-Za-z0-9]+", "_", f"{short}_{name[:32]}").strip("_").upper()
    if looks_random(body):  # validate would take a long run of letters for a pasted key
        flat = body.replace("_", "")
        body = "_".join(flat[i:i + 8] for i in range(0, len(flat), 8))
    base = "XAI_KEY_" + body
    if taken is None:
        return base
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}_{n}", n + 1
    taken.add(candidate)
    return candidate


@dataclass
class Imported:
    document: dict[str, Any]
    variables: list[tuple[str, str, str]] = field(default_factory=list)  # (var, org, entry)
    renamed: list[tuple[str, str, str]] = field(default_factory=list)  # (org, display, entry)
    skipped: list[tuple[str, str, str]] = field(default_factory=list)  # (org, display, why)
    key_document: str | None = None  # the variable holding every key, as fields

    def text(self, as_of: str, token_env: str) -> str:
        header = [f"# Written by `mxsync import` on {as_of} from the live state of: "
                  f"{', '.join(o['id'] for o in self.document['orgs'])}.",
                  "# Each entry's adopt_id is the live credential it came from: plan adopts exactly",
                  "# that one. The keys themselves never go in this file. Before `mxsync plan`, export:",
                  f"#   {token_env}: a ModuleX token (mx_live_...) of an owner or admin"]
        if self.key_document is not None:
            header += [f"#   {self.key_document}: one document (JSON, YAML or dotenv) with a field "
                       "per key, e.g. one line NAME=xai-... for each of these fields:"]
            header += [f"#     {var}: the xAI key of {org} / {entry}"
                       for var, org, entry in self.variables]
        else:
            header += [f"#   {var}: the xAI key of {org} / {entry}"
                       for var, org, entry in self.variables]
        if self.renamed:
            header.append("# Entry names differ from the live display names, kept as display_name "
                          "(nothing is renamed):")
            header += [f"#   {org}: {display!r} -> {entry}" for org, display, entry in self.renamed]
        if self.skipped:
            header.append("# Left out:")
            header += [f"#   {org}: {display!r} ({why})" for org, display, why in self.skipped]
        body = yaml.safe_dump(self.document, sort_keys=False, allow_unicode=True)
        return "\n".join(header) + "\n" + body

    def manifest(self, token_env: str) -> Manifest:
        """The same manifest as `text`, as values, for `--adopt` (no file round trip)."""
        orgs = []
        for org in self.document["orgs"]:
            xai = org.get("xai") or {}
            entries = tuple(
                CredentialEntry(name=c["name"], key=KeySource(env=c["api_key_env"],
                                                              field=c.get("api_key_field")),
                                base_url=c.get("base_url"),
                                expires_at=normalize_instant(c.get("expires_at")),
                                labels=dict(c.get("metadata") or {}),
                                display_name=c.get("display_name"), adopt_id=c.get("adopt_id"))
                for c in xai.get("credentials") or ())
            orgs.append(OrgEntry(id=org["id"], label=org.get("name"), default=xai.get("default"),
                                 credentials=entries))
        return Manifest(owner=self.document["owner"], token_env=token_env, orgs=tuple(orgs))


def import_orgs(states: Sequence[LiveOrg], owner: str, labels: dict[str, str | None],
                key_document: str | None = None) -> Imported:
    """`key_document`: the name of one variable holding every key as a field (see
    mxsync.secrets.documents), instead of one variable per key."""
    result = Imported(document={"version": 1, "owner": owner, "orgs": []},
                      key_document=key_document)
    variables: set[str] = set()
    for state in states:
        taken: set[str] = set()
        credentials: list[dict[str, Any]] = []
        default = None
        entry_of: dict[str, str] = {}  # credential id -> entry name
        for cred in sorted(state.credentials, key=lambda c: (c.created_at or "", c.id)):
            claimed_owner, claimed_name = cred.claim()
            if claimed_owner is not None and claimed_owner != owner:
                result.skipped.append((state.id, cred.display_name,
                                       f"managed by owner '{claimed_owner}'"))
                continue
            if claimed_name is not None and claimed_name.lower() not in taken:
                name = claimed_name  # ours already: the claim is by this very name
                taken.add(name.lower())
            else:
                name = safe_name(cred.display_name, taken)
            variable = key_variable(state.id, name, variables)
            result.variables.append((variable, state.id, name))
            entry: dict[str, Any] = {"name": name}
            if name != cred.display_name:
                if len(cred.display_name) > MAX_DISPLAY_NAME or _CONTROL.search(cred.display_name):
                    result.skipped.append((state.id, cred.display_name[:80],
                                           "its display name is too long or holds control "
                                           "characters; apply would rename it"))
                else:
                    entry["display_name"] = cred.display_name
                    result.renamed.append((state.id, cred.display_name, name))
            entry["adopt_id"] = cred.id
            if key_document is not None:
                entry.update(api_key_env=key_document, api_key_field=variable)
            else:
                entry["api_key_env"] = variable
            if cred.base_url:
                entry["base_url"] = cred.base_url
            if cred.expires_at:
                entry["expires_at"] = cred.expires_at
            labels_of = {k: v for k, v in ownership.labels_of(cred.metadata).items()
                         if isinstance(v, str) and _LABEL_KEY_OK.match(k)}
            for label in [k for k, v in labels_of.items() if looks_like_secret(v)]:
                # A label value that looks like a key never goes into a file (nor would the
                # manifest validate): it is left out and said so.
                del labels_of[label]
                result.skipped.append((state.id, f"label {label} of {cred.display_name}",
                                       "its value looks like a secret"))
            if labels_of:
                entry["metadata"] = labels_of
            credentials.append(entry)
            entry_of[cred.id] = name
            if cred.is_default:
                default = name
        org: dict[str, Any] = {"id": state.id}
        name = "".join(ch for ch in labels.get(state.id) or "" if ch.isprintable()).strip()
        if name:  # a name from the service may hold terminal escapes: never copy those
            org["name"] = name
        xai: dict[str, Any] = {**({"default": default} if default else {})}
        xai.update(_settings_entries(result, state, entry_of))
        if credentials:
            xai["credentials"] = credentials
        if xai:
            org["xai"] = xai
        result.document["orgs"].append(org)
    return result


def _settings_entries(result: Imported, state: LiveOrg, entry_of: dict[str, str]) -> dict[str, Any]:
    """`models` and `assistant` as the org has them, when its settings were read."""
    out: dict[str, Any] = {}
    settings = state.settings
    if settings is None:
        return out
    if settings.visible_models is not None:
        out["models"] = list(settings.visible_models)
    pin = settings.assistant
    if pin is not None and pin.integration_name == "xai" and pin.model_id:
        entry = entry_of.get(pin.credential_id or "")
        if entry is not None:
            out["assistant"] = {"model": pin.model_id, "credential": entry}
        else:
            result.skipped.append((state.id, f"assistant on {pin.credential_id}",
                                   "it runs on a credential this manifest does not manage"))
    return out
