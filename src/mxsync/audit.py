"""Audit findings: what is out of line in an org, each a stable code, the credential it is
about (name and id apart) and the values its advice is made of.

Pure checks over the live state (and, with a manifest, over the plan). The reading is done
by `flows/audit.py`, which also registers the checks of credential kinds
(`mxsync.minting.audit.MINT_CHECKS`) with `checks_for`; the words are `render.findings`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from mxsync import ownership
from mxsync.manifest.model import OrgEntry, parse_instant
from mxsync.model_ids import closest_model
from mxsync.outcomes import key_test_params
from mxsync.plan import Action, ReasonCode

if TYPE_CHECKING:
    from mxsync.keytest import KeyTestResult
    from mxsync.plan import OrgPlan
    from mxsync.state import LiveCredential, LiveOrg

Severity = Literal["error", "warning"]


class FindingCode(StrEnum):
    """What an audit found; `render.findings` words each from the finding's parameters."""

    PERMISSION = "permission"
    UNREADABLE = "unreadable"
    NO_DEFAULT = "no-default"
    UNMANAGED = "unmanaged"
    EXPIRED = "expired"
    EXPIRING = "expiring"
    UNUSED = "unused"
    ASSISTANT_DANGLING = "assistant-dangling"
    DRIFT = "drift"
    DUPLICATE = "duplicate"
    DEFAULT_MISMATCH = "default-mismatch"
    MODEL_MISSING = "model-missing"
    UNLISTED = "unlisted"
    ASSISTANT_UNMANAGED = "assistant-unmanaged"
    FAILING = "failing"
    USAGE_UNREAD = "usage-unread"
    KEY_INVALID = "key-invalid"
    KEY_REFUSED = "key-refused"
    KEY_UNTESTED = "key-untested"
    # key age and minted keys (mxsync.minting.audit)
    ROTATION_DUE = "rotation-due"
    XAI_KEY_MISSING = "xai-key-missing"
    XAI_ORPHAN = "xai-orphan"
    # a house rule (mxsync.flows.policy): a policy's deny or warn
    POLICY = "policy"


@dataclass(frozen=True)
class Finding:
    """One thing out of line: a code, the credential concerned (its name, its id, either or
    neither), and the values the finding's words are made of."""

    org: str
    code: FindingCode
    severity: Severity = "error"
    credential_name: str | None = None  # a live credential's display name, or an entry's name
    credential_id: str | None = None  # a live credential's id
    params: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def credential(self) -> str | None:
        """The credential as a table shows it: `NAME (ID)`, or whichever of the two is known."""
        if self.credential_name is not None and self.credential_id is not None:
            return f"{self.credential_name} ({self.credential_id})"
        return self.credential_name if self.credential_name is not None else self.credential_id


@dataclass(frozen=True)
class Check:
    """One audit check: its finding code, how serious a finding is, and what it needs."""

    code: FindingCode
    severity: Severity
    needs: Literal["live", "manifest", "usage", "key-test"]

    def found(self, org: str, cred: LiveCredential | None = None, *, name: str | None = None,
              cred_id: str | None = None, **params: Any) -> Finding:
        """A finding of this check; `cred` names a live credential (name and id)."""
        if cred is not None:
            name, cred_id = cred.display_name, cred.id
        return Finding(org, self.code, self.severity, name, cred_id, params)


def _check(code: FindingCode, severity: Severity,
           needs: Literal["live", "manifest", "usage", "key-test"]) -> Check:
    return Check(code, severity, needs)


C = FindingCode
PERMISSION = _check(C.PERMISSION, "error", "live")
UNREADABLE = _check(C.UNREADABLE, "error", "live")
NO_DEFAULT = _check(C.NO_DEFAULT, "error", "live")
UNMANAGED = _check(C.UNMANAGED, "warning", "live")
EXPIRED = _check(C.EXPIRED, "error", "live")
EXPIRING = _check(C.EXPIRING, "warning", "live")
UNUSED = _check(C.UNUSED, "warning", "live")
ASSISTANT_DANGLING = _check(C.ASSISTANT_DANGLING, "error", "live")
DRIFT = _check(C.DRIFT, "error", "manifest")
DUPLICATE = _check(C.DUPLICATE, "error", "manifest")
DEFAULT_MISMATCH = _check(C.DEFAULT_MISMATCH, "error", "manifest")
MODEL_MISSING = _check(C.MODEL_MISSING, "error", "manifest")
UNLISTED = _check(C.UNLISTED, "warning", "manifest")
ASSISTANT_UNMANAGED = _check(C.ASSISTANT_UNMANAGED, "warning", "manifest")
FAILING = _check(C.FAILING, "warning", "usage")
USAGE_UNREAD = _check(C.USAGE_UNREAD, "warning", "usage")
KEY_INVALID = _check(C.KEY_INVALID, "error", "key-test")
KEY_REFUSED = _check(C.KEY_REFUSED, "error", "key-test")
KEY_UNTESTED = _check(C.KEY_UNTESTED, "warning", "key-test")
# The core's checks, in the order an audit lists them; a credential kind brings its own
# (`mxsync.minting.audit.MINT_CHECKS`), which the audit flow passes to `checks_for`.
CORE_CHECKS: tuple[Check, ...] = (
    PERMISSION, UNREADABLE, NO_DEFAULT, UNMANAGED, EXPIRED, EXPIRING, UNUSED, ASSISTANT_DANGLING,
    DRIFT, DUPLICATE, DEFAULT_MISMATCH, MODEL_MISSING, UNLISTED, ASSISTANT_UNMANAGED,
    FAILING, USAGE_UNREAD, KEY_INVALID, KEY_REFUSED, KEY_UNTESTED)


