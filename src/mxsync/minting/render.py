"""How a plan shows a change that involves a minted key (the secret is never known here)."""

from __future__ import annotations

from collections.abc import Iterator

from mxsync.plan import Change, MintSpec
from mxsync.render.reasons import sentence


def details(change: Change) -> Iterator[str]:
    mint = change.mint or MintSpec("", "", "")
    if change.action in ("create", "replace"):
        limits = ", ".join(f"{k} {v}" for k, v in (("qps", mint.qps), ("qpm", mint.qpm),
                                                   ("tpm", mint.tpm)) if v)
        yield (f"api_key: (sensitive) minted at xAI in team {mint.team_id or None} with acls "
               f"{', '.join(mint.acls) or 'none'}{'; ' + limits if limits else ''}; "
               "no one ever sees it")
        yield f"management key: ${mint.key_env} -> {mint.url}"
        if change.base_url:
            yield f"base_url: {change.base_url}"
        if change.expires_at:
            yield f"expires_at: {change.expires_at}"
        if change.make_default:
            yield ("the default moves to the new credential"
                   if change.old_was_default else "made the org's default on create")
        yield ("waits until the key has propagated at xAI"
               + (", then tests it (test-temporary) before it is stored" if change.test else ""))
    if change.action == "replace":
        yield (f"{sentence(change.reason)}; the old credential {change.credential_id} is deleted "
               f"last, then its key {mint.old_key_id or '(unknown)'} at xAI")
    elif change.action == "delete":
        yield sentence(change.reason)
        if change.credential_id and mint.old_key_id:
            yield f"then its key {mint.old_key_id} is deleted at xAI"
