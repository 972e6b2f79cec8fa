"""Reading the live state: the fewest calls, overlapped.

For N orgs and T distinct tokens a plan costs T org-list calls, N credential lists
(one page of 500 holds most orgs), a catalog read only where `require_models` asks
for it, and a masked-detail read only for a credential that might be adopted.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mxsync import ownership
from mxsync.api import ApiError, ModulexClient
from mxsync.errors import MxsyncError
from mxsync.manifest.model import entry_name_for, normalize_instant
from mxsync.secrets import Secret

MANAGE_ROLES = ("owner", "admin")


@dataclass(frozen=True)
class LiveCredential:
    id: str
    display_name: str
    is_default: bool
    metadata: Mapping[str, Any] = field(default_factory=dict)
    expires_at: str | None = None  # normalized, like the manifest's
    created_at: str | None = None
    last_used_at: str | None = None
    masked: str | None = None  # only read for adoption candidates

    @classmethod
    def from_api(cls, record: Mapping[str, Any]) -> LiveCredential:
        expires = record.get("expires_at")
        # An unparsable expiry keeps the service's text: it shows up as a difference.
        with contextlib.suppress(ValueError):
            expires = normalize_instant(expires) if expires else None
        return cls(
            id=str(record["credential_id"]),
            display_name=str(record.get("display_name") or ""),
            is_default=bool(record.get("is_default")),
            metadata=dict(record.get("credentials_metadata") or {}),
            expires_at=expires,
            created_at=record.get("created_at"),
            last_used_at=record.get("last_used_at"),
        )

    def claim(self) -> tuple[str | None, str | None]:
        """(owner, entry name) when mxsync manages it, else (None, None)."""
        if not ownership.has_marker(self.metadata):
            return None, None
        return self.metadata.get(ownership.OWNER), self.metadata.get(ownership.NAME)

    @property
    def fingerprint(self) -> str | None:
        return self.metadata.get(ownership.FINGERPRINT)

    @property
    def base_url(self) -> str:
        return str(self.metadata.get(ownership.BASE_URL) or "")


@dataclass(frozen=True)
class LiveOrg:
    id: str
    role: str | None
    credentials: tuple[LiveCredential, ...] = ()
    models: tuple[str, ...] | None = None  # None: the catalog was not read

    @property
    def digest(self) -> str:
        return live_digest(self.credentials)


def live_digest(credentials: Sequence[LiveCredential]) -> str:
    """What a saved plan was computed against. `last_used_at` is left out on purpose:
    it moves whenever a workflow runs, which must not make a plan stale."""
    rows = sorted(
        (c.id, c.display_name, c.is_default, c.expires_at, dict(c.metadata)) for c in credentials
    )
    text = json.dumps(rows, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class OrgRequest:
    """What to read for one org."""

    org_id: str
    token: Secret
    token_env: str
    owner: str
    entry_names: frozenset[str] = frozenset()
    need_catalog: bool = False


async def check_roles(client: ModulexClient, requests: Sequence[OrgRequest]
                      ) -> tuple[dict[str, str], dict[str, str]]:
    """One `GET /auth/me/organizations` per distinct token.

    Returns the role of each org that can be managed, and for the others why not."""
    by_token: dict[Secret, list[OrgRequest]] = {}
    for req in requests:
        by_token.setdefault(req.token, []).append(req)
    tokens = list(by_token)
    answers = await asyncio.gather(*(client.my_organizations(t) for t in tokens),
                                   return_exceptions=True)
    roles: dict[str, str] = {}
    refused: dict[str, str] = {}
    for token, answer in zip(tokens, answers, strict=True):
        reqs = by_token[token]
        if isinstance(answer, ApiError) and answer.status == 401:
            for req in reqs:
                refused[req.org_id] = (
                    f"the ModuleX API rejected the token in ${req.token_env} (401: {answer.detail}); "
                    "check that it is a current mx_live_ key")
            continue
        if isinstance(answer, BaseException):
            raise answer
        member_roles = {str(o.get("id")): str(o.get("role")) for o in answer}
        for req in reqs:
            role = member_roles.get(req.org_id)
            if role in MANAGE_ROLES:
                roles[req.org_id] = role
                continue
            what = f"has the role '{role}'" if role else "is not a member"
            refused[req.org_id] = (
                f"org {req.org_id}: the token in ${req.token_env} {what} there; managing "
                "credentials needs owner or admin. Use an owner/admin token (org token_env), "
                "or remove the org from the manifest")
    return roles, refused


async def read_org(client: ModulexClient, req: OrgRequest, role: str | None) -> LiveOrg:
    records = await client.list_credentials(req.token, req.org_id)
    creds = [LiveCredential.from_api(r) for r in records]
    catalog_task = (asyncio.create_task(client.provider_detail(req.token, req.org_id))
                    if req.need_catalog else None)
    claimed = {name for owner, name in (c.claim() for c in creds) if owner == req.owner}
    unclaimed = req.entry_names - claimed
    candidates = [c for c in creds if not ownership.has_marker(c.metadata)
                  and (c.display_name in unclaimed or entry_name_for(c.display_name) in unclaimed)]
    details = await asyncio.gather(*(
        client.get_credential(req.token, req.org_id, c.id, include_masked=True) for c in candidates))
    masked = {d["credential_id"]: d.get("auth_data_masked") for d in details}
    creds = [LiveCredential(**{**c.__dict__, "masked": masked[c.id]}) if c.id in masked else c
             for c in creds]
    models = None
    if catalog_task is not None:
        detail = await catalog_task
        models = tuple(str(m.get("id")) for m in detail.get("models") or [])
    return LiveOrg(id=req.org_id, role=role, credentials=tuple(creds), models=models)


async def read_live(client: ModulexClient, requests: Sequence[OrgRequest],
                    progress: Callable[[int, int], None] | None = None
                    ) -> dict[str, LiveOrg | MxsyncError]:
    """Every org concurrently; a failure in one org is returned for that org alone.

    An org the token cannot manage stops the whole run first: nothing is read or planned."""
    roles, refused = await check_roles(client, requests)
    if refused:
        problems = list(dict.fromkeys(refused.values()))
        raise MxsyncError(problems[0] if len(problems) == 1
                          else "several orgs cannot be managed:\n  " + "\n  ".join(problems))
    done = 0

    async def one(req: OrgRequest) -> LiveOrg:
        nonlocal done
        try:
            return await read_org(client, req, roles.get(req.org_id))
        finally:
            done += 1
            if progress:
                progress(done, len(requests))

    results = await asyncio.gather(*(one(r) for r in requests), return_exceptions=True)
    out: dict[str, LiveOrg | MxsyncError] = {}
    for req, result in zip(requests, results, strict=True):
        if isinstance(result, MxsyncError):
            out[req.org_id] = result
        elif isinstance(result, BaseException):
            raise result
        else:
            out[req.org_id] = result
    return out