# The checks that need the org's settings (`GET /organizations/settings`, one call per org):
# they run where the settings are read (`settings_needed`), and only there.
SETTINGS_CHECKS = frozenset({C.ASSISTANT_DANGLING, C.ASSISTANT_UNMANAGED})


def checks_for(with_manifest: bool, options: AuditOptions, kinds: Sequence[Check] = (),
               settings_read: bool = True) -> list[str]:
    """The checks an audit ran, each a JUnit test case (passed when it found nothing):
    the core's and the credential kinds' `kinds`, those that need a manifest only with one,
    those that need settings only when some org's were read."""
    ran = {"live": True, "manifest": with_manifest, "usage": options.read_usage,
           "key-test": options.test_keys}
    order = ("live", "manifest", "usage", "key-test")
    every = [c for c in list(CORE_CHECKS) + list(kinds)
             if settings_read or c.code not in SETTINGS_CHECKS]
    return [str(c.code) for need in order if ran[need] for c in every if c.needs == need]


def settings_needed(manages_settings: bool, options: AuditOptions) -> bool:
    """Whether an org's settings are read: where the manifest sets the org's visible models or
    its Assistant (the plan's drift needs them, and the Assistant's checks then run), or for
    every org with `--check-assistant`. Elsewhere the Assistant's checks are skipped: at one
    call per org they cost as much as the credential lists, for a pin nobody declared."""
    return manages_settings or options.check_assistant


def per_credential_calls(options: AuditOptions) -> int:
    """ModuleX calls an audit makes per live credential once the org is read."""
    return int(options.read_usage) + int(options.test_keys)


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
    # Read every org's settings for the Assistant's checks, also where the manifest does not
    # set them (`settings_needed`).
    check_assistant: bool = False


@dataclass(frozen=True)
class CodeCount:
    """One row of the by-code summary: a code, its severity, its findings and their orgs."""

    code: str
    severity: Severity
    findings: int
    orgs: int


@dataclass
class AuditResult:
    orgs: list[str]
    checks: list[str]
    findings: list[Finding]

    def ordered(self) -> list[Finding]:
        """In the order the orgs were audited (the manifest's), then by code, credential and
        words."""
        from mxsync.render.findings import finding_message

        rank = {org: i for i, org in enumerate(self.orgs)}
        return sorted(self.findings, key=lambda f: (rank.get(f.org, len(rank)), f.org, f.code,
                                                    f.credential or "", finding_message(f)))

    def summary(self) -> dict[str, int]:
        errors = sum(f.severity == "error" for f in self.findings)
        return {"orgs": len(self.orgs), "errors": errors, "warnings": len(self.findings) - errors}

    def by_code(self) -> list[CodeCount]:
        """How many findings of each code (and severity), and in how many orgs: errors first,
        then the commonest. At a hundred orgs the table of findings is long; this is what a
        nightly job's summary leads with."""
        counts: dict[tuple[str, Severity], tuple[int, set[str]]] = {}
        for f in self.findings:
            n, orgs = counts.get((str(f.code), f.severity), (0, set()))
            orgs.add(f.org)
            counts[(str(f.code), f.severity)] = (n + 1, orgs)
        rows = [CodeCount(code, severity, n, len(orgs))
                for (code, severity), (n, orgs) in counts.items()]
        return sorted(rows, key=lambda r: (r.severity != "error", -r.findings, r.code))

    def exit_code(self, fail_on: str) -> int:
        return 1 if any(fails_run(f, fail_on) for f in self.findings) else 0


