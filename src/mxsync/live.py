"""Reading the live state: the fewest calls, overlapped.

For N orgs and T distinct tokens a plan costs T org-list calls, N credential lists
(one page of 500 holds most orgs), a catalog read only where `require_models` asks
for it, and a masked-detail read only for a credential that might be adopted.

Every call is announced to the client before it is made, so progress can say what is
left: the reads above up front (`reading_calls`), the masked reads and the calls made
per credential afterwards (an audit's usage reads and key tests, `follow_up_calls`) as
soon as an org's list says how many, and, until then, an estimate for the orgs not
listed yet at the average of those listed (`estimate_unlisted`).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mxsync import ownership
from mxsync.api import ApiError, ModulexClient
from mxsync.errors import MxsyncError
from mxsync.manifest.model import entry_name_for
from mxsync.plan import Reason, ReasonCode
from mxsync.secrets import Secret
from mxsync.state import LiveCredential, LiveOrg, OrgSettings

if TYPE_CHECKING:
    from mxsync.flows.common import OrgDirectory, ReadProgress


def unread_reason(exc: MxsyncError) -> Reason:
    """Why an org's live state was not read: the error's words, and its advice (what to
    check when nothing answered), which the plan shows under the org."""
    params: dict[str, str] = {"message": exc.message}
    if exc.hint:
        params["hint"] = exc.hint
    return Reason(ReasonCode.UNREAD, params)


@dataclass(frozen=True)
class OrgRequest:
    """What to read for one org."""

    org_id: str
    token: Secret
    token_env: str
    owner: str
    entry_names: frozenset[str] = frozenset()  # of entries that pair by name (no adopt_id)
    adopt_ids: frozenset[str] = frozenset()  # credentials entries adopt by id
    need_catalog: bool = False
    need_settings: bool = False
    # Calls per live credential once the org is read (an audit's usage read, key test).
    per_credential: int = 0


def reading_calls(requests: Sequence[OrgRequest], knows: Callable[[Secret], bool]
                  ) -> dict[Secret, int]:
    """The calls reading these orgs costs before any answer, per token: the token's org list
    (unless `knows` says it is already read), each org's credential list, and its catalog and
    settings where asked for."""
    calls: dict[Secret, int] = {}
    for r in requests:
        first = 0 if knows(r.token) else 1
        calls[r.token] = calls.get(r.token, first) + 1 + int(r.need_catalog) + int(r.need_settings)
    return calls


def follow_up_calls(req: OrgRequest, credentials: int) -> int:
    """The calls an org costs once its credential list is read: `per_credential` each."""
    return req.per_credential * credentials


def estimate_unlisted(seen: Sequence[int], unlisted: int) -> int:
    """The follow-up calls of `unlisted` orgs not listed yet, at the average of the `seen`
    orgs' (0 before any is seen: nothing is known)."""
    if not seen or unlisted <= 0:
        return 0
    return round(sum(seen) * unlisted / len(seen))


async def read_org(client: ModulexClient, req: OrgRequest) -> LiveOrg:
    catalog_task = (asyncio.create_task(client.provider_detail(req.token, req.org_id))
                    if req.need_catalog else None)
    settings_task = (asyncio.create_task(client.org_settings(req.token, req.org_id))
                     if req.need_settings else None)
    try:
        records = await client.list_credentials(req.token, req.org_id)
    except BaseException:
        for task in (catalog_task, settings_task):
            if task is not None:
                task.cancel()
        raise
    creds = [LiveCredential.from_api(r) for r in records]
    claimed = {name for owner, name in (c.claim() for c in creds) if owner == req.owner}
    unclaimed = req.entry_names - claimed
    candidates = [c for c in creds if not ownership.has_marker(c.metadata)
                  and (c.id in req.adopt_ids or c.display_name in unclaimed
                       or entry_name_for(c.display_name) in unclaimed)]
    if candidates:
        client.expect(len(candidates), req.token)
    details = await asyncio.gather(*(
        client.get_credential(req.token, req.org_id, c.id, include_masked=True) for c in candidates))
    masked = {d["credential_id"]: d.get("auth_data_masked") for d in details}
    creds = [LiveCredential(**{**c.__dict__, "masked": masked[c.id]}) if c.id in masked else c
             for c in creds]
    models = None
    names: tuple[tuple[str, str], ...] = ()
    if catalog_task is not None:
        detail = await catalog_task
        listed = [m for m in detail.get("models") or [] if isinstance(m, dict)]
        models = tuple(str(m.get("id")) for m in listed)
        names = tuple((str(m[field]), str(m.get("id"))) for m in listed
                      for field in ("display_name", "name") if isinstance(m.get(field), str))
    settings = None
    if settings_task is not None:
        settings = OrgSettings.from_api(await settings_task)
    return LiveOrg(id=req.org_id, credentials=tuple(creds), models=models, model_names=names,
                   settings=settings)


async def read_settings(client: ModulexClient, req: OrgRequest, state: LiveOrg) -> LiveOrg:
    """The org's settings added to a state read without them."""
    from dataclasses import replace

    body = await client.org_settings(req.token, req.org_id)
    return replace(state, settings=OrgSettings.from_api(body))


async def read_orgs(client: ModulexClient, directory: OrgDirectory,
                    requests: Sequence[OrgRequest], progress: ReadProgress | None = None
                    ) -> tuple[dict[str, LiveOrg], dict[str, Reason]]:
    """Every org concurrently: its state, or why it could not be read. One org's failure
    (a token that may not manage it, an error answer, a malformed one) is that org's alone."""
    # Announce the calls this costs, so progress can say what is left.
    for token, count in reading_calls(requests, directory.knows).items():
        client.expect(count, token)
    done = 0
    seen: list[int] = []  # follow-up calls of each org read, for the estimate of the others
    unlisted = Counter(r.token for r in requests if r.per_credential)

    def estimate() -> None:
        for token, count in unlisted.items():
            client.provisional(estimate_unlisted(seen, count), token)

    async def one(req: OrgRequest) -> LiveOrg | Reason:
        """The org's lists go out with the token's org list, not after it: one round trip
        less. The org list still decides: a refusal wins over whatever the lists answered."""
        nonlocal done
        reading = asyncio.create_task(read_org(client, req))
        stopped = False
        try:
            refusal = await directory.refusal(req.token, req.token_env, req.org_id)
            if refusal is not None:
                reading.cancel()
                await asyncio.gather(reading, return_exceptions=True)
                return refusal
            state = await reading
            if req.per_credential:
                seen.append(follow_up_calls(req, len(state.credentials)))
                client.expect(seen[-1], req.token)
            return state
        except ApiError as exc:
            if exc.status == 403:
                return Reason(ReasonCode.FORBIDDEN, {"org": req.org_id, "env": req.token_env,
                                            "detail": exc.detail})
            return unread_reason(exc)
        except MxsyncError as exc:
            return unread_reason(exc)
        except asyncio.CancelledError:  # the run was stopped (a signal): this org is not read
            stopped = True
            raise
        finally:
            if not reading.done():
                reading.cancel()
            if not stopped:
                done += 1
                if req.per_credential:
                    unlisted[req.token] -= 1
                    estimate()
                if progress:
                    progress(done, len(requests))

    if progress and requests:  # the total from the start: a log's first line can say it
        progress(0, len(requests))
    results = await asyncio.gather(*(one(r) for r in requests))
    live: dict[str, LiveOrg] = {}
    unread: dict[str, Reason] = {}
    for req, result in zip(requests, results, strict=True):
        if isinstance(result, Reason):
            unread[req.org_id] = result
        else:
            live[req.org_id] = result
    return live, unread
