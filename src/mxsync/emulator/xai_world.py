"""xAI's side of the emulated world: which keys the inference stand-in accepts, and
the teams, management keys and API keys behind the Management API.

Plain Python with no HTTP in it (like the ModuleX store): the rules of xAI's
Management API (minting, listing, disabling and deleting a team's keys) read as
methods, and the two routers (the inference stand-in and the Management API) only
translate. It imports nothing
from the rest of the emulator, so the ModuleX store can hold one of these
without an import cycle.

Keys minted here are real to the stand-in: usable once propagated, rejected once
deleted or expired, refused while disabled or while their team is blocked or out
of credits, and limited to what their ACLs grant.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

# gRPC status texts, which xAI sends as `code` (the doc's 400 body shows the first).
CODE_INVALID = "Client specified an invalid argument"
CODE_UNAUTHENTICATED = "The request does not have valid authentication credentials for the operation"
CODE_PERMISSION = "The caller does not have permission to execute the specified operation"
CODE_NOT_FOUND = "Some requested entity was not found"
CODE_EXHAUSTED = "Some resource has been exhausted"

DEFAULT_TEAM_MODELS = ("grok-4-0709", "grok-code-fast-1", "grok-4-fast")
# What `GET /auth/teams/{id}/endpoints` lists unless the fixture names others (assumed:
# the contract names these three; an ACL may grant any endpoint the team lists).
DEFAULT_TEAM_ENDPOINTS = ("chat", "image", "responses")
ACL_RE = re.compile(r"^api-key:(?:model:[A-Za-z0-9._*-]+|endpoint:([A-Za-z0-9._-]+|\*))$")
UNFUNDED_STATUSES = (429, 403)  # xAI's no-credits answer: 429 on chat completions, 403 elsewhere
UPDATABLE = ("name", "acls", "qps", "qpm", "tpm", "disabled")
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 100  # assumed; a larger pageSize is capped, never refused
_SECRET_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"


class XaiError(Exception):
    """An answer of xAI in its shape: status + `{"code", "error"}`."""

    def __init__(self, status: int, code: str, error: str) -> None:
        super().__init__(error)
        self.status = status
        self.code = code
        self.error = error

    def body(self) -> dict[str, str]:
        return {"code": self.code, "error": self.error}


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_time(value: Any) -> float:
    """An RFC 3339 instant as epoch seconds; `ValueError` for anything else."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("not a timestamp")
    text = value.strip()
    parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def xai_redacted(key: str) -> str:
    """How xAI's 400 text shows a key: `xa***4o` (first two, last two characters)."""
    return f"{key[:2]}***{key[-2:]}" if len(key) >= 4 else "***"


@dataclass
class Team:
    id: str
    name: str
    models: list[str] = field(default_factory=lambda: list(DEFAULT_TEAM_MODELS))
    blocked: bool = False
    unfunded: bool = False
    propagation_s: float | None = None  # overrides the server-wide --xai-propagation-s
    endpoints: list[str] = field(default_factory=lambda: list(DEFAULT_TEAM_ENDPOINTS))


