"""Where a secret may be sent: the operator decides, a file only proposes.

A manifest arrives in a pull request and a saved plan is a file anyone with write access
to the repository can edit; either may name a server. The ModuleX token and the xAI
management key are the operator's: they go to the public default, to a URL the operator
gave (a flag or the environment), or to one the operator allowed by name
(`MXSYNC_ALLOW_URLS`). A file that names any other URL is refused before anything is sent,
so `mxsync plan` on an untrusted manifest cannot be turned into a token exfiltration.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from mxsync.errors import MxsyncError
from mxsync.manifest.model import DEFAULT_MANAGEMENT_URL
from mxsync.urls import DEFAULT_BASE_URL

if TYPE_CHECKING:
    from mxsync.manifest.model import Manifest

MODULEX_URL_ENV = "MODULEX_BASE_URL"
MANAGEMENT_URL_ENV = "XAI_MANAGEMENT_URL"
ALLOW_ENV = "MXSYNC_ALLOW_URLS"  # space- or comma-separated URLs a file may name


def same_place(url: str) -> str:
    """A URL reduced to what decides where a request goes: scheme, host, port and path, with
    case and a trailing slash ignored (`https://API.x.ai/` is `https://api.x.ai`)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    default_port = {"https": 443, "http": 80}.get(scheme)
    try:
        port = parts.port
    except ValueError:  # a port that is not a number: keep the text, it will not match
        return url.strip().lower()
    netloc = host if port in (None, default_port) else f"{host}:{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


@dataclass(frozen=True)
class Operator:
    """What the person or pipeline running mxsync said about destinations."""

    modulex_url: str | None = None  # --api-url, else MODULEX_BASE_URL
    management_url: str | None = None  # --management-url, else XAI_MANAGEMENT_URL
    allowed: frozenset[str] = frozenset()  # MXSYNC_ALLOW_URLS, each reduced by same_place

    @classmethod
    def from_environment(cls, api_url: str | None = None, management_url: str | None = None,
                         environ: Mapping[str, str] | None = None) -> Operator:
        env = os.environ if environ is None else environ
        listed = env.get(ALLOW_ENV, "").replace(",", " ").split()
        return cls(modulex_url=api_url or env.get(MODULEX_URL_ENV) or None,
                   management_url=management_url or env.get(MANAGEMENT_URL_ENV) or None,
                   allowed=frozenset(same_place(u) for u in listed))

    def accepts(self, proposed: str, default: str, given: str | None) -> bool:
        place = same_place(proposed)
        return place in self.allowed or place == same_place(default) or (
            given is not None and place == same_place(given))


@dataclass(frozen=True)
class Proposal:
    """A URL a file names, and where it was written (for the message)."""

    url: str
    where: str  # e.g. "mxsync.yaml:4:8: api.url" or "the saved plan plan.json (api_url)"


def _refusal(what: str, proposals: Iterable[Proposal], flag: str, env: str) -> MxsyncError:
    listed = list(proposals)
    lines = "\n".join(f"  {p.where}: {p.url}" for p in listed)
    urls = " ".join(dict.fromkeys(p.url for p in listed))
    return MxsyncError(
        f"refusing to send the {what} to a URL that only a file names, not the operator; "
        f"nothing was sent:\n{lines}",
        hint=f"if you trust it, pass {flag} URL (or set {env}), or allow it by name with "
             f"{ALLOW_ENV}='{urls}'")


def modulex_url(operator: Operator, proposals: Iterable[Proposal] = ()) -> str:
    """The URL the ModuleX token goes to. A proposal (the manifest's `api.url`, a saved
    plan's `api_url`) is only followed when the operator gave no URL and allows it."""
    listed = list(proposals)
    refused = [p for p in listed if not operator.accepts(p.url, DEFAULT_BASE_URL,
                                                         operator.modulex_url)]
    if refused:
        raise _refusal("ModuleX token", refused, "--api-url", MODULEX_URL_ENV)
    if operator.modulex_url:
        return operator.modulex_url
    return listed[0].url if listed else DEFAULT_BASE_URL


def management_url(operator: Operator, proposals: Iterable[Proposal] = ()) -> str | None:
    """The Management API URL the operator set (it overrides every file's), or None: then
    each file's own URL is used, every one of them checked here first."""
    refused = [p for p in proposals if not operator.accepts(p.url, DEFAULT_MANAGEMENT_URL,
                                                            operator.management_url)]
    if refused:
        raise _refusal("xAI management key", refused, "--management-url", MANAGEMENT_URL_ENV)
    return operator.management_url


def resolve_management(manifest: Manifest, operator: Operator) -> Manifest:
    """The manifest with the Management API URL in force for each org that mints: every
    URL it names is checked first (refused as a whole, before any call), and the operator's
    URL, when given, replaces them all."""
    from dataclasses import replace

    proposals = {org.xai_management.url: Proposal(
        org.xai_management.url, f"{org.where or org.id}: xai_management.url")
        for org in manifest.orgs
        if org.xai_management is not None and any(e.minted for e in org.credentials)}
    override = management_url(operator, proposals.values())
    if override is None:
        return manifest
    orgs = tuple(replace(org, xai_management=replace(org.xai_management, url=override))
                 if org.xai_management is not None else org for org in manifest.orgs)
    return replace(manifest, orgs=orgs)
