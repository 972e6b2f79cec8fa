"""Reason codes to sentences: the one place a plan's facts become words.

Plans, the plan file and audit carry `Reason(code, params)`; only renderers call
`sentence`. A code unknown to this version (a newer plan file) still renders, as
its code and parameters, rather than failing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mxsync.plan import Reason
from mxsync.render.safe import printable
from mxsync.render.words import plural
from mxsync.secrets import redact


def _names(values: Any) -> str:
    return ", ".join(str(v) for v in values or ()) or "none"


def _quoted(values: Any) -> str:
    return ", ".join(f"'{v}'" for v in values or ())


def _entry(p: dict[str, Any]) -> str:
    """`entry 'NAME' (FILE:LINE:COL)`, or `entry 'NAME'` for an entry not read from a file."""
    return f"entry '{p.get('entry')}'" + (f" ({p['where']})" if p.get("where") else "")


def _immutable(p: dict[str, Any]) -> str:
    labels = {"key_fingerprint": "key rotated", "base_url": "base_url changed",
              "expires_at": "expires_at changed"}
    empty = {"key_fingerprint": "unknown", "base_url": "default", "expires_at": "none"}
    parts = [f"{labels.get(name, name)}: {old or empty.get(name, 'none')} -> "
             f"{new or empty.get(name, 'none')}"
             for name, (old, new) in (p.get("fields") or {}).items()]
    return "; ".join(parts) + " (a key cannot be edited in place)"


def _age(seconds: Any) -> str:
    """`40d 3h`, `5h`, `12m`: a key's age as people count it."""
    s = int(seconds or 0)
    days, hours, minutes = s // 86_400, s % 86_400 // 3_600, s % 3_600 // 60
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    return f"{hours}h" if hours else f"{minutes}m"


def _mint_changed(p: dict[str, Any]) -> str:
    parts = [f"{name}: {old if old not in (None, []) else 'unset'} -> "
             f"{new if new not in (None, []) else 'unset'}"
             for name, (old, new) in (p.get("fields") or {}).items()]
    return "mint settings changed (" + "; ".join(parts) + "); a key's limits are set when minted"


def _meant(ids: Any, closest: Any) -> str:
    """Model ids, each with the catalog's id it most likely means (`mxsync.model_ids`)."""
    near = closest if isinstance(closest, dict) else {}
    return ", ".join(f"{m} (did you mean {near[m]}?)" if near.get(m) else str(m)
                     for m in ids or ())


# Minted keys (mxsync.minting): why a rotation, and what is wrong at xAI.
_MINT_SENTENCES: dict[str, Callable[[dict[str, Any]], str]] = {
    "rotation-due": lambda p: (
        f"the key is {_age(p.get('age_s'))} old, rotate_after is {_age(p.get('rotate_after_s'))}"),
    "mint-changed": _mint_changed,
    "xai-key-missing": lambda p: (
        f"its key {p.get('key_id') or '(no id recorded)'} no longer exists at xAI (deleted out of "
        "band)"),
    "xai-key-disabled": lambda p: f"its key {p.get('key_id')} is disabled at xAI",
    "xai-key-expired": lambda p: f"its key {p.get('key_id')} expired at xAI ({p.get('expired_at')})",
    "replace-forced": lambda p: "--replace asks for a new key",
    "xai-orphan": lambda p: (
        f"key {p.get('key_id')} ({p.get('key_name')}) at xAI was minted by this owner for this org "
        "and no credential holds it (a lost mint answer, or an interrupted apply): delete it"),
    "xai-unread": lambda p: (
        f"the keys of xAI team {p.get('team_id')} could not be read: {p.get('message')}"),
    "acl-endpoint-unknown": lambda p: (
        f"{_entry(p)}: xAI team {p.get('team_id')} offers no endpoint "
        f"{_names(p.get('endpoints'))} (it offers {_names(p.get('offered'))}), so the key could "
        "not be minted; fix the ACL in mint.acls"),
}