@dataclass
class ManagementKey:
    token: str
    teams: list[str]
    user_id: str
    name: str = "management key"

    @property
    def key_id(self) -> str:
        """A stable id for the validation answer, derived from the token (never the token)."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, "mxsync-emulator-management-key:" + self.token))


@dataclass
class ApiKey:
    api_key_id: str
    team_id: str
    user_id: str
    name: str
    secret: str
    acls: list[str]
    qps: int | None
    qpm: int | None
    tpm: int | None
    expire_time: float | None
    disabled: bool
    created: float
    modified: float
    propagated_at: float
    seq: int  # creation order: what a pagination token points past
    modified_by: str | None = None  # the user whose management key last changed it

    def public(self, *, with_secret: bool = False) -> dict[str, Any]:
        """The key object of the doc; `apiKey` only in the answer to the create."""
        body: dict[str, Any] = {
            "apiKeyId": self.api_key_id,
            "name": self.name,
            "redactedApiKey": f"xai-...{self.secret[-4:]}",
            "teamId": self.team_id,
            "userId": self.user_id,
            "createTime": iso(self.created),
            "modifyTime": iso(self.modified),
            "disabled": self.disabled,
            "expireTime": iso(self.expire_time) if self.expire_time is not None else None,
            "qps": self.qps,
            "qpm": self.qpm,
            "tpm": str(self.tpm) if self.tpm is not None else None,
            "aclStrings": list(self.acls),
        }
        if with_secret:
            body["apiKey"] = self.secret
        return body

    def expired(self, now: float) -> bool:
        return self.expire_time is not None and now >= self.expire_time

    def allows_endpoint(self, endpoint: str) -> bool:
        """ACLs grant access; a key with none can call nothing. (Models: `usable_models`.)"""
        return bool({f"api-key:endpoint:{endpoint}", "api-key:endpoint:*"} & set(self.acls))


class XaiWorld:
    """Everything xAI knows: fixture key lists, teams, management keys, minted keys."""

    def __init__(self) -> None:
        self.invalid_keys: set[str] = set()
        self.unfunded_keys: set[str] = set()
        self.disabled_keys: set[str] = set()
        self.rate_limited_keys: set[str] = set()
        self.teams: dict[str, Team] = {}
        self.management_keys: dict[str, ManagementKey] = {}  # by token
        self.api_keys: dict[str, ApiKey] = {}  # by apiKeyId, in creation order
        self.by_secret: dict[str, ApiKey] = {}
        self.deleted_secrets: set[str] = set()  # a deleted key stays rejected, never "unknown"
        # The team of each deleted key id, so that a retried DELETE still meets its team's faults.
        self.deleted_ids: dict[str, str] = {}
        self.propagation_s = 0.0
        # The status of the no-credits answer on chat completions (fixture `unfunded_status`).
        self.unfunded_status = UNFUNDED_STATUSES[0]
        self._seq = 0

    # -- fixture and persistence ---------------------------------------------
    def merge(self, doc: dict[str, Any]) -> None:
        """The fixture's `xai:` section (also what `POST /_emulator/world` carries)."""
        if "unfunded_status" in doc:
            status = doc["unfunded_status"]
            if status not in UNFUNDED_STATUSES or isinstance(status, bool):
                raise ValueError(f"unfunded_status must be 429 or 403, not {status!r}")
            self.unfunded_status = int(status)
        for name in ("invalid_keys", "unfunded_keys", "disabled_keys", "rate_limited_keys"):
            getattr(self, name).update(str(k) for k in doc.get(name) or [])
        for raw in doc.get("teams") or []:
            team_id = str(raw["id"])
            team = self.teams.get(team_id) or Team(id=team_id, name=str(raw.get("name") or team_id))
            if raw.get("name"):
                team.name = str(raw["name"])
            if raw.get("models"):
                team.models = [str(m) for m in raw["models"]]
            if raw.get("endpoints"):
                team.endpoints = [str(e) for e in raw["endpoints"]]
            for flag in ("blocked", "unfunded"):
                if flag in raw:
                    setattr(team, flag, bool(raw[flag]))
            if raw.get("propagation_s") is not None:
                team.propagation_s = float(raw["propagation_s"])
            self.teams[team_id] = team
        for raw in doc.get("management_keys") or []:
            token = str(raw["token"])
            key = self.management_keys.get(token) or ManagementKey(
                token=token, teams=[], user_id=str(raw.get("user_id") or f"u-{uuid.uuid4().hex[:8]}")
            )
            key.teams.extend(str(t) for t in raw.get("teams") or [] if str(t) not in key.teams)
            if raw.get("name"):
                key.name = str(raw["name"])
            for team_id in key.teams:
                self.teams.setdefault(team_id, Team(id=team_id, name=team_id))
            self.management_keys[token] = key

    def to_json(self) -> dict[str, Any]:
        return {
            "invalid_keys": sorted(self.invalid_keys),
            "unfunded_keys": sorted(self.unfunded_keys),
            "disabled_keys": sorted(self.disabled_keys),
            "rate_limited_keys": sorted(self.rate_limited_keys),
            "teams": [asdict(t) for t in self.teams.values()],
            "management_keys": [asdict(k) for k in self.management_keys.values()],
            "api_keys": [asdict(k) for k in self.api_keys.values()],
            "deleted_secrets": sorted(self.deleted_secrets),
            "deleted_ids": self.deleted_ids,
            "propagation_s": self.propagation_s,
            "unfunded_status": self.unfunded_status,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> XaiWorld:
        world = cls()
        for name in ("invalid_keys", "unfunded_keys", "disabled_keys", "rate_limited_keys",
                     "deleted_secrets"):
            setattr(world, name, set(doc.get(name) or []))
        world.teams = {t["id"]: Team(**t) for t in doc.get("teams") or []}
        world.management_keys = {k["token"]: ManagementKey(**k) for k in doc.get("management_keys") or []}
        for raw in doc.get("api_keys") or []:
            key = ApiKey(**raw)
            world.api_keys[key.api_key_id] = key
            world.by_secret[key.secret] = key
            world._seq = max(world._seq, key.seq)
        world.deleted_ids = dict(doc.get("deleted_ids") or {})
        world.propagation_s = float(doc.get("propagation_s") or 0.0)
        world.unfunded_status = int(doc.get("unfunded_status") or UNFUNDED_STATUSES[0])
        return world

    # -- Management API: authentication ------------------------------------------
    def authenticate(self, authorization: str | None) -> ManagementKey:
        scheme, _, token = (authorization or "").partition(" ")
        key = self.management_keys.get(token.strip()) if scheme.lower() == "bearer" else None
        if key is None:
            raise XaiError(401, CODE_UNAUTHENTICATED, "Invalid or missing management key")
        return key

    def team_for(self, caller: ManagementKey, team_id: str) -> Team:
        team = self.teams.get(team_id)
        if team is None or team_id not in caller.teams:
            raise XaiError(403, CODE_PERMISSION, f"The management key may not manage team {team_id}")
        return team

    def key_for(self, caller: ManagementKey, api_key_id: str) -> ApiKey:
        key = self.api_keys.get(api_key_id)
        if key is None:
            raise XaiError(404, CODE_NOT_FOUND, f"API key {api_key_id} not found")
        self.team_for(caller, key.team_id)
        return key

    # -- Management API: the operations -------------------------------------------
    def create(self, caller: ManagementKey, team_id: str, body: Any) -> ApiKey:
        team = self.team_for(caller, team_id)
        if not isinstance(body, dict):
            raise XaiError(400, CODE_INVALID, "The request body must be a JSON object")
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise XaiError(400, CODE_INVALID, "name is required and must not be empty")
        acls = _acls(body.get("acls", []), team.endpoints)
        limits = {f: _limit(body.get(f), f) for f in ("qps", "qpm", "tpm")}
        expire_time = None
        if body.get("expireTime") is not None:
            try:
                expire_time = parse_time(body["expireTime"])
            except ValueError:
                raise XaiError(400, CODE_INVALID, "expireTime must be an RFC 3339 timestamp") from None
        now = time.time()
        delay = team.propagation_s if team.propagation_s is not None else self.propagation_s
        self._seq += 1
        key = ApiKey(
            api_key_id=str(uuid.uuid4()),
            team_id=team.id,
            user_id=caller.user_id,
            name=name,
            secret=_new_secret(),
            acls=acls,
            expire_time=expire_time,
            disabled=False,
            created=now,
            modified=now,
            propagated_at=now + max(0.0, delay),
            seq=self._seq,
            modified_by=caller.user_id,
            **limits,
        )
        self.api_keys[key.api_key_id] = key
        self.by_secret[key.secret] = key
        return key

    def page(self, caller: ManagementKey, team_id: str, page_size: Any, token: Any
             ) -> tuple[list[ApiKey], str | None]:
        """One page of a team's keys, in creation order, and the token of the next one.

        The token names the last key handed out, not an offset, so a key deleted
        while a client pages never makes it skip another.
        """
        self.team_for(caller, team_id)
        size = DEFAULT_PAGE_SIZE
        if page_size not in (None, ""):
            try:
                size = int(page_size)
            except (TypeError, ValueError):
                raise XaiError(400, CODE_INVALID, "pageSize must be an integer") from None
            if size < 0:
                raise XaiError(400, CODE_INVALID, "pageSize must not be negative")
            size = min(size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        after = 0
        if token:
            try:
                after = int(base64.urlsafe_b64decode(str(token).encode()).decode().removeprefix("after:"))
            except (ValueError, binascii.Error, UnicodeDecodeError):
                raise XaiError(400, CODE_INVALID, "paginationToken is not valid") from None
        rest = [k for k in self.api_keys.values() if k.team_id == team_id and k.seq > after]
        page = rest[:size]
        next_token = None
        if len(rest) > size:
            next_token = base64.urlsafe_b64encode(f"after:{page[-1].seq}".encode()).decode()
        return page, next_token

    def update(self, caller: ManagementKey, api_key_id: str, body: Any) -> ApiKey:
        key = self.key_for(caller, api_key_id)
        if not isinstance(body, dict) or not isinstance(body.get("apiKey"), dict):
            raise XaiError(400, CODE_INVALID, "The body must carry an apiKey object and a fieldMask")
        mask_raw = body.get("fieldMask")
        if isinstance(mask_raw, dict):  # protobuf JSON also allows {"paths": [...]}
            mask_raw = mask_raw.get("paths")
        if isinstance(mask_raw, str):
            mask = [p.strip() for p in mask_raw.split(",") if p.strip()]
        elif isinstance(mask_raw, list):
            mask = [str(p).strip() for p in mask_raw]
        else:
            mask = []
        mask = ["acls" if p == "aclStrings" else p for p in mask]
        if not mask:
            raise XaiError(400, CODE_INVALID, "fieldMask must name the fields to update")
        unknown = [p for p in mask if p not in UPDATABLE]
        if unknown:
            raise XaiError(400, CODE_INVALID, f"fieldMask names fields that cannot be updated: {unknown}")
        given = body["apiKey"]
        changes: dict[str, Any] = {}
        for path in mask:
            value = given.get("aclStrings", given.get("acls")) if path == "acls" else given.get(path)
            if value is None and path != "acls":
                raise XaiError(400, CODE_INVALID, f"fieldMask names {path}, but apiKey has no {path}")
            if path == "name":
                if not isinstance(value, str) or not value.strip():
                    raise XaiError(400, CODE_INVALID, "name must not be empty")
                changes["name"] = value
            elif path == "acls":
                changes["acls"] = _acls(value or [], self.teams[key.team_id].endpoints)
            elif path == "disabled":
                if not isinstance(value, bool):
                    raise XaiError(400, CODE_INVALID, "disabled must be true or false")
                changes["disabled"] = value
            else:
                changes[path] = _limit(value, path)
        for name, value in changes.items():
            setattr(key, name, value)
        key.modified = time.time()
        key.modified_by = caller.user_id
        return key

    def rotate(self, caller: ManagementKey, api_key_id: str) -> ApiKey:
        """A new secret for the same key id (assumed semantics: public endpoint registries
        list `POST /auth/api-keys/{id}/rotate`, nothing public says what it answers). The
        old secret stops working at once, as a deleted one does, and the new one needs to
        propagate like a freshly minted key."""
        key = self.key_for(caller, api_key_id)
        team = self.teams[key.team_id]
        del self.by_secret[key.secret]
        self.deleted_secrets.add(key.secret)
        now = time.time()
        delay = team.propagation_s if team.propagation_s is not None else self.propagation_s
        key.secret = _new_secret()
        key.propagated_at = now + max(0.0, delay)
        key.modified = now
        key.modified_by = caller.user_id
        self.by_secret[key.secret] = key
        return key

    def usable_models(self, key: ApiKey | None) -> list[str]:
        """The models a key may call: its team's, narrowed by its model ACLs; every model
        the stand-in knows for a key no fixture minted."""
        if key is None:
            return list(DEFAULT_TEAM_MODELS)
        team = self.teams.get(key.team_id)
        models = team.models if team else list(DEFAULT_TEAM_MODELS)
        if "api-key:model:*" in key.acls:
            return list(models)
        return [m for m in models if f"api-key:model:{m}" in key.acls]

    def delete(self, caller: ManagementKey, api_key_id: str) -> None:
        key = self.key_for(caller, api_key_id)
        del self.api_keys[api_key_id]
        del self.by_secret[key.secret]
        self.deleted_secrets.add(key.secret)
        self.deleted_ids[api_key_id] = key.team_id

    def team_of_key(self, api_key_id: str) -> str | None:
        key = self.api_keys.get(api_key_id)
        return key.team_id if key else self.deleted_ids.get(api_key_id)

    def propagated(self, caller: ManagementKey, api_key_id: str) -> bool:
        return time.time() >= self.key_for(caller, api_key_id).propagated_at


def _new_secret() -> str:
    return "xai-" + "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(80))


def _acls(value: Any, endpoints: list[str]) -> list[str]:
    """ACL strings as xAI takes them: models by id or `*`, and the endpoints the team's
    `GET /auth/teams/{id}/endpoints` lists, or `*`."""
    if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
        raise XaiError(400, CODE_INVALID, "acls must be a list of strings")
    for acl in value:
        match = ACL_RE.match(acl)
        endpoint = match.group(1) if match else None
        if match is None or (endpoint not in (None, "*") and endpoint not in endpoints):
            raise XaiError(
                400, CODE_INVALID,
                f"invalid ACL {acl!r}: expected api-key:model:<model id>, api-key:model:*, "
                f"or api-key:endpoint:<one of {'|'.join(endpoints)}> or api-key:endpoint:*",
            )
    return list(dict.fromkeys(value))


def _limit(value: Any, name: str) -> int | None:
    """qps/qpm are numbers, tpm travels as a string; all must be whole and not negative."""
    if value is None:
        return None
    try:
        number = int(value) if not isinstance(value, bool) else -1
    except (TypeError, ValueError):
        number = -1
    if number < 0 or (isinstance(value, float) and not value.is_integer()):
        raise XaiError(400, CODE_INVALID, f"{name} must be a whole number, 0 or more")
    return number
