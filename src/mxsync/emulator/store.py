"""The emulated ModuleX world: users, orgs, credentials, and the service's rules.

Plain Python with no HTTP in it, so the rules (one default per integration, the
first credential becomes default, masked detail, ...) read like the service's
contract. The HTTP layer in `app.py` only translates.

All mutations run on the server's single event loop without awaiting in the
middle, which is what makes 200 concurrent creates end with exactly one default.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mxsync.emulator.xai_world import XaiWorld

XAI_KEY_RE = re.compile(r"^xai-[a-zA-Z0-9\-_]{20,}$")
BASE_URL_RE = re.compile(r"^https?://.*")
DEFAULT_XAI_BASE_URL = "https://api.x.ai/v1"
MANAGE_ROLES = frozenset({"owner", "admin"})


class FixtureError(ValueError):
    """A fixture (file or `POST /_emulator/world`) that does not describe a possible world."""


class ApiError(Exception):
    """An answer of the service in FastAPI's shape: status + `{"detail": ...}`."""

    def __init__(self, status: int, detail: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def normalize_timestamp(value: str) -> str:
    """Accept any ISO-8601 instant and store it in one UTC form, like a database would."""
    text = value.strip()
    parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).isoformat().replace("+00:00", "Z")


# The catalog as the product page lists it. Prices are the recorded xAI rates.
XAI_MODELS: list[dict[str, Any]] = [
    {
        "id": "grok-4-0709",
        "name": "grok-4-0709",
        "display_name": "Grok 4",
        "max_input_tokens": 256_000,
        "max_output_tokens": 256_000,
        "context_length": 256_000,
        "supports_vision": True,
        "pricing": {"input_per_million": 3.00, "output_per_million": 15.00, "currency": "USD"},
    },
    {
        "id": "grok-code-fast-1",
        "name": "grok-code-fast-1",
        "display_name": "Grok Code Fast",
        "max_input_tokens": 256_000,
        "max_output_tokens": 10_000,
        "context_length": 256_000,
        "supports_vision": False,
        "pricing": {"input_per_million": 0.20, "output_per_million": 1.50, "currency": "USD"},
    },
    {
        "id": "grok-4-fast",
        "name": "grok-4-fast",
        "display_name": "Grok 4 Fast",
        "max_input_tokens": 2_000_000,
        "max_output_tokens": 30_000,
        "context_length": 2_000_000,
        "supports_vision": True,
        "pricing": {"input_per_million": 0.20, "output_per_million": 0.50, "currency": "USD"},
    },
]

XAI_AUTH_SCHEMA: dict[str, Any] = {
    "auth_type": "api_key",
    "display_name": "API Key Authentication",
    "description": "Your xAI API key from the xAI Console (API Keys -> Create new API key).",
    "setup_environment_variables": [
        {
            "name": "api_key",
            "display_name": "API Key",
            "required": True,
            "sensitive": True,
            "pattern": XAI_KEY_RE.pattern,
            "sample_format": "xai-" + "x" * 40,
        },
        {
            "name": "base_url",
            "display_name": "Base URL",
            "required": False,
            "sensitive": False,
            "pattern": BASE_URL_RE.pattern,
            "default": DEFAULT_XAI_BASE_URL,
        },
    ],
    "setup_instructions": ["Create a key in the xAI Console under API Keys."],
    "required_scopes": [],
    "important_notes": ["Stored encrypted and never returned in plaintext."],
}

# Integrations the emulator knows. Only xAI is modelled in depth; the others exist
# so that a fixture can hold non-xAI credentials that mxsync must leave alone.
INTEGRATIONS: dict[str, dict[str, Any]] = {
    "xai": {"display_name": "xAI", "integration_type": "llm"},
    "openai": {"display_name": "OpenAI", "integration_type": "llm"},
    "anthropic": {"display_name": "Anthropic", "integration_type": "llm"},
    "github": {"display_name": "GitHub", "integration_type": "tool"},
}


