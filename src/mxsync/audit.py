"""Audit findings: what is out of line in an org, each with a stable code and advice.

Pure checks over the live state (and, with a manifest, over the plan). The reading
is done by `flows/audit.py`; rendering by `render/`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from mxsync import ownership
from mxsync.manifest.model import OrgEntry, parse_instant
from mxsync.render.words import plural

if TYPE_CHECKING:
    from mxsync.keytest import KeyTestResult
    from mxsync.plan import OrgPlan
    from mxsync.state import LiveCredential, LiveOrg

Severity = Literal["error", "warning"]
SEVERITY: dict[str, Severity] = {
    "permission": "error",
    "drift": "error",
    "duplicate": "error",
    "default-mismatch": "error",
    "no-default": "error",
    "unmanaged": "warning",
    "expired": "error",
    "expiring": "warning",
    "unused": "warning",
    "key-invalid": "error",
    "key-refused": "error",
    "key-untested": "warning",
    "failing": "warning",
    "usage-unread": "warning",
    "model-missing": "error",
    "unreadable": "error",
    "unlisted": "warning",
    "assistant-dangling": "error",
    "assistant-unmanaged": "warning",
}
LIVE_CHECKS = ("permission", "unreadable", "no-default", "unmanaged", "expired", "expiring",
               "unused", "assistant-dangling")
MANIFEST_CHECKS: tuple[str, ...] = ("drift", "duplicate", "default-mismatch", "model-missing",
                                    "unlisted", "assistant-unmanaged")
KEY_TEST_CHECKS = ("key-invalid", "key-refused", "key-untested")
USAGE_CHECKS = ("failing", "usage-unread")


@dataclass(frozen=True, order=True)
class Finding:
    org: str
    code: str
    credential: str | None
    message: str
    severity: Severity = field(default="error", compare=False)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def checks_for(with_manifest: bool, options: AuditOptions) -> list[str]:
    """The checks an audit ran: each is a JUnit test case, passed when it found nothing."""
    checks = list(LIVE_CHECKS) + (list(MANIFEST_CHECKS) if with_manifest else [])
    checks += list(USAGE_CHECKS) if options.read_usage else []
    return checks + (list(KEY_TEST_CHECKS) if options.test_keys else [])


def finding(code: str, org: str, credential: str | None, message: str) -> Finding:
    return Finding(org=org, code=code, credential=credential, message=message,
                   severity=SEVERITY[code])


@dataclass(frozen=True)
class AuditOptions:
    as_of: datetime
    expiring_within_days: int = 30
    unused_for_days: int = 90
    test_keys: bool = False
    # `GET /credentials/{id}/usage`: free at xAI, but one ModuleX call per credential.
    read_usage: bool = True
    failing_ratio: float = 0.5  # `failing`: at least this share of the recent calls failed
    failing_min_calls: int = 20  # ... out of at least this many (fewer say nothing)


@dataclass
class AuditResult:
    orgs: list[str]
    checks: list[str]
    findings: list[Finding]

    def ordered(self) -> list[Finding]:
        """In the order the orgs were audited (the manifest's), then by code."""
        rank = {org: i for i, org in enumerate(self.orgs)}
        return sorted(self.findings, key=lambda f: (rank.get(f.org, len(rank)), f))

    def summary(self) -> dict[str, int]:
        errors = sum(f.severity == "error" for f in self.findings)
        return {"orgs": len(self.orgs), "errors": errors, "warnings": len(self.findings) - errors}

    def exit_code(self, fail_on: str) -> int:
        s = self.summary()
        if fail_on == "never":
            return 0
        if fail_on == "warning":
            return 1 if s["errors"] or s["warnings"] else 0
        return 1 if s["errors"] else 0

    def to_json(self) -> dict[str, Any]:
        return {"findings": [f.to_json() for f in self.ordered()],
                "summary": self.summary(), "checks": self.checks}


def _label(cred: LiveCredential) -> str:
    return f"{cred.display_name} ({cred.id})"


def _instant(text: str | None) -> datetime | None:
    try:
        return parse_instant(text) if text else None
    except ValueError:
        return None


def live_findings(org: LiveOrg, options: AuditOptions, owner: str | None) -> list[Finding]:
    """Checks that need no manifest. `owner` set: "unmanaged" means not this owner's."""
    out: list[Finding] = []
    creds = org.credentials
    pinned = org.pinned_id()
    if pinned and pinned not in {c.id for c in creds}:
        pin = org.settings.assistant if org.settings else None
        if pin is None or pin.integration_name in (None, "xai"):
            out.append(finding("assistant-dangling", org.id, pinned, (
                f"the Assistant (model {pin.model_id if pin else '?'}) is pinned to credential "
                f"{pinned}, which no longer exists, so it cannot run; set xai.assistant in the "
                "manifest and apply, or pick a credential in the org's settings")))
    if creds and not any(c.is_default for c in creds):
        out.append(finding("no-default", org.id, None, (
            f"the org has {plural(len(creds), 'xai credential')} but none is the default, so workflows "
            "without an explicit credential fail; set xai.default in the manifest and apply, "
            "or set one with POST /credentials/{id}/set-default")))
    for cred in creds:
        managed = (ownership.owned_by(cred.metadata, owner) if owner
                   else ownership.has_marker(cred.metadata))
        if not managed:
            whose = (f"managed by another owner ('{cred.metadata.get(ownership.OWNER)}')"
                     if ownership.has_marker(cred.metadata) else "not managed by mxsync")
            out.append(finding("unmanaged", org.id, _label(cred), (
                f"{whose}; bring it under management (`mxsync import --org {org.id} --owner "
                f"{owner or 'OWNER'} --adopt -o imported.yaml`, then merge its entries into your "
                "manifest) or delete it if nobody needs it")))
        expires = _instant(cred.expires_at)
        if expires is not None:
            if expires <= options.as_of:
                out.append(finding("expired", org.id, _label(cred), (
                    f"expired on {cred.expires_at}; rotate the key (new key, new expires_at) "
                    "and apply")))
            elif expires <= options.as_of + timedelta(days=options.expiring_within_days):
                days = (expires - options.as_of).days
                out.append(finding("expiring", org.id, _label(cred), (
                    f"expires on {cred.expires_at} (in {days} days); rotate it before then")))
        last_used, created = _instant(cred.last_used_at), _instant(cred.created_at)
        horizon = options.as_of - timedelta(days=options.unused_for_days)
        if last_used is not None and last_used < horizon:
            out.append(finding("unused", org.id, _label(cred), (
                f"last used {cred.last_used_at}, more than {options.unused_for_days} days ago; "
                "delete it (remove the entry, prune) if it is no longer needed")))
        elif last_used is None and created is not None and created < horizon:
            out.append(finding("unused", org.id, _label(cred), (
                f"never used since it was created on {cred.created_at}; delete it if it is "
                "not needed")))
    return out


def manifest_findings(entry: OrgEntry, owner: str, live: LiveOrg, plan: OrgPlan
                      ) -> list[Finding]:
    """Checks against the manifest: drift (the plan is not empty), duplicates, the default,
    required models."""
    out: list[Finding] = []
    claims: dict[str, list[LiveCredential]] = {}
    for cred in live.credentials:
        claimed_owner, name = cred.claim()
        if claimed_owner == owner and name:
            claims.setdefault(name, []).append(cred)
    for name, creds in sorted(claims.items()):
        if len(creds) > 1:
            ids = ", ".join(c.id for c in creds)
            out.append(finding("duplicate", live.id, name, (
                f"{len(creds)} credentials claim entry '{name}' ({ids}); `mxsync apply` keeps the "
                "one with the manifest's key and deletes the others")))
    if entry.default:
        holders = [c for c in live.credentials if c.is_default]
        wanted = [c for c in holders if c.claim() == (owner, entry.default)]
        if not wanted:
            current = _label(holders[0]) if holders else "none"
            out.append(finding("default-mismatch", live.id, entry.default, (
                f"the manifest's default is '{entry.default}' but the org's default is "
                f"{current}; `mxsync apply` sets it")))
    if entry.require_models and live.models is not None:
        for model in entry.require_models:
            if model not in live.models:
                out.append(finding("model-missing", live.id, None, (
                    f"required model {model} is not in the org's xAI catalog (it has: "
                    f"{', '.join(live.models) or 'none'}); update xai.require_models")))
    from mxsync.render.reasons import sentence

    for name in plan.orphans:
        out.append(finding("unlisted", live.id, name, (
            f"managed by owner '{owner}' but no longer in the manifest, so nothing keeps it in "
            "line; put the entry back, or delete it with `prune: true` (or --prune) and apply")))
    pinned = live.pinned_id()
    on = next((c for c in live.credentials if c.id == pinned), None)
    if on is not None and on.claim()[0] != owner:
        out.append(finding("assistant-unmanaged", live.id, _label(on), (
            "the Assistant runs on a credential this manifest does not manage, so a change "
            "elsewhere can pull it away; set xai.assistant {model, credential} to an entry")))
    for change in plan.changes:
        if change.action == "set-default" or change.reason.code == "duplicate":
            continue  # reported above, with their own codes
        out.append(finding("drift", live.id, change.name, (
            f"{change.action}: {sentence(change.reason)}; run `mxsync plan` to review and "
            "`mxsync apply`")))
    for error in plan.errors:
        if error.code != "models-missing":  # reported above as model-missing
            out.append(finding("drift", live.id, None, sentence(error)))
    return out


def key_test_finding(org: str, cred: LiveCredential, result: KeyTestResult) -> Finding | None:
    """What `POST /credentials/{id}/test` said, as a finding: a wrong key (`key-invalid`) and
    a real key xAI will not serve now (`key-refused`) need different fixes; a test that could
    not be made (busy, unreachable, ModuleX's endpoint failing) says nothing about the key."""
    from mxsync.keytest import Refusal, Verdict

    said = f" ({result.reason})" if result.reason else ""
    if result.verdict is Verdict.VALID:
        return None
    if result.verdict is Verdict.REJECTED:
        return finding("key-invalid", org, _label(cred), (
            f"xAI rejected the stored key{_http(result)}: it is wrong, unknown or deleted{said}; "
            "rotate it: put a working key in the manifest's variable and apply"))
    if result.verdict is Verdict.REFUSED:
        why = {Refusal.NO_CREDITS: "its xAI team has no credits left or reached its monthly "
                                   "spending limit; add credits or raise the limit",
               Refusal.DISABLED: "the key or its xAI team is disabled or blocked; enable it or "
                                 "rotate to another key",
               None: "the key is disabled or its xAI team has no credits; check both in the "
                     "xAI console"}[result.refusal]
        return finding("key-refused", org, _label(cred), (
            f"xAI refused the stored key{_http(result)}: the key is real but {why}{said}"))
    return finding("key-untested", org, _label(cred), (
        f"{result.describe()}; this says nothing about the key; try again later"))


def _http(result: KeyTestResult) -> str:
    return f" (HTTP {result.status_code})" if result.status_code else ""


def usage_finding(org: str, cred: LiveCredential, usage: dict[str, Any],
                  options: AuditOptions) -> Finding | None:
    """`failing`: most of the credential's recent calls failed (from its usage counts, which
    cost nothing at xAI). The counts are used, not `success_rate`, whose scale (0-1 or
    0-100) no public source fixes; too few calls say nothing."""
    total = _count(usage.get("total_calls"))
    failed = _count(usage.get("failed_calls"))
    if failed is None and total is not None:
        ok = _count(usage.get("successful_calls"))
        failed = None if ok is None else max(0, total - ok)
    if not total or failed is None or total < options.failing_min_calls:
        return None
    share = min(failed, total) / total
    if share < options.failing_ratio:
        return None
    return finding("failing", org, _label(cred), (
        f"{failed} of its {total} recent calls failed ({share:.0%}); the key may be revoked, "
        "disabled or out of credits: run `mxsync audit --test-keys` to see which, then rotate it"))


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def usage_unread(org: str, cred: LiveCredential, why: str) -> Finding:
    return finding("usage-unread", org, _label(cred), (
        f"could not read its usage ({why}), so whether its calls fail is unknown; "
        "try again later, or pass --no-usage if this service has no usage endpoint"))


# Key age and minted keys (mxsync.minting.audit): their own codes, checked with a manifest.
from mxsync.minting.audit import MINT_CHECKS, MINT_SEVERITY  # noqa: E402

SEVERITY.update(MINT_SEVERITY)
MANIFEST_CHECKS = (*MANIFEST_CHECKS, *MINT_CHECKS)
