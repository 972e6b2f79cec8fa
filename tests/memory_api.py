"""The emulator's in-memory world behind the API client's interface, without HTTP.

Lets hypothesis run the real live reader, planner and executor thousands of times
against the service's rules (defaults, first credential, masking) in seconds.
"""

from __future__ import annotations

from typing import Any

from mxsync.emulator.store import XAI_MODELS, ApiError, World
from mxsync.secrets import Secret


class MemoryApi:
    base_url = "memory://"

    def __init__(self, world: World, token: str) -> None:
        self.world = world
        self.user = world.users[token]

    async def my_organizations(self, token: Secret) -> list[dict[str, Any]]:
        return [{"id": org, "role": role} for org, role in self.user.memberships.items()]

    async def list_credentials(self, token: Secret, org: str, integration_name: str = "xai"
                               ) -> list[dict[str, Any]]:
        return [c.public() for c in self.world.list_credentials(org, integration_name, None)]

    async def get_credential(self, token: Secret, org: str, credential_id: str, *,
                             include_masked: bool = False) -> dict[str, Any]:
        return self.world.get_credential(org, credential_id).detail(include_masked)

    async def provider_detail(self, token: Secret, org: str, name: str = "xai") -> dict[str, Any]:
        return {"name": name, "models": XAI_MODELS}

    async def test_key(self, token: Secret, org: str, key: Secret, base_url: str | None
                       ) -> dict[str, Any]:
        valid = key.reveal() not in self.world.xai.invalid_keys
        return {"is_valid": valid, "status_code": 200 if valid else 400, "message": ""}

    async def create_credential(self, token: Secret, org: str, *, key: Secret, base_url: str | None,
                                display_name: str, metadata: dict[str, Any], make_default: bool,
                                expires_at: str | None) -> dict[str, Any]:
        auth_data = {"api_key": key.reveal(), **({"base_url": base_url} if base_url else {})}
        body = {"integration_name": "xai", "auth_data": auth_data, "display_name": display_name,
                "metadata": metadata, "make_default": make_default, "expires_at": expires_at}
        return self.world.create_credential(org, self.user, body).public()

    async def update_credential(self, token: Secret, org: str, credential_id: str, *,
                                display_name: str | None, metadata: dict[str, Any] | None
                                ) -> dict[str, Any]:
        body = {"display_name": display_name, "metadata": metadata}
        return self.world.update_credential(org, credential_id, body).public()

    async def delete_credential(self, token: Secret, org: str, credential_id: str) -> bool:
        try:
            self.world.delete_credential(org, credential_id)
        except ApiError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def set_default(self, token: Secret, org: str, credential_id: str) -> dict[str, Any]:
        return self.world.set_default(org, credential_id).public()

    async def org_settings(self, token: Secret, org: str) -> dict[str, Any]:
        return self.world.orgs[org].settings()

    async def put_model_visibility(self, token: Secret, org: str, integration_name: str,
                                   models: Any) -> dict[str, Any]:
        return self.world.set_model_visibility(org, integration_name, [dict(m) for m in models])

    async def put_composer_llm(self, token: Secret, org: str, *, integration_name: str,
                               provider_id: str, model_id: str,
                               credential_id: str | None = None) -> dict[str, Any]:
        return self.world.set_composer_llm(org, {
            "integration_name": integration_name, "provider_id": provider_id,
            "model_id": model_id, "credential_id": credential_id})