@dataclass
class User:
    token: str
    id: str
    email: str
    memberships: dict[str, str] = field(default_factory=dict)
    username: str | None = None
    # The API key's own limit; None = the emulator's `--rate-limit` (default: unlimited).
    rate_limit_per_minute: int | None = None
    # Test-only: the window the limit applies to; None = `--rate-window-s` (default 60).
    rate_limit_window_s: float | None = None
    # An API key locked to one organization: any other X-Organization-ID gets 403.
    locked_to_org: str | None = None


@dataclass
class Origin:
    """Who made a change, for the credential's audit log."""

    user_id: str | None = None
    ip_address: str | None = None
    user_agent: str | None = None


@dataclass
class Org:
    id: str
    name: str
    created_at: str = field(default_factory=now_iso)
    # `GET /organizations/settings`: the models members see, per integration (an integration
    # that is absent shows the provider's full list), and the Assistant's model and credential.
    llm_model_visibility: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    composer_llm: dict[str, Any] | None = None

    def settings(self) -> dict[str, Any]:
        return {
            "llm_model_visibility": {k: [dict(m) for m in v]
                                     for k, v in self.llm_model_visibility.items()},
            "composer_llm": dict(self.composer_llm) if self.composer_llm else None,
        }


@dataclass
class Credential:
    credential_id: str
    organization_id: str
    integration_name: str
    integration_type: str | None
    display_name: str
    auth_type: str
    api_key: str
    base_url: str | None
    is_default: bool
    created_at: str
    updated_at: str
    last_used_at: str | None
    expires_at: str | None
    metadata: dict[str, Any] | None
    created_by: str | None
    created_by_email: str | None
    # How the credential fared in real calls: {total_calls, successful_calls, failed_calls,
    # action_breakdown}; None = never used. Only a fixture sets it: the emulator makes no calls.
    usage: dict[str, Any] | None = None
    audit: list[dict[str, Any]] = field(default_factory=list)  # oldest first

    def public(self) -> dict[str, Any]:
        """`CredentialResponse`: everything but the secret."""
        return {
            "credential_id": self.credential_id,
            "integration_name": self.integration_name,
            "integration_type": self.integration_type,
            "display_name": self.display_name,
            "auth_type": self.auth_type,
            "is_default": self.is_default,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "last_used_at": self.last_used_at,
            "expires_at": self.expires_at,
            "credentials_metadata": self.metadata,
        }

    def detail(self, include_masked: bool) -> dict[str, Any]:
        masked = None
        if include_masked:
            masked = f"{self.api_key[:8]}...{self.api_key[-4:]}"
        return {
            **self.public(),
            "organization_id": self.organization_id,
            "created_by": self.created_by,
            "created_by_email": self.created_by_email,
            "auth_data_masked": masked,
        }


