"""Invariants of the emulated xAI world, tested directly (no HTTP): paging and key life."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mxsync.emulator.xai import check_key, check_usable
from mxsync.emulator.xai_world import ManagementKey, XaiError, XaiWorld

ACLS = ["api-key:model:grok-4-fast", "api-key:endpoint:chat"]


def world_with_team() -> tuple[XaiWorld, ManagementKey]:
    world = XaiWorld()
    world.merge({"teams": [{"id": "t"}], "management_keys": [{"token": "m", "teams": ["t"]}]})
    return world, world.authenticate("Bearer m")


@settings(max_examples=60, deadline=None)
@given(
    keys=st.integers(min_value=0, max_value=25),
    page_size=st.integers(min_value=1, max_value=7),
    deletions=st.lists(st.tuples(st.integers(min_value=0, max_value=6), st.integers(min_value=0)),
                       max_size=6),
)
def test_paging_never_skips_nor_repeats_a_key_that_stays(
        keys: int, page_size: int, deletions: list[tuple[int, int]]) -> None:
    """Keys deleted while a client pages may or may not show; every other key shows exactly once."""
    world, caller = world_with_team()
    ids = [world.create(caller, "t", {"name": f"k{i}", "acls": ACLS}).api_key_id for i in range(keys)]
    deleted: set[str] = set()
    seen: list[str] = []
    token: str | None = None
    page_no = 0
    while True:
        page, token = world.page(caller, "t", page_size, token)
        seen += [k.api_key_id for k in page]
        for when, which in deletions:
            alive = [i for i in ids if i not in deleted]
            if when == page_no and alive:
                victim = alive[which % len(alive)]
                world.delete(caller, victim)
                deleted.add(victim)
        page_no += 1
        if not token:
            break
    assert len(seen) == len(set(seen))
    assert [i for i in ids if i not in deleted] == [i for i in seen if i not in deleted]
    assert seen == [i for i in ids if i in set(seen)]  # creation order


def test_a_minted_key_lives_and_dies_as_the_doc_says() -> None:
    world, caller = world_with_team()
    key = world.create(caller, "t", {"name": "k", "acls": ACLS})
    assert check_key(world, key.secret, now=key.created) is key
    check_usable(world, key.secret, key, "chat", "grok-4-fast")
    world.update(caller, key.api_key_id, {"apiKey": {"disabled": True}, "fieldMask": "disabled"})
    with pytest.raises(XaiError) as refused:
        check_usable(world, key.secret, key, "chat", "grok-4-fast")
    assert refused.value.status == 403
    world.delete(caller, key.api_key_id)
    with pytest.raises(XaiError) as rejected:
        check_key(world, key.secret, now=key.created)
    assert rejected.value.status == 400
    again = XaiWorld.from_json(world.to_json())
    assert again.deleted_secrets == {key.secret} and not again.api_keys
