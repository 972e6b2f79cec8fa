"""Reading the xAI teams that minted entries live in: each (URL, team) once per run.

One management client per (URL, key variable), shared by every org that uses it,
and closed when the run ends. The keys are turned into `XaiKeyView`s at once:
nothing past this module sees a key object from the wire.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

from mxsync.errors import MxsyncError
from mxsync.minting.state import XaiKeyView, uncommon_endpoints
from mxsync.plan import Reason, ReasonCode

if TYPE_CHECKING:
    from mxsync.manifest.model import OrgEntry, XaiManagement
    from mxsync.secrets import Secret
    from mxsync.state import LiveOrg
    from mxsync.xai_management import XaiApiKey, XaiManagementClient


T = TypeVar("T")


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def view(key: XaiApiKey) -> XaiKeyView:
    return XaiKeyView(api_key_id=key.api_key_id, name=key.name, disabled=key.disabled,
                      created_at=_iso(key.created_at), expires_at=_iso(key.expires_at),
                      acls=key.acls, qps=key.qps, qpm=key.qpm, tpm=key.tpm)


class Clients:
    """Management clients by (URL, key variable); use as `async with`."""

    def __init__(self, management_keys: Mapping[str, Secret], timeout_s: float = 30.0) -> None:
        self._keys = management_keys
        self._timeout_s = timeout_s
        self._clients: dict[tuple[str, str], XaiManagementClient] = {}

    def get(self, url: str, key_env: str) -> XaiManagementClient:
        """The client for this URL and key; an MxsyncError when the key was not read."""
        from mxsync.xai_management import XaiManagementClient

        found = self._clients.get((url, key_env))
        if found is not None:
            return found
        token = self._keys.get(key_env)
        if token is None:
            raise MxsyncError(f"the xAI management key in ${key_env} was not read",
                              hint=f"export {key_env} (a management key from the xAI Console)")
        client = XaiManagementClient(token, url, token_source=f"${key_env}",
                                     timeout_s=self._timeout_s)
        self._clients[(url, key_env)] = client
        return client

    async def __aenter__(self) -> Clients:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.gather(*(c.__aexit__() for c in self._clients.values()))
        self._clients.clear()


def mints(org: OrgEntry) -> bool:
    return org.xai_management is not None and any(e.minted for e in org.credentials)


def endpoints_named(org: OrgEntry) -> bool:
    """Whether an ACL of this org's minted entries names an endpoint past the common ones."""
    return any(uncommon_endpoints(e.mint.acls) for e in org.credentials if e.mint is not None)


async def per_team(clients: Clients, settings: Sequence[XaiManagement],
                   read: Callable[[XaiManagementClient, str], Awaitable[T]]
                   ) -> dict[tuple[str, str], T | MxsyncError]:
    """`read` for each distinct (URL, team) once, concurrently; a failure is that team's alone."""
    wanted = {(s.url, s.team_id): s for s in settings}

    async def one(s: XaiManagement) -> T | MxsyncError:
        try:
            return await read(clients.get(s.url, s.key_env), s.team_id)
        except MxsyncError as exc:
            return exc

    results = await asyncio.gather(*(one(s) for s in wanted.values()))
    return dict(zip(wanted, results, strict=True))


async def _keys(client: XaiManagementClient, team_id: str) -> tuple[XaiKeyView, ...]:
    return tuple(view(k) for k in await client.list_keys(team_id))


async def _endpoints(client: XaiManagementClient, team_id: str) -> tuple[str, ...]:
    return tuple(await client.team_endpoints(team_id))


async def attach(clients: Clients, orgs: Sequence[OrgEntry], live: dict[str, LiveOrg],
                 unread: dict[str, Reason]) -> None:
    """Give every read org that mints its team's keys; an org whose team cannot be read is
    unread (planning it blind could mint a second key or miss a deleted one)."""
    minting = [o for o in orgs if mints(o) and o.id in live]
    teams, offered = await asyncio.gather(
        per_team(clients, [o.xai_management for o in minting if o.xai_management is not None],
                 _keys),
        per_team(clients, [o.xai_management for o in minting
                           if o.xai_management is not None and endpoints_named(o)], _endpoints))
    for org in minting:
        mgmt = org.xai_management
        if mgmt is None:
            continue
        got = teams[(mgmt.url, mgmt.team_id)]
        endpoints = offered.get((mgmt.url, mgmt.team_id))
        if isinstance(got, MxsyncError) or isinstance(endpoints, MxsyncError):
            failed = got if isinstance(got, MxsyncError) else endpoints
            del live[org.id]
            message = failed.message if isinstance(failed, MxsyncError) else ""
            unread[org.id] = Reason(ReasonCode.XAI_UNREAD, {"team_id": mgmt.team_id,
                                                   "message": message})
        else:
            live[org.id] = replace(live[org.id], xai_keys=got, xai_endpoints=endpoints)