class World:
    """Users, orgs and credentials, with the service's rules as methods."""

    def __init__(self) -> None:
        self.users: dict[str, User] = {}  # by token
        self.orgs: dict[str, Org] = {}
        self.credentials: dict[str, Credential] = {}  # by id, insertion-ordered
        self.by_org: dict[str, dict[str, Credential]] = {}  # org -> id -> credential, ordered
        self.xai = XaiWorld()
        self.state_file: Path | None = None
        # True once any user has a rate limit: lets the rate-limit layer skip all work
        # for a world where nobody is limited.
        self.has_rate_limits = False
        # What a call without X-Organization-ID gets (a server option, not saved state).
        self.missing_org_status = 400

    # -- loading and saving -------------------------------------------------
    def merge_fixture(self, doc: dict[str, Any]) -> None:
        """Add a fixture (the format in the contract doc) to the world."""
        for raw in doc.get("users") or []:
            token = str(raw["token"])
            user = self.users.get(token) or User(
                token=token,
                id=str(raw.get("id") or f"u-{uuid.uuid4().hex[:8]}"),
                email=str(raw.get("email") or "user@example.com"),
                username=raw.get("username"),
            )
            user.memberships.update({str(k): str(v) for k, v in (raw.get("memberships") or {}).items()})
            if "rate_limit_per_minute" in raw:
                user.rate_limit_per_minute = _positive(raw, "rate_limit_per_minute", int)
            if "rate_limit_window_s" in raw:
                user.rate_limit_window_s = _positive(raw, "rate_limit_window_s", float)
            if "locked_to_org" in raw:
                locked = raw["locked_to_org"]
                user.locked_to_org = None if locked is None else str(locked)
            self.users[token] = user
        self.has_rate_limits = any(u.rate_limit_per_minute for u in self.users.values())
        for raw in doc.get("orgs") or []:
            org_id = str(raw["id"])
            org = self.orgs.setdefault(org_id, Org(id=org_id, name=str(raw.get("name") or org_id)))
            for cred in raw.get("credentials") or []:
                self._load_credential(org_id, cred)
            if raw.get("settings") is not None:
                _load_settings(org, raw["settings"])
        try:
            self.xai.merge(doc.get("xai") or {})
        except ValueError as exc:
            raise FixtureError(f"xai: {exc}") from None
        self.save()

    def _load_credential(self, org_id: str, raw: dict[str, Any]) -> None:
        name = str(raw.get("integration_name") or "xai")
        info = INTEGRATIONS.get(name, {"display_name": name, "integration_type": None})
        stamp = now_iso()
        cred = Credential(
            credential_id=str(raw.get("credential_id") or uuid.uuid4()),
            organization_id=org_id,
            integration_name=name,
            integration_type=info["integration_type"],
            display_name=str(raw.get("display_name") or info["display_name"]),
            auth_type=str(raw.get("auth_type") or "api_key"),
            api_key=str(raw.get("api_key") or ""),
            base_url=raw.get("base_url"),
            is_default=False,
            created_at=str(raw.get("created_at") or stamp),
            updated_at=str(raw.get("updated_at") or stamp),
            last_used_at=raw.get("last_used_at"),
            expires_at=normalize_timestamp(raw["expires_at"]) if raw.get("expires_at") else None,
            metadata=raw.get("metadata"),
            created_by=raw.get("created_by"),
            created_by_email=raw.get("created_by_email"),
            usage=_usage(raw.get("usage"), org_id),
        )
        self._add(cred)
        # To the letter: `is_default: false` everywhere is an org without a default (as after
        # deleting it). Only a credential that does not say is promoted, and only when it is
        # its integration's first, as the service does on create.
        if raw.get("is_default") or ("is_default" not in raw and not self._others(cred)):
            self._make_default(cred)

    def to_json(self) -> dict[str, Any]:
        return {
            "users": [asdict(u) for u in self.users.values()],
            "orgs": [asdict(o) for o in self.orgs.values()],
            "credentials": [asdict(c) for c in self.credentials.values()],
            "xai": self.xai.to_json(),
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> World:
        world = cls()
        world.users = {u["token"]: User(**u) for u in doc.get("users", [])}
        world.has_rate_limits = any(u.rate_limit_per_minute for u in world.users.values())
        world.orgs = {o["id"]: Org(**o) for o in doc.get("orgs", [])}
        for raw in doc.get("credentials", []):
            world._add(Credential(**raw))
        world.xai = XaiWorld.from_json(doc.get("xai") or {})
        return world

    def save(self) -> None:
        """Write the world atomically (temp file + rename): a crash never leaves half a file,
        and the file is 0600 from its first byte, since it holds keys in clear."""
        if self.state_file is None:
            return
        from mxsync.files import atomic_write

        atomic_write(self.state_file, json.dumps(self.to_json()), mode=0o600, redacted=False)

    # -- auth ---------------------------------------------------------------
    def authenticate(self, authorization: str | None, x_api_key: str | None = None) -> User:
        """A Bearer token, or the same token in `X-API-KEY` (the service takes either;
        `Authorization` wins when both are sent)."""
        if not authorization and x_api_key:
            authorization = f"Bearer {x_api_key.strip()}"
        if not authorization:
            raise ApiError(401, "Not authenticated")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "Invalid authentication credentials")
        user = self.users.get(token.strip())
        if user is None:
            raise ApiError(401, "Invalid API key")
        return user

    def authorize(self, user: User, org_id: str | None) -> str:
        """Credential and catalog calls: an org header, and owner/admin in that org."""
        if not org_id:
            # ModuleX's API reference says 400, its product page 401: `--missing-org-status`.
            raise ApiError(self.missing_org_status, "X-Organization-ID header is required")
        if user.locked_to_org is not None and org_id != user.locked_to_org:
            raise ApiError(403, "This API key is locked to another organization")
        role = user.memberships.get(org_id)
        if role not in MANAGE_ROLES:
            raise ApiError(
                403, "Insufficient permissions: owner or admin role required in this organization"
            )
        self.orgs.setdefault(org_id, Org(id=org_id, name=org_id))
        return org_id

    # -- credentials --------------------------------------------------------
    def _add(self, cred: Credential) -> None:
        self.credentials[cred.credential_id] = cred
        self.by_org.setdefault(cred.organization_id, {})[cred.credential_id] = cred

    def _others(self, cred: Credential) -> list[Credential]:
        return [
            c
            for c in self.by_org.get(cred.organization_id, {}).values()
            if c.integration_name == cred.integration_name and c.credential_id != cred.credential_id
        ]

    def _make_default(self, cred: Credential, origin: Origin | None = None) -> None:
        for other in self._others(cred):
            if other.is_default:
                other.is_default = False
                other.updated_at = now_iso()
                if origin is not None:
                    record(other, "default_unset", origin, {"is_default": {"old": True, "new": False}})
        cred.is_default = True

    def list_credentials(
        self, org_id: str, integration_name: str | None, auth_type: str | None
    ) -> list[Credential]:
        return [
            c
            for c in self.by_org.get(org_id, {}).values()
            if (integration_name is None or c.integration_name == integration_name)
            and (auth_type is None or c.auth_type == auth_type)
        ]

    def get_credential(self, org_id: str, credential_id: str) -> Credential:
        cred = self.credentials.get(credential_id)
        if cred is None or cred.organization_id != org_id:
            raise ApiError(404, "Credential not found")
        return cred

    def create_credential(self, org_id: str, user: User, body: dict[str, Any],
                          origin: Origin | None = None) -> Credential:
        name = body["integration_name"]
        info = INTEGRATIONS.get(name)
        if info is None:
            raise ApiError(400, f"Unknown integration: {name}")
        auth_data = body.get("auth_data") or {}
        auth_type = detect_auth_type(auth_data, body.get("auth_type"))
        if name == "xai":
            check_xai_auth_data(auth_data, auth_type)
        expires_at = body.get("expires_at")
        if expires_at is not None:
            try:
                expires_at = normalize_timestamp(str(expires_at))
            except ValueError:
                raise ApiError(400, "Invalid expires_at: expected an ISO-8601 timestamp") from None
        stamp = now_iso()
        cred = Credential(
            credential_id=str(uuid.uuid4()),
            organization_id=org_id,
            integration_name=name,
            integration_type=info["integration_type"],
            display_name=body.get("display_name") or info["display_name"],
            auth_type=auth_type,
            api_key=str(auth_data.get("api_key") or ""),
            base_url=auth_data.get("base_url"),
            is_default=False,
            created_at=stamp,
            updated_at=stamp,
            last_used_at=None,
            expires_at=expires_at,
            metadata=body.get("metadata"),
            created_by=user.id,
            created_by_email=user.email,
        )
        self._add(cred)
        origin = origin or Origin(user_id=user.id)
        record(cred, "created", origin, {"display_name": cred.display_name,
                                         "integration_name": name, "auth_type": auth_type})
        if body.get("make_default") or not self._others(cred):
            self._make_default(cred, origin)
            record(cred, "default_set", origin, {"is_default": {"old": False, "new": True}})
        self.save()
        return cred

    def update_credential(self, org_id: str, credential_id: str, body: dict[str, Any],
                          origin: Origin | None = None) -> Credential:
        cred = self.get_credential(org_id, credential_id)
        changes: dict[str, Any] = {}
        if body.get("display_name") is not None:
            changes["display_name"] = {"old": cred.display_name, "new": body["display_name"]}
            cred.display_name = body["display_name"]
        if body.get("metadata") is not None:
            changes["metadata"] = {"old": cred.metadata, "new": body["metadata"]}
            cred.metadata = body["metadata"]  # replaced whole, not merged
        cred.updated_at = now_iso()
        record(cred, "updated", origin or Origin(), changes)
        self.save()
        return cred

    def delete_credential(self, org_id: str, credential_id: str) -> None:
        self.get_credential(org_id, credential_id)
        del self.credentials[credential_id]
        del self.by_org[org_id][credential_id]
        self.save()

    # -- org settings -------------------------------------------------------
    def set_model_visibility(self, org_id: str, integration_name: str,
                             models: list[dict[str, Any]]) -> dict[str, Any]:
        """Only models of the provider's catalog, each once; `[]` = back to the full list."""
        catalog = {m["id"]: m for m in llm_catalog(integration_name)}
        ids = [str(m.get("id")) for m in models]
        unknown = [i for i in ids if i not in catalog]
        if unknown:
            raise ApiError(400, f"Unknown model(s) for {integration_name}: {', '.join(unknown)}; "
                                f"known: {', '.join(catalog) or 'none'}")
        if len(set(ids)) != len(ids):
            raise ApiError(400, "Each model may be listed only once")
        org = self.orgs[org_id]
        if models:
            org.llm_model_visibility[integration_name] = [
                {"id": m["id"], "display_name": m.get("display_name")
                 or catalog[m["id"]]["display_name"]} for m in models]
        else:
            org.llm_model_visibility.pop(integration_name, None)
        self.save()
        return {"llm_model_visibility": org.settings()["llm_model_visibility"]}

    def set_composer_llm(self, org_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """The Assistant's model must be in the catalog; its credential, when given, one of
        this org's credentials of that integration."""
        integration_name = body["integration_name"]
        catalog = {m["id"] for m in llm_catalog(integration_name)}
        if body["model_id"] not in catalog:
            raise ApiError(400, f"Unknown model for {integration_name}: {body['model_id']}")
        credential_id = body.get("credential_id")
        if credential_id is not None:
            cred = self.credentials.get(credential_id)
            if cred is None or cred.organization_id != org_id \
                    or cred.integration_name != integration_name:
                raise ApiError(400, f"credential_id {credential_id} is not a "
                                    f"{integration_name} credential of this organization")
        org = self.orgs[org_id]
        org.composer_llm = {
            "integration_name": integration_name,
            "provider_id": body["provider_id"],
            "model_id": body["model_id"],
            "credential_id": credential_id,
        }
        self.save()
        return {"composer_llm": dict(org.composer_llm)}

    def set_default(self, org_id: str, credential_id: str,
                    origin: Origin | None = None) -> Credential:
        cred = self.get_credential(org_id, credential_id)
        if not cred.is_default:
            origin = origin or Origin()
            self._make_default(cred, origin)
            cred.updated_at = now_iso()
            record(cred, "default_set", origin, {"is_default": {"old": False, "new": True}})
            self.save()
        return cred


def llm_catalog(integration_name: str) -> list[dict[str, Any]]:
    """The models of an LLM provider's catalog; 400 for a name that is not an LLM provider."""
    info = INTEGRATIONS.get(integration_name)
    if info is None or info["integration_type"] != "llm":
        raise ApiError(400, f"Unknown LLM integration: {integration_name}")
    return XAI_MODELS if integration_name == "xai" else []


def _load_settings(org: Org, raw: Any) -> None:
    """A fixture org's `settings`, in the shape GET /organizations/settings answers. Loaded
    as given, unchecked against the catalog or the credentials: a fixture may describe a
    pin left dangling or a model the catalog has since dropped."""
    where = f"org {org.id}: settings"
    if not isinstance(raw, dict):
        raise FixtureError(f"{where} must be a mapping")
    visibility = raw.get("llm_model_visibility") or {}
    if not isinstance(visibility, dict):
        raise FixtureError(f"{where}.llm_model_visibility must map integrations to model lists")
    for name, models in visibility.items():
        if not isinstance(models, list) or not all(isinstance(m, dict) and m.get("id")
                                                   for m in models):
            raise FixtureError(f"{where}.llm_model_visibility.{name} must be a list of {{id, "
                               "display_name}}")
        if models:
            org.llm_model_visibility[str(name)] = [
                {"id": str(m["id"]), "display_name": m.get("display_name")} for m in models]
    if "composer_llm" in raw:
        composer = raw["composer_llm"]
        if composer is not None and not isinstance(composer, dict):
            raise FixtureError(f"{where}.composer_llm must be a mapping or null")
        org.composer_llm = None if composer is None else {
            key: composer.get(key)
            for key in ("integration_name", "provider_id", "model_id", "credential_id")}


def record(cred: Credential, event_type: str, origin: Origin, changes: dict[str, Any]) -> None:
    """One audit entry in the SDK's `AuditEntry` shape. `changes` never holds `auth_data`."""
    cred.audit.append({
        "id": str(uuid.uuid4()),
        "credential_id": cred.credential_id,
        "event_type": event_type,
        "user_id": origin.user_id,
        "changes": changes,
        "ip_address": origin.ip_address,
        "user_agent": origin.user_agent,
        "timestamp": now_iso(),
    })


USAGE_COUNTS = ("total_calls", "successful_calls", "failed_calls")


def _usage(raw: Any, org_id: str) -> dict[str, Any] | None:
    """A fixture credential's `usage`: whole counts; `total_calls` defaults to the sum."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise FixtureError(f"org {org_id}: a credential's usage must be a mapping of "
                           f"{', '.join(USAGE_COUNTS)}")
    counts: dict[str, Any] = {}
    for name in USAGE_COUNTS[1:]:
        value = raw.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise FixtureError(f"org {org_id}: usage.{name} must be a whole number >= 0")
        counts[name] = value
    total = raw.get("total_calls", counts["successful_calls"] + counts["failed_calls"])
    if isinstance(total, bool) or not isinstance(total, int) \
            or total < counts["successful_calls"] + counts["failed_calls"]:
        raise FixtureError(f"org {org_id}: usage.total_calls must be a whole number, at least "
                           "successful_calls + failed_calls")
    breakdown = raw.get("action_breakdown") or {}
    if not isinstance(breakdown, dict):
        raise FixtureError(f"org {org_id}: usage.action_breakdown must be a mapping")
    return {"total_calls": total, **counts,
            "action_breakdown": {str(k): int(v) for k, v in breakdown.items()}}


def _positive(raw: dict[str, Any], name: str, kind: type[int] | type[float]) -> Any:
    """A user's limit field: a positive number, or null for the emulator's default."""
    value = raw.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0 \
            or (kind is int and not float(value).is_integer()):
        raise FixtureError(f"user {raw.get('id') or '?'}: {name} must be a positive "
                           f"{'whole ' if kind is int else ''}number or null, not {value!r}")
    return kind(value)


def detect_auth_type(auth_data: dict[str, Any], given: str | None) -> str:
    """The service infers the type from the body: `auth_data.api_key` means `api_key`."""
    if "api_key" in auth_data:
        detected = "api_key"
    elif "token" in auth_data or "bearer_token" in auth_data:
        detected = "bearer_token"
    else:
        detected = given or ""
    if given and given != detected:
        raise ApiError(400, f"auth_type '{given}' does not match the given auth_data")
    if not detected:
        raise ApiError(400, "auth_data must contain api_key for this integration")
    return detected


def check_xai_auth_data(auth_data: dict[str, Any], auth_type: str) -> None:
    if auth_type != "api_key":
        raise ApiError(400, "xAI supports only api_key authentication")
    key = auth_data.get("api_key")
    if not isinstance(key, str) or not XAI_KEY_RE.match(key):
        # The message names the rule, never the value.
        raise ApiError(400, f"Invalid api_key: must match {XAI_KEY_RE.pattern}")
    base_url = auth_data.get("base_url")
    if base_url is not None and (not isinstance(base_url, str) or not BASE_URL_RE.match(base_url)):
        raise ApiError(400, f"Invalid base_url: must match {BASE_URL_RE.pattern}")
