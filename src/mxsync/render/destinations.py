"""Where a plan's secrets go: the ModuleX API URL and each org's token variable, the xAI
Management API URL and key variable of each minted change, and each new key's source.

A reviewer of a saved plan must see these: apply sends the tokens and keys named here to
the URLs named here, so an edited plan file shows its edit (text, JSON and Markdown all
word it from this module)."""

from __future__ import annotations

from dataclasses import dataclass

from mxsync.plan import Change, Plan
from mxsync.urls import DEFAULT_BASE_URL


def api_url(plan: Plan) -> str:
    """The ModuleX API the plan's tokens go to (a plan without one uses the default)."""
    return plan.api_url or DEFAULT_BASE_URL


def key_source(change: Change) -> str | None:
    """Where a create's or replace's new key comes from: `$VAR`, `file PATH`,
    `field F of $VAR`, or minted at xAI with the management key of `$VAR` at its URL."""
    if change.action not in ("create", "replace"):
        return None
    if change.mint:
        return (f"minted at xAI ({change.mint.url}) with the management key "
                f"${change.mint.key_env}")
    return change.key.describe() if change.key else None


@dataclass(frozen=True)
class Destination:
    """One secret, the variable that holds it, and the URL apply sends it to."""

    what: str  # "ModuleX token of org X" or "xAI management key for ADDRESSES"
    variable: str  # the variable's name, without `$`
    url: str


def destinations(plan: Plan) -> list[Destination]:
    """Every secret apply sends, with its URL: each org's token to the ModuleX API, each
    management key to its xAI Management API (one line per variable and URL)."""
    out = [Destination(f"ModuleX token of org {org.org}", org.token_env, api_url(plan))
           for org in plan.orgs]
    return out + minted_destinations(plan)


def minted_destinations(plan: Plan) -> list[Destination]:
    """Each management key a minted change sends, with its xAI Management API URL."""
    minted: dict[tuple[str, str], list[str]] = {}
    for change in plan.changes:
        if change.mint:
            minted.setdefault((change.mint.key_env, change.mint.url), []).append(change.address)
    return [Destination(f"xAI management key for {', '.join(addresses)}", env, url)
            for (env, url), addresses in minted.items()]


def destination_lines(plan: Plan) -> list[str]:
    """The lines a text or Markdown plan shows under "Where secrets go"."""
    return [f"ModuleX API: {api_url(plan)}",
            *(f"{d.what}: ${d.variable or '(none)'} -> {d.url}" for d in destinations(plan))]