def fails_run(finding: Finding, fail_on: str) -> bool:
    """Whether this finding makes the run fail under `--fail-on` (error, warning or never): the
    exit code and JUnit's `<failure>` elements both ask this, so they cannot disagree."""
    if fail_on == "never":
        return False
    return fail_on == "warning" or finding.severity == "error"


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
            out.append(ASSISTANT_DANGLING.found(org.id, cred_id=pinned,
                                                model=pin.model_id if pin else None))
    if creds and not any(c.is_default for c in creds):
        out.append(NO_DEFAULT.found(org.id, count=len(creds)))
    for cred in creds:
        managed = (ownership.owned_by(cred.metadata, owner) if owner
                   else ownership.has_marker(cred.metadata))
        if not managed:
            other = (str(cred.metadata.get(ownership.OWNER))
                     if ownership.has_marker(cred.metadata) else None)
            out.append(UNMANAGED.found(org.id, cred, other_owner=other, owner=owner))
        expires = _instant(cred.expires_at)
        if expires is not None:
            if expires <= options.as_of:
                out.append(EXPIRED.found(org.id, cred, expires_at=cred.expires_at))
            elif expires <= options.as_of + timedelta(days=options.expiring_within_days):
                out.append(EXPIRING.found(org.id, cred, expires_at=cred.expires_at,
                                          days=(expires - options.as_of).days))
        last_used, created = _instant(cred.last_used_at), _instant(cred.created_at)
        horizon = options.as_of - timedelta(days=options.unused_for_days)
        if last_used is not None and last_used < horizon:
            out.append(UNUSED.found(org.id, cred, last_used_at=cred.last_used_at,
                                    unused_for_days=options.unused_for_days))
        elif last_used is None and created is not None and created < horizon:
            out.append(UNUSED.found(org.id, cred, last_used_at=None, created_at=cred.created_at))
    return out


# Plan reasons that findings of their own report, so audit need not repeat them as drift.
_REPORTED_AS_THEMSELVES = frozenset({ReasonCode.DUPLICATE})


def manifest_findings(entry: OrgEntry, owner: str, live: LiveOrg, plan: OrgPlan,
                      reported: frozenset[str] = frozenset()) -> list[Finding]:
    """Checks against the manifest: drift (the plan is not empty), duplicates, the default,
    required models. `reported`: plan reasons a credential kind's own checks report."""
    out: list[Finding] = []
    claims: dict[str, list[LiveCredential]] = {}
    for cred in live.credentials:
        claimed_owner, name = cred.claim()
        if claimed_owner == owner and name:
            claims.setdefault(name, []).append(cred)
    for name, creds in sorted(claims.items()):
        if len(creds) > 1:
            out.append(DUPLICATE.found(live.id, name=name, count=len(creds),
                                       ids=[c.id for c in creds]))
    if entry.default:
        holders = [c for c in live.credentials if c.is_default]
        wanted = [c for c in holders if c.claim() == (owner, entry.default)]
        if not wanted:
            current = (f"{holders[0].display_name} ({holders[0].id})" if holders else None)
            out.append(DEFAULT_MISMATCH.found(live.id, name=entry.default, wanted=entry.default,
                                              current=current))
    if entry.require_models and live.models is not None:
        for model in entry.require_models:
            if model not in live.models:
                out.append(MODEL_MISSING.found(
                    live.id, model=model, available=list(live.models),
                    closest=closest_model(model, live.models, dict(live.model_names))))
    for name in plan.orphans:
        out.append(UNLISTED.found(live.id, name=name, owner=owner))
    pinned = live.pinned_id()
    on = next((c for c in live.credentials if c.id == pinned), None)
    if on is not None and on.claim()[0] != owner:
        out.append(ASSISTANT_UNMANAGED.found(live.id, on))
    for change in plan.changes:
        if (change.action == Action.SET_DEFAULT or change.reason.code in _REPORTED_AS_THEMSELVES
                or change.reason.code in reported):
            continue  # reported above, or by a kind's checks, with their own codes
        out.append(DRIFT.found(live.id, name=change.name, action=str(change.action),
                               reason=change.reason.to_dict()))
    for error in plan.errors:
        if error.code != ReasonCode.MODELS_MISSING:  # reported above as model-missing
            out.append(DRIFT.found(live.id, reason=error.to_dict()))
    return out


def key_test_finding(org: str, cred: LiveCredential, result: KeyTestResult) -> Finding | None:
    """What `POST /credentials/{id}/test` said, as a finding: a wrong key (`key-invalid`) and
    a real key xAI will not serve now (`key-refused`) need different fixes; a test that could
    not be made (busy, unreachable, ModuleX's endpoint failing) says nothing about the key."""
    from mxsync.keytest import Verdict

    if result.verdict is Verdict.VALID:
        return None
    check = {Verdict.REJECTED: KEY_INVALID, Verdict.REFUSED: KEY_REFUSED}.get(result.verdict,
                                                                             KEY_UNTESTED)
    return check.found(org, cred, **key_test_params(result))


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
    return FAILING.found(org, cred, failed=failed, total=total, share=share)


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def usage_unread(org: str, cred: LiveCredential, why: str) -> Finding:
    return USAGE_UNREAD.found(org, cred, message=why)
