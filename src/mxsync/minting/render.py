"""How a plan shows a change that involves a minted key (the secret is never known here)."""

from __future__ import annotations

from collections.abc import Iterator

from mxsync.plan import Change
from mxsync.render.reasons import sentence


def details(change: Change) -> Iterator[str]:
    mint = change.mint or {}
    if change.action in ("create", "replace"):
        limits = ", ".join(f"{k} {mint[k]}" for k in ("qps", "qpm", "tpm") if mint.get(k))
        yield (f"api_key: (sensitive) minted at xAI in team {mint.get('team_id')} with acls "
               f"{', '.join(mint.get('acls') or ()) or 'none'}{'; ' + limits if limits else ''}; "
               "no one ever sees it")
        if change.base_url:
            yield f"base_url: {change.base_url}"
        if change.expires_at:
            yield f"expires_at: {change.expires_at}"
        if change.make_default:
            yield ("the default moves to the new credential"
                   if (change.before or {}).get("is_default") else "made the org's default on create")
        yield ("waits until the key has propagated at xAI"
               + (", then tests it (test-temporary) before it is stored" if change.test else ""))
    if change.action == "replace":
        yield (f"{sentence(change.reason)}; the old credential {change.credential_id} is deleted "
               f"last, then its key {mint.get('old_key_id') or '(unknown)'} at xAI")
    elif change.action == "delete":
        yield sentence(change.reason)
        if change.credential_id and mint.get("old_key_id"):
            yield f"then its key {mint['old_key_id']} is deleted at xAI"
