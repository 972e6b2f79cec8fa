"""The official `modulex-python` SDK against the emulator: its models parse every answer
and its error classes match, so the emulator speaks the same wire format as the SDK."""

from __future__ import annotations

import asyncio

import modulex
import pytest
from modulex import _exceptions as sdk_errors
from modulex.types.credentials import (
    AuditEntry,
    CredentialDetailResponse,
    CredentialResponse,
    CredentialUsageStats,
)
from modulex.types.credentials import (
    TestTemporaryCredentialResponse as TempTestResponse,
)
from modulex.types.integrations import IntegrationDetail
from modulex.types.system import SystemHealthResponse

from tests.conftest import OrgFactory, fake_key


def test_sdk_round_trip(new_org: OrgFactory) -> None:
    revoked = fake_key("revoked")
    org = new_org(invalid_keys=[revoked])
    key = fake_key()

    async def scenario() -> None:
        async with modulex.Modulex(api_key=org.token, organization_id=org.id,
                                   base_url=org.url) as sdk:
            created = await sdk.credentials.create(
                "xai", auth_data={"api_key": key}, display_name="primary",
                metadata={"team": "ml"}, make_default=True)
            assert isinstance(created, CredentialResponse)
            assert created.is_default and created.credentials_metadata == {"team": "ml"}

            listed = await sdk.credentials.list(integration_name="xai")
            assert [c["credential_id"] for c in listed["credentials"]] == [created.credential_id]
            for item in listed["credentials"]:
                CredentialResponse.model_validate(item)

            detail = await sdk.credentials.get(created.credential_id, include_masked=True)
            assert isinstance(detail, CredentialDetailResponse)
            assert detail.auth_data_masked and key.startswith(detail.auth_data_masked[:8])

            updated = await sdk.credentials.update(created.credential_id, metadata={"x": "y"})
            assert updated.credentials_metadata == {"x": "y"}

            other = await sdk.credentials.create("xai", auth_data={"api_key": fake_key()})
            assert not other.is_default
            moved = await sdk.credentials.set_default(other.credential_id)
            assert moved.is_default

            ok = await sdk.credentials.test_temporary("xai", "api_key", {"api_key": key})
            assert isinstance(ok, TempTestResponse) and ok.is_valid
            bad = await sdk.credentials.test_temporary("xai", "api_key", {"api_key": revoked})
            assert not bad.is_valid and bad.status_code == 400

            catalog = await sdk.integrations.llm_provider_detail("xai")
            assert isinstance(catalog, IntegrationDetail)
            assert {m.id for m in catalog.models or []} == {
                "grok-4-0709", "grok-code-fast-1", "grok-4-fast"}

            await sdk.credentials.delete(created.credential_id)
            with pytest.raises(sdk_errors.NotFoundError):
                await sdk.credentials.get(created.credential_id)
            with pytest.raises(sdk_errors.NotFoundError):
                await sdk.integrations.llm_provider_detail("nope")
            with pytest.raises(sdk_errors.BadRequestError):
                await sdk.credentials.create("xai", auth_data={"api_key": "xai-short"})
            with pytest.raises(sdk_errors.BadRequestError):
                await sdk.integrations.tool_detail("xai")
            with pytest.raises(sdk_errors.ValidationError):
                await sdk.credentials.list(limit=0)

        async with modulex.Modulex(api_key=org.token, organization_id="org-not-mine",
                                   base_url=org.url) as sdk:
            with pytest.raises(sdk_errors.PermissionError):
                await sdk.credentials.list()
        async with modulex.Modulex(api_key="mx_live_wrong", organization_id=org.id,
                                   base_url=org.url) as sdk:
            with pytest.raises(sdk_errors.AuthenticationError):
                await sdk.credentials.list()

    asyncio.run(scenario())


def test_sdk_parses_health_usage_and_audit(new_org: OrgFactory) -> None:
    """The SDK's own models read /system/health, /credentials/{id}/usage and /audit."""
    org = new_org(credentials=[{
        "integration_name": "xai", "display_name": "used", "api_key": fake_key(),
        "usage": {"total_calls": 4, "successful_calls": 3, "failed_calls": 1,
                  "action_breakdown": {"chat": 4}}}])
    cid = org.xai()[0]["credential_id"]

    async def scenario() -> None:
        async with modulex.Modulex(api_key=org.token, organization_id=org.id,
                                   base_url=org.url) as sdk:
            health = await sdk.system.health()
            assert isinstance(health, SystemHealthResponse) and health.status == "healthy"
            assert health.service and health.version

            usage = await sdk.credentials.usage(cid, start_date="2026-01-01T00:00:00Z")
            assert isinstance(usage, CredentialUsageStats)
            assert (usage.total_calls, usage.successful_calls, usage.failed_calls) == (4, 3, 1)
            assert usage.action_breakdown == {"chat": 4}
            assert usage.start_date == "2026-01-01T00:00:00Z" and usage.end_date

            await sdk.credentials.update(cid, display_name="renamed")
            entries = await sdk.credentials.audit(cid, limit=10)
            assert all(isinstance(e, AuditEntry) for e in entries)
            assert entries[0].event_type == "updated" and entries[0].credential_id == cid
            assert entries[0].changes == {"display_name": {"old": "used", "new": "renamed"}}

    asyncio.run(scenario())
