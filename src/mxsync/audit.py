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

if TYPE_CHECKING:
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
    "key-untested": "warning",
    "model-missing": "error",
    "unreadable": "error",
}
LIVE_CHECKS = ("permission", "unreadable", "no-default", "unmanaged", "expired", "expiring",
               "unused")
MANIFEST_CHECKS = ("drift", "duplicate", "default-mismatch", "model-missing")
KEY_TEST_CHECKS = ("key-invalid", "key-untested")


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
    if creds and not any(c.is_default for c in creds):
        out.append(finding("no-default", org.id, None, (
            f"the org has {len(creds)} xai credential(s) but none is the default, so workflows "
            "without an explicit credential fail; set xai.default in the manifest and apply, "
            "or set one with POST /credentials/{id}/set-default")))
    for cred in creds:
        managed = (ownership.owned_by(cred.metadata, owner) if owner
                   else ownership.has_marker(cred.metadata))
        if not managed:
            whose = (f"managed by another owner ('{cred.metadata.get(ownership.OWNER)}')"
                     if ownership.has_marker(cred.metadata) else "not managed by mxsync")
            out.append(finding("unmanaged", org.id, _label(cred), (
                f"{whose}; bring it under management (`mxsync import --org {org.id} --adopt`) "
                "or delete it if nobody needs it")))
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


# Key age and minted keys (mxsync.minting.audit): their own codes, checked with a manifest.
from mxsync.minting.audit import MINT_CHECKS, MINT_SEVERITY  # noqa: E402

SEVERITY.update(MINT_SEVERITY)
MANIFEST_CHECKS = (*MANIFEST_CHECKS, *MINT_CHECKS)  # type: ignore[assignment]