_SENTENCES: dict[str, Callable[[dict[str, Any]], str]] = {
    **_MINT_SENTENCES,
    "absent": lambda p: "not in the live state",
    "immutable-changed": _immutable,
    "attributes-differ": lambda p: "display name or labels differ",
    "masked-key-could-match": lambda p: (
        f"its masked key could be the key in {p.get('source')} (only "
        f"{len(str(p.get('masked') or '').replace('...', ''))} characters are visible): "
        "mark it as managed"),
    "duplicate": lambda p: f"duplicate: another credential already holds entry '{p.get('entry')}'",
    "pruned": lambda p: "no longer in the manifest (prune)",
    "default-was-duplicate": lambda p: "the default was a duplicate",
    "manifest-default": lambda p: (
        f"manifest default (currently {p['current']})" if p.get("current")
        else "manifest default (the org has no default)"),
    "orphans-kept": lambda p: (
        f"{plural(len(p.get('names') or ()), 'credential')} managed by owner '{p.get('owner')}' "
        f"{'is' if len(p.get('names') or ()) == 1 else 'are'} no longer in the manifest and "
        f"{'is' if len(p.get('names') or ()) == 1 else 'are'} kept: {_names(p.get('names'))} "
        "(set prune: true or use --prune)"),
    "default-left-empty": lambda p: (
        f"org '{p.get('org')}' will have no xAI credential once "
        f"{_quoted(p.get('entries') or [p.get('entry')])} "
        f"{'is' if len(p.get('entries') or ()) < 2 else 'are'} deleted: its workflows that use "
        "xAI will fail; add an entry for a new key, or keep "
        f"{'this one' if len(p.get('entries') or ()) < 2 else 'one of them'} (list its entry "
        "again, or turn prune off)") if p.get("credentials_left") == 0 else (
        f"deleting '{p.get('entry')}', the org's default, leaves the org without a default xAI "
        "credential: workflows that name no credential will fail; set xai.default to one of "
        "the entries that stay"),
    "name-taken": lambda p: (
        f"{_entry(p)}: the org already has an xai credential named "
        f"'{p.get('display_name') or p.get('entry')}' (id {_names(p.get('ids'))}) that mxsync does "
        "not manage, and its key "
        f"does not match {p.get('source')}. Rename the entry, delete or rename that credential in "
        "ModuleX, or point the entry at the key it holds (then it is adopted)"),
    "name-taken-by-owner": lambda p: (
        f"entry '{p.get('entry')}'{' (' + p['where'] + ')' if p.get('where') else ''}: the org "
        f"already has an xai credential of that name (id {_names(p.get('ids'))}) managed by owner "
        f"'{p.get('owner')}'; a second one would be two credentials nobody can tell apart. "
        "Rename the entry, or agree with that owner which manifest manages it"),
    # Adoption by `adopt_id` (written by `mxsync import`): always said by entry name.
    "adopt-missing": lambda p: (
        f"{_entry(p)}: adopt_id {p.get('id')} names no credential of this org (deleted since the "
        "import?); nothing is created in its place. Remove adopt_id to create a new credential, "
        "or run `mxsync import` again"),
    "adopt-taken": lambda p: (
        f"{_entry(p)}: credential {p.get('id')} (its adopt_id) is already managed by owner "
        f"'{p.get('owner')}'{' as entry ' + repr(p['by']) if p.get('by') else ''}; a credential "
        "belongs to one entry. Remove this entry, or its adopt_id to create a new credential"),
    "adopt-key-mismatch": lambda p: (
        f"{_entry(p)}: the key in {p.get('source')} is not the key of credential {p.get('id')} "
        f"('{p.get('display_name')}'); it was not adopted "
        "and nothing is created in its place. Put that credential's key there, or remove the "
        "entry"),
    "expires-in-past": lambda p: (
        f"{_entry(p)}: expires_at {p.get('expires_at')} has passed, so the credential would be "
        "stored already expired; set a later expires_at, or remove it"),
    "near-name-other-key": lambda p: (
        f"entry '{p.get('entry')}': credential {_names(p.get('ids'))} has a display name that "
        f"becomes this entry's name, but its key is not the one in {p.get('source')}; it is left "
        "alone and a new credential is created"),
    "models-missing": lambda p: (
        f"required {'model' if len(p.get('missing') or ()) == 1 else 'models'} "
        f"{_meant(p.get('missing'), p.get('closest'))} "
        f"{'is' if len(p.get('missing') or ()) == 1 else 'are'} not "
        "in the org's xAI catalog (it has: "
        f"{_names(p.get('available'))}); fix xai.require_models"),
    "unread": lambda p: str(p.get("message") or "the live state was not read") + (
        f"; {p['hint']}" if p.get("hint") else ""),
    "default-held-by-other-owner": lambda p: (
        f"the manifest makes '{p.get('entry')}' the org's default, but the default is "
        f"'{p.get('credential')}' ({p.get('id')}), managed by owner '{p.get('owner')}': two "
        "manifests that both set xai.default would take it from each other on every run. "
        "Agree on one owner of the default (remove xai.default from one manifest), or take it "
        "on purpose with --take-default"),
    "models-differ": lambda p: "the Grok models members see differ from the manifest's xai.models",
    "models-unknown": lambda p: (
        "unknown model id(s) in xai.models or xai.assistant: "
        + _meant(p.get("unknown") or list(p.get("closest") or {}), p.get("closest"))
        + f"; the org's xAI catalog has: {_names(p.get('available'))}"),
    "assistant-differs": lambda p: "the Assistant's model or credential differs from xai.assistant",
    "assistant-to-new-credential": lambda p: (
        f"the Assistant moves to the new credential of '{p.get('entry')}' before anything is deleted"),
    "assistant-follows": lambda p: (
        f"the Assistant runs on '{p.get('entry')}', whose credential is replaced or removed: "
        "it moves with it, so it never points at a deleted credential"),
    "assistant-would-dangle": lambda p: (
        f"the Assistant (model {p.get('model')}) runs on credential {p.get('credential_id')} "
        f"('{p.get('entry')}'), which this plan would delete, and the manifest does not say where "
        "the Assistant should go; set xai.assistant {model, credential} in the manifest, or keep "
        "the entry"),
    "token-unreadable": lambda p: str(p.get("message")),
    "key-unreadable": lambda p: (
        f"{p['where'] + ': ' if p.get('where') else ''}entry '{p.get('entry')}': {p.get('message')}"
        if p.get("entry") else str(p.get("message"))),
    "key-changed": lambda p: (
        f"the key in {p.get('source')} changed since the plan (fingerprint {p.get('now')}, plan "
        f"has {p.get('planned')}); run plan again"),
    "inputs-unreadable": lambda p: "; ".join(
        sentence(Reason.from_dict(r)) for r in p.get("problems") or ()),
    "token-rejected": lambda p: (
        f"the ModuleX API rejected the token in ${p.get('env')} (401: {p.get('detail')}); check "
        "that it is a current mx_live_ key"),
    "not-manageable": lambda p: (
        f"the token in ${p.get('env')} has the role {p['role']!r} in org {p.get('org')}; "
        "managing credentials needs owner or admin. Use an owner/admin token (org token_env), "
        "or remove the org from the manifest") if p.get("role") else (
        f"the token in ${p.get('env')} is not a member of org '{p.get('org')}'. "
        f"{p.get('suggestion') or ''}Check the org id, or use a token of one of its owners or "
        "admins (an org may take its own from token_env)"),
    "already-applied": lambda p: (
        "plan already applied: the live state already holds every change it lists; nothing was "
        "changed"),
    "plan-differs": lambda p: (
        f"org {p.get('org')}: planned again from the manifest at hand and the live state now, "
        f"the changes are not the saved plan's (saved: {p.get('saved') or 'none'}; now: "
        f"{p.get('now') or 'none'}); nothing was changed there. Make a new plan with "
        "`mxsync plan --out FILE`, review it, and apply that"),
    "plan-stale": lambda p: (
        f"plan is stale for org {p.get('org')}: its live state changed since the plan; nothing "
        "was changed there. Run plan again"),
    "apply-error": lambda p: str(p.get("message") or "failed"),
    "no-token": lambda p: "no token",
    "forbidden": lambda p: (
        f"the token in ${p.get('env')} may not manage org {p.get('org')} (403: {p.get('detail')}); "
        "it may be locked to another organization. Use a token of this org (org token_env), or "
        "remove the org from the manifest"),
}


def sentence(reason: Reason) -> str:
    """Words for a reason, redacted and printable (params may carry text that came from the
    service: a display name, an error detail)."""
    render = _SENTENCES.get(reason.code)
    if render is None:
        return printable(redact(f"{reason.code} {reason.params}" if reason.params
                                else reason.code))
    return printable(redact(render(reason.params)))


def sentence_of(data: Any) -> str:
    """Words for a reason kept as plain data (`Reason.to_dict()`, in a step's or a finding's
    parameters); a code this version does not know renders as its code and parameters."""
    if not isinstance(data, dict):
        return printable(redact(str(data)))
    render = _SENTENCES.get(str(data.get("code")))
    raw = data.get("params")
    params: dict[str, Any] = raw if isinstance(raw, dict) else {}
    if render is None:
        return printable(redact(f"{data.get('code')} {params}" if params else str(data.get("code"))))
    return printable(redact(render(params)))
