"""The emulated ModuleX world: users, orgs, credentials, and the service's rules.

Plain Python with no HTTP in it, so the rules (one default per integration, the
first credential becomes default, masked detail, ...) read like the contract in
`shared/docs/modulex-api.md`. The HTTP layer in `app.py` only translates.

All mutations run on the server's single event loop without awaiting in the
middle, which is what makes 200 concurrent creates end with exactly one default.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
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


@dataclass
class Org:
    id: str
    name: str
    created_at: str = field(default_factory=now_iso)


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
            self.users[token] = user
        for raw in doc.get("orgs") or []:
            org_id = str(raw["id"])
            self.orgs.setdefault(org_id, Org(id=org_id, name=str(raw.get("name") or org_id)))
            for cred in raw.get("credentials") or []:
                self._load_credential(org_id, cred)
        self.xai.merge(doc.get("xai") or {})
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
        )
        self._add(cred)
        if raw.get("is_default") or not self._others(cred):
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
        world.orgs = {o["id"]: Org(**o) for o in doc.get("orgs", [])}
        for raw in doc.get("credentials", []):
            world._add(Credential(**raw))
        world.xai = XaiWorld.from_json(doc.get("xai") or {})
        return world

    def save(self) -> None:
        """Write the world atomically (temp file + rename): a crash never leaves half a file."""
        if self.state_file is None:
            return
        directory = self.state_file.parent
        fd, tmp = tempfile.mkstemp(prefix=".mxsync-emulator-", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(self.to_json(), handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.state_file)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # -- auth ---------------------------------------------------------------
    def authenticate(self, authorization: str | None) -> User:
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
            raise ApiError(401, "X-Organization-ID header is required")
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

    def _make_default(self, cred: Credential) -> None:
        for other in self._others(cred):
            if other.is_default:
                other.is_default = False
                other.updated_at = now_iso()
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

    def create_credential(self, org_id: str, user: User, body: dict[str, Any]) -> Credential:
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
        if body.get("make_default") or not self._others(cred):
            self._make_default(cred)
        self.save()
        return cred

    def update_credential(self, org_id: str, credential_id: str, body: dict[str, Any]) -> Credential:
        cred = self.get_credential(org_id, credential_id)
        if body.get("display_name") is not None:
            cred.display_name = body["display_name"]
        if body.get("metadata") is not None:
            cred.metadata = body["metadata"]  # replaced whole, not merged
        cred.updated_at = now_iso()
        self.save()
        return cred

    def delete_credential(self, org_id: str, credential_id: str) -> None:
        self.get_credential(org_id, credential_id)
        del self.credentials[credential_id]
        del self.by_org[org_id][credential_id]
        self.save()

    def set_default(self, org_id: str, credential_id: str) -> Credential:
        cred = self.get_credential(org_id, credential_id)
        if not cred.is_default:
            self._make_default(cred)
            cred.updated_at = now_iso()
            self.save()
        return cred


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
