"""Audit findings in words: each finding's code and parameters as the advice people read.

The checks (`mxsync.audit`, `mxsync.minting.audit`) record codes and values only."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mxsync.render.keytest import audit_key_test_message
from mxsync.render.reasons import sentence_of
from mxsync.render.words import plural

if TYPE_CHECKING:
    from mxsync.audit import Finding


def _days(seconds: Any) -> str:
    s = int(seconds or 0)
    return f"{s // 86_400}d" if s >= 86_400 else f"{s // 3_600}h"


# An owner a manifest can carry (the manifest schema's `owner` pattern): only such a name
# goes into a command people may paste.
_OWNER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")


def _unmanaged(f: Finding) -> str:
    p = f.params
    other = p.get("other_owner")
    if other:
        return _other_owners(f, str(other))
    return (f"not managed by mxsync; bring it under management (`mxsync import --org {f.org} "
            f"--owner {p.get('owner') or 'OWNER'} --adopt -o imported.yaml`, then merge its "
            "entries into your manifest) or delete it if nobody needs it")


def _other_owners(f: Finding, other: str) -> str:
    """Another owner's credential: import for this manifest's owner leaves it out, and an
    `adopt_id` may not take it (the planner's `adopt-taken`), so what works is the manifest
    of that owner: an import with *its* owner holds it."""
    if not _OWNER_NAME.fullmatch(other):
        return (f"managed by another owner ('{other}'), a name no manifest can carry; delete it "
                "if nobody needs it")
    return (f"managed by another owner ('{other}'): that owner's manifest keeps it in line "
            f"(`mxsync audit -f` that manifest); if no manifest has owner '{other}' any more, "
            f"write one: `mxsync import --org {shlex.quote(f.org)} --owner {other} "
            f"-o mxsync-{other}.yaml`, set the key variable it lists, and `mxsync plan -f "
            f"mxsync-{other}.yaml` shows no changes; or delete it if nobody needs it")


def _unused(f: Finding) -> str:
    p = f.params
    if p.get("last_used_at"):
        return (f"last used {p['last_used_at']}, more than {p.get('unused_for_days')} days ago; "
                "delete it (remove the entry, prune) if it is no longer needed")
    return (f"never used since it was created on {p.get('created_at')}; delete it if it is "
            "not needed")


def _drift(f: Finding) -> str:
    p = f.params
    if p.get("action"):
        return (f"{p['action']}: {sentence_of(p.get('reason'))}; run `mxsync plan` to review and "
                "`mxsync apply`")
    return sentence_of(p.get("reason"))


def _rotation_due(f: Finding) -> str:
    p = f.params
    how = ("`mxsync apply` rotates it" if p.get("minted")
           else f"put a new key in {p.get('source')} and apply")
    return f"the key is {_days(p.get('age_s'))} old, rotate_after is {_days(p.get('rotate_after_s'))}; {how}"


_WORDS: dict[str, Callable[[Finding], str]] = {
    "assistant-dangling": lambda f: (
        f"the Assistant (model {f.params.get('model') or '?'}) is pinned to credential "
        f"{f.credential_id}, which no longer exists, so it cannot run; set xai.assistant in the "
        "manifest and apply, or pick a credential in the org's settings"),
    "no-default": lambda f: (
        f"the org has {plural(int(f.params.get('count') or 0), 'xai credential')} but none is the "
        "default, so workflows without an explicit credential fail; set xai.default in the "
        "manifest and apply, or set one with POST /credentials/{id}/set-default"),
    "unmanaged": _unmanaged,
    "expired": lambda f: (
        f"expired on {f.params.get('expires_at')}; rotate the key (new key, new expires_at) and "
        "apply"),
    "expiring": lambda f: (
        f"expires on {f.params.get('expires_at')} (in {f.params.get('days')} days); rotate it "
        "before then"),
    "unused": _unused,
    "duplicate": lambda f: (
        f"{f.params.get('count')} credentials claim entry '{f.credential_name}' "
        f"({', '.join(map(str, f.params.get('ids') or ()))}); `mxsync apply` keeps the one with "
        "the manifest's key and deletes the others"),
    "default-mismatch": lambda f: (
        f"the manifest's default is '{f.params.get('wanted')}' but the org's default is "
        f"{f.params.get('current') or 'none'}; `mxsync apply` sets it"),
    "model-missing": lambda f: (
        f"required model {f.params.get('model')} "
        f"{'(did you mean ' + str(f.params['closest']) + '?) ' if f.params.get('closest') else ''}"
        "is not in the org's xAI catalog (it has: "
        f"{', '.join(map(str, f.params.get('available') or ())) or 'none'}); update "
        "xai.require_models"),
    "unlisted": lambda f: (
        f"managed by owner '{f.params.get('owner')}' but no longer in the manifest, so nothing "
        "keeps it in line; put the entry back, or delete it with `prune: true` (or --prune) and "
        "apply"),
    "assistant-unmanaged": lambda f: (
        "the Assistant runs on a credential this manifest does not manage, so a change "
        "elsewhere can pull it away; set xai.assistant {model, credential} to an entry"),
    "drift": _drift,
    "policy": lambda f: f"{f.params.get('msg')} ({f.params.get('file')})",
    "permission": lambda f: sentence_of(f.params.get("reason")),
    "unreadable": lambda f: sentence_of(f.params.get("reason")),
    "key-invalid": lambda f: audit_key_test_message(f.params),
    "key-refused": lambda f: audit_key_test_message(f.params),
    "key-untested": lambda f: audit_key_test_message(f.params),
    "failing": lambda f: (
        f"{f.params.get('failed')} of its {f.params.get('total')} recent calls failed "
        f"({float(f.params.get('share') or 0):.0%}); the key may be revoked, disabled or out of "
        "credits: run `mxsync audit --test-keys` to see which, then rotate it"),
    "usage-unread": lambda f: (
        f"could not read its usage ({f.params.get('message')}), so whether its calls fail is "
        "unknown; try again later, or pass --no-usage if this service has no usage endpoint"),
    "xai-key-missing": lambda f: (
        f"its minted key {f.params.get('key_id')} is {f.params.get('state')} at xAI, so the "
        "credential cannot work; `mxsync apply` mints a new one (a rotation)"),
    "rotation-due": _rotation_due,
    "xai-orphan": lambda f: (
        f"key {f.params.get('key_id')} ({f.params.get('key_name')}) at xAI was minted by owner "
        f"'{f.params.get('owner')}' for this org but no credential holds it; `mxsync apply` "
        "deletes it"),
}


def finding_message(finding: Finding) -> str:
    """The finding's advice in words (renderers make it printable for their medium)."""
    words = _WORDS.get(str(finding.code))
    return words(finding) if words else f"{finding.code} {finding.params}"
