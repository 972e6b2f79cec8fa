"""mxsync's own API client through every call it makes, replayed from cassettes.

Each test asserts what the client makes of the answer. A failing replay after
re-recording against the real service means the service differs from the contract
doc: fix the doc and the emulator first, then the client.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from mxsync.api import ApiError, ClientStats
from mxsync.secrets import Secret
from mxsync.state import LiveCredential
from tests.contract.conftest import REJECTED_KEY, Contract


def run(coro_fn: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(coro_fn())


def test_my_organizations(contract: Contract) -> None:
    async def go() -> list[dict[str, Any]]:
        async with contract.client() as client:
            return await client.my_organizations(contract.token)

    orgs = {o["id"]: o["role"] for o in run(go)}
    assert orgs[contract.org] in ("owner", "admin")


def test_create_list_with_paging_and_defaults(contract: Contract) -> None:
    keys: list[str] = []

    async def go() -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
        async with contract.client() as client:
            made = []
            for i, make_default in enumerate((False, False, True)):
                key = contract.key()
                keys.append(key.reveal())
                made.append(await client.create_credential(
                    contract.token, contract.org, key=key, base_url=None,
                    display_name=f"contract-{i}", metadata={"test": "contract", "n": str(i)},
                    make_default=make_default, expires_at=None))
            before = client.calls
            listed = await client.list_credentials(contract.token, contract.org, page_size=2)
            pages = client.calls - before
            for cred in made:
                await client.delete_credential(contract.token, contract.org, cred["credential_id"])
        return made, listed, pages

    made, listed, pages = run(go)
    assert pages == 2  # 3 credentials in pages of 2
    ours = [LiveCredential.from_api(r) for r in listed
            if (r.get("credentials_metadata") or {}).get("test") == "contract"]
    assert [c.display_name for c in ours] == ["contract-0", "contract-1", "contract-2"]
    assert [c.is_default for c in ours][2] is True
    assert sum(c.is_default for c in ours) == 1
    assert made[2]["is_default"] is True and made[1]["is_default"] is False
    assert ours[1].metadata == {"test": "contract", "n": "1"}
    assert not any(key in str(made) + str(listed) for key in keys)  # never echoed


def test_key_tests_valid_and_rejected(contract: Contract) -> None:
    async def go() -> tuple[dict[str, Any], dict[str, Any]]:
        async with contract.client() as client:
            good = await client.test_key(contract.token, contract.org, contract.key(), None)
            bad = await client.test_key(contract.token, contract.org, Secret(REJECTED_KEY), None)
        return good, bad

    good, bad = run(go)
    if contract.recording and not contract.on_emulator:
        pass  # a fake key is rejected by real xAI too; only the rejected case is meaningful
    else:
        assert good["is_valid"] is True and good["status_code"] == 200
    assert good["test_method"] == "api_call" and good["cost_level"] == "minimal"
    assert bad["is_valid"] is False and bad["status_code"] == 401


def test_get_masked_update_set_default_delete(contract: Contract) -> None:
    async def go() -> dict[str, Any]:
        async with contract.client() as client:
            t, o = contract.token, contract.org
            first = await client.create_credential(t, o, key=contract.key(), base_url=None,
                                                   display_name="contract-a", metadata={"a": "1"},
                                                   make_default=False, expires_at=None)
            second = await client.create_credential(
                t, o, key=contract.key(), base_url="https://gw.example.com/v1",
                display_name="contract-b", metadata={}, make_default=False,
                expires_at="2030-01-01T00:00:00Z")
            out = {
                "detail": await client.get_credential(t, o, first["credential_id"],
                                                      include_masked=True),
                "plain": await client.get_credential(t, o, first["credential_id"]),
                "updated": await client.update_credential(t, o, first["credential_id"],
                                                          display_name=None, metadata={"b": "2"}),
                "default": await client.set_default(t, o, second["credential_id"]),
                "second": second,
            }
            out["deleted"] = [await client.delete_credential(t, o, c["credential_id"])
                              for c in (first, second)]
            out["again"] = await client.delete_credential(t, o, first["credential_id"])
        return out

    out = run(go)
    masked = out["detail"]["auth_data_masked"]
    assert isinstance(masked, str) and masked and out["plain"]["auth_data_masked"] is None
    assert out["detail"]["organization_id"] == contract.org
    assert out["updated"]["credentials_metadata"] == {"b": "2"}  # replaced whole
    assert out["default"]["is_default"] is True
    assert LiveCredential.from_api(out["second"]).expires_at == "2030-01-01T00:00:00Z"
    assert out["deleted"] == [True, True] and out["again"] is False  # 404: already gone


def test_catalog(contract: Contract) -> None:
    async def go() -> dict[str, Any]:
        async with contract.client() as client:
            return await client.provider_detail(contract.token, contract.org, "xai")

    detail = run(go)
    models = {m["id"]: m for m in detail["models"]}
    assert "grok-4-fast" in models
    assert models["grok-4-fast"]["max_input_tokens"] > 0
    assert detail["auth_schemas"][0]["auth_type"] == "api_key"


def _status(contract: Contract, call: Callable[[Any], Awaitable[Any]]) -> ApiError:
    async def go() -> ApiError:
        async with contract.quick_client() as client:
            with pytest.raises(ApiError) as caught:
                await call(client)
            return caught.value

    return run(go)


def test_error_answers(contract: Contract) -> None:
    t, o = contract.token, contract.org
    bad_key = _status(contract, lambda c: c.create_credential(
        t, o, key=Secret("xai-short"), base_url=None, display_name="x", metadata={},
        make_default=False, expires_at=None))
    assert bad_key.status == 400 and "api_key" in bad_key.detail
    assert "xai-short" not in str(bad_key)
    unauthorized = _status(contract, lambda c: c.my_organizations(Secret("mx_live_not_a_token")))
    assert unauthorized.status == 401
    forbidden = _status(contract, lambda c: c.list_credentials(t, contract.foreign_org))
    assert forbidden.status == 403 and forbidden.org == contract.foreign_org
    missing = _status(contract, lambda c: c.provider_detail(t, o, "no-such-provider"))
    assert missing.status == 404 and missing.detail == "LLM provider not found"
    invalid = _status(contract, lambda c: c.request("GET", "/credentials", token=t, org=o,
                                                    params={"limit": 0}))
    assert invalid.status == 422 and "limit" in invalid.detail


def _seed_for_429_then_ok() -> int:
    """A seed whose first draw faults (rate 0.5) and whose second does not."""
    for seed in range(1000):
        rng = random.Random(seed)
        if rng.random() < 0.5 <= rng.random():
            return seed
    raise AssertionError("no seed")


@pytest.mark.emulator_only
def test_429_is_retried_after_retry_after(contract: Contract) -> None:
    contract.faults({"429": 0.5}, seed=_seed_for_429_then_ok())

    async def go() -> tuple[list[dict[str, Any]], ClientStats]:
        async with contract.client() as client:
            listed = await client.list_credentials(contract.token, contract.org)
            return listed, client.stats

    try:
        listed, stats = run(go)
    finally:
        contract.faults({}, seed=0)
    assert stats.calls == 2 and stats.rate_limited == 1 and isinstance(listed, list)
    assert stats.waited_s >= 1.0  # honoured Retry-After: 1
