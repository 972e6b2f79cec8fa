"""The one resolver of the secrets a run needs: tokens per org and keys per entry.

`validate --check-env`, plan and apply all read through here, so a missing
variable, an unreadable key file or a changed key is worded the same everywhere.
A problem belongs to its org: the run reports it there and goes on with the others.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mxsync.plan import Reason, ReasonCode
from mxsync.secrets import (
    KeySource,
    Secret,
    SecretError,
    read_key,
    read_management_key,
    read_token,
)

if TYPE_CHECKING:
    from mxsync.manifest.model import Manifest, OrgEntry
    from mxsync.plan import Plan


@dataclass
class Inputs:
    tokens: dict[str, Secret] = field(default_factory=dict)  # org -> token
    keys: dict[tuple[str, str], Secret] = field(default_factory=dict)  # (org, entry) -> key
    # Why an org (None: its token) or an entry could not get what it needs.
    problems: dict[str, list[Reason]] = field(default_factory=dict)
    key_problems: dict[tuple[str, str], Reason] = field(default_factory=dict)
    # xAI management keys for minted entries, by the name of the variable that holds them.
    management: dict[str, Secret] = field(default_factory=dict)

    def fail(self, org: str, reason: Reason) -> None:
        self.problems.setdefault(org, []).append(reason)

    def ready(self, org: str) -> bool:
        return org not in self.problems


def _env(environ: Mapping[str, str] | None) -> dict[str, str] | None:
    """The readers take a dict (None: the process environment)."""
    return dict(environ) if environ is not None else None


def _token(inputs: Inputs, org: str, token_env: str, environ: Mapping[str, str] | None) -> None:
    try:
        inputs.tokens[org] = read_token(token_env, _env(environ))
    except SecretError as exc:
        inputs.fail(org, Reason(ReasonCode.TOKEN_UNREADABLE, {"env": token_env, "message": str(exc)}))


def _key(source: KeySource, environ: Mapping[str, str] | None) -> Secret | Reason:
    try:
        return read_key(source, _env(environ))
    except SecretError as exc:
        return Reason(ReasonCode.KEY_UNREADABLE, {"source": source.describe(), "message": str(exc)})


def _management(inputs: Inputs, env: str, environ: Mapping[str, str] | None) -> Reason | None:
    """Read a management key once per variable; the reason when it cannot be read."""
    if env in inputs.management:
        return None
    try:
        inputs.management[env] = read_management_key(env, _env(environ))
    except SecretError as exc:
        return Reason(ReasonCode.KEY_UNREADABLE, {"source": f"${env}", "message": str(exc)})
    return None


def require_shared_token(manifest: Manifest, orgs: Sequence[OrgEntry],
                         environ: Mapping[str, str] | None = None) -> None:
    """When every org of the run takes its token from one variable (the manifest's
    `api.token_env`, say), a token that cannot be read there is the run's problem, not each
    org's: raised once (`SecretError`), before anything is read, instead of the same line
    under every org. Orgs with tokens of their own still each report their own."""
    names = {manifest.token_env_for(org) for org in orgs}
    if len(names) == 1:
        read_token(names.pop(), _env(environ))


def for_manifest(manifest: Manifest, orgs: Sequence[OrgEntry],
                 environ: Mapping[str, str] | None = None) -> Inputs:
    """Every token and key of these orgs; every problem is kept, none stops the others."""
    inputs = Inputs()
    for org in orgs:
        _token(inputs, org.id, manifest.token_env_for(org), environ)
        if org.xai_management is not None and any(e.minted for e in org.credentials):
            problem = _management(inputs, org.xai_management.key_env, environ)
            if problem is not None:
                inputs.fail(org.id, problem)
        for entry in org.credentials:
            if entry.key is None:
                continue  # a minted key: nothing to read
            got = _key(entry.key, environ)
            if isinstance(got, Secret):
                inputs.keys[(org.id, entry.name)] = got
            else:
                got.params.update(entry=entry.name, where=str(entry.where or ""))
                inputs.fail(org.id, got)
    return inputs


def for_plan(plan: Plan, environ: Mapping[str, str] | None = None) -> Inputs:
    """For `apply PLANFILE`: what the plan names, read again; a key must keep its fingerprint.
    A key problem fails its entry's change only; a token problem fails its org."""
    inputs = Inputs()
    for org in plan.orgs:
        _token(inputs, org.org, org.token_env, environ)
        for change in org.changes:
            if change.mint and change.mint.key_env:
                problem = _management(inputs, change.mint.key_env, environ)
                if problem is not None:
                    inputs.key_problems[(org.org, change.name)] = problem
            if change.key is None:
                continue
            got = _key(change.key, environ)
            if isinstance(got, Secret) and got.fingerprint != change.fingerprint:
                got = Reason(ReasonCode.KEY_CHANGED, {"source": change.key.describe(),
                                             "now": got.fingerprint, "planned": change.fingerprint})
            if isinstance(got, Secret):
                inputs.keys[(org.org, change.name)] = got
            else:
                inputs.key_problems[(org.org, change.name)] = got
    return inputs
