"""What every command that talks to the API shares: the URL, the client, the orgs a token
may manage, and the per-org failure policy."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mxsync.errors import MxsyncError
from mxsync.plan import Reason, ReasonCode

if TYPE_CHECKING:
    import asyncio

    from mxsync.api import CallProgress, ModulexClient
    from mxsync.manifest.model import Manifest, OrgEntry
    from mxsync.planner import Target
    from mxsync.secrets import Secret

MANAGE_ROLES = ("owner", "admin")

# `progress(done, total)`: how many orgs have been read; the CLI decides how to show it.
ReadProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class RunOptions:
    api_url: str | None = None
    management_url: str | None = None  # --management-url (the operator's, like --api-url)
    parallelism: int = 10
    timeout_s: float = 30.0
    prune: bool = False
    skip_tests: bool = False
    take_default: bool = False  # take the default from another owner's credential on purpose
    targets: tuple[Target, ...] = ()
    read_progress: ReadProgress | None = None
    # The API client's hook: calls done and left, and an ETA when a rate limit sets the pace.
    call_progress: Callable[[CallProgress], None] | None = None
    replace: tuple[Target, ...] = ()  # --replace: minted entries to give a new key
    # After a create went unanswered: how long its late copy may take to land (see executor);
    # None: twice the timeout.
    settle_s: float | None = None

    @property
    def settle_window_s(self) -> float:
        return 2 * self.timeout_s if self.settle_s is None else self.settle_s


def api_url(cli_url: str | None, manifest_url: str | None,
            environ: Mapping[str, str] | None = None,
            named_by: str = "the manifest's api.url") -> str:
    """`--api-url`, else `MODULEX_BASE_URL`, else the file's URL where the operator allows
    it (see mxsync.destinations), else the service."""
    from mxsync.destinations import Operator, Proposal, modulex_url

    operator = Operator.from_environment(cli_url, environ=environ)
    return modulex_url(operator, [Proposal(manifest_url, named_by)] if manifest_url else [])


def client_for(manifest_url: str | None, options: RunOptions,
               named_by: str = "the manifest's api.url") -> ModulexClient:
    from mxsync.api import ModulexClient

    return ModulexClient(api_url(options.api_url, manifest_url, named_by=named_by),
                         parallelism=options.parallelism, timeout_s=options.timeout_s,
                         progress=options.call_progress)


def did_you_mean(wanted: str, known: Sequence[str]) -> str:
    import difflib

    close = difflib.get_close_matches(wanted, list(known), n=1)
    return f"Did you mean {close[0]}? " if close else ""


def select_orgs(manifest: Manifest, targets: Sequence[Target], prune: bool = False
                ) -> list[OrgEntry]:
    """The orgs `--target` names. With prune, a name no entry has may be a credential prune
    would delete: that is known only once the org is read (`check_prune_targets`)."""
    if not targets:
        return list(manifest.orgs)
    known = {o.id: o for o in manifest.orgs}
    for target in targets:
        org = known.get(target.org)
        if org is None:
            raise MxsyncError(f"--target {target.org}: no such org in the manifest",
                              hint=f"{did_you_mean(target.org, list(known))}"
                                   f"orgs: {', '.join(known) or 'none'}")
        if target.name and org.entry(target.name) is None and not (prune or org.prune):
            raise MxsyncError(f"--target {target}: org {target.org} has no entry "
                              f"'{target.name}'",
                              hint=f"{did_you_mean(target.name, [e.name for e in org.credentials])}"
                                   f"entries: {', '.join(e.name for e in org.credentials) or 'none'}"
                                   "; a credential the manifest no longer lists is targeted with "
                                   "--prune")
    wanted = {t.org for t in targets}
    return [o for o in manifest.orgs if o.id in wanted]


@dataclass
class OrgDirectory:
    """`GET /auth/me/organizations`, once per token per run, and what it says about an org.

    Every command asks "may this token manage that org?"; this is the one place that
    answers, so an import or audit never lists the same token's orgs twice."""

    client: ModulexClient
    _calls: dict[Secret, asyncio.Future[list[dict[str, Any]]]] = field(default_factory=dict)
    _roles: dict[Secret, dict[str, str]] = field(default_factory=dict)

    async def orgs_of(self, token: Secret) -> list[dict[str, Any]]:
        """The orgs the token belongs to. Concurrent askers share one call; its error is
        raised to each of them."""
        import asyncio

        if token not in self._calls:
            call = asyncio.ensure_future(self.client.my_organizations(token))
            # Its error is raised to every asker; retrieve it here as well, so an interrupted
            # run does not print "exception was never retrieved" on its way out.
            call.add_done_callback(lambda done: done.cancelled() or done.exception())
            self._calls[token] = call
        return await asyncio.shield(self._calls[token])

    def knows(self, token: Secret) -> bool:
        """Whether this token's orgs were already asked for (no call left to make)."""
        return token in self._calls

    async def roles(self, token: Secret) -> dict[str, str]:
        """org id -> the token's role there; built once per token, not once per org."""
        roles = self._roles.get(token)
        if roles is None:
            orgs = await self.orgs_of(token)
            # Every org of a run awaits the same list: the first to wake builds the map, the
            # rest find it (checking only before the await built it once per org: O(N^2)).
            roles = self._roles.get(token)
            if roles is None:
                roles = self._roles[token] = {str(o.get("id")): str(o.get("role"))
                                              for o in orgs if isinstance(o, dict)}
        return roles

    async def refusal(self, token: Secret, token_env: str, org_id: str) -> Reason | None:
        """None when the token is owner or admin of the org; otherwise why it cannot manage it."""
        from mxsync.api import ApiError
        from mxsync.live import unread_reason

        try:
            roles = await self.roles(token)
        except ApiError as exc:
            if exc.status == 401:
                return Reason(ReasonCode.TOKEN_REJECTED, {"env": token_env, "detail": exc.detail})
            return unread_reason(exc)
        except MxsyncError as exc:
            return unread_reason(exc)
        role = roles.get(org_id)
        if role in MANAGE_ROLES:
            return None
        return Reason(ReasonCode.NOT_MANAGEABLE, {
            "org": org_id, "env": token_env, "role": role,
            "suggestion": "" if role else did_you_mean(
                org_id, [i for i, r in roles.items() if r in MANAGE_ROLES]),
        })

    async def manageable(self, token: Secret) -> list[str]:
        return [str(o.get("id")) for o in await self.orgs_of(token)
                if isinstance(o, dict) and o.get("role") in MANAGE_ROLES]

    async def names(self, token: Secret) -> dict[str, str | None]:
        return {str(o.get("id")): o.get("name") for o in await self.orgs_of(token)
                if isinstance(o, dict)}
