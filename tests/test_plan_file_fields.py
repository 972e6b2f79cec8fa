"""Every field of a saved plan is type-checked on load: a damaged file is a clear error that
names the field, never an internal error, whatever JSON type stands where."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from mxsync.errors import MxsyncError
from mxsync.plan import Action, Change, MintSpec, OrgPlan, Plan, Reason, ReasonCode
from mxsync.planfile import load_plan, save_plan
from mxsync.secrets import KeySource

VALUES: list[Any] = [5, 1.5, "text", True, None, [], {}, [1], {"a": 1}]


def _saved(tmp_path: Path) -> dict[str, Any]:
    why = Reason(ReasonCode.ABSENT, {"x": 1})
    plan = Plan(owner="o", manifest_digest="sha256:1", api_url="https://api.modulex.dev",
                manifest_files=("m.yaml",), orgs=(OrgPlan(
                    org="org", token_env="T", live_digest="d", known_ids=("c1",),
                    notes=(why,), changes=(
                        Change(action=Action.CREATE, org="org", name="k", reason=why,
                               key=KeySource(env="K"), fingerprint="sha256:2",
                               metadata={"a": "b"}, before=None, after={"x": 1}),
                        Change(action=Action.REPLACE, org="org", name="m", reason=why,
                               credential_id="c1", mint=MintSpec(
                                   team_id="t", key_env="MK", url="https://management-api.x.ai",
                                   acls=("api-key:endpoint:chat",)),
                               depends_on=(0,)))),))
    path = tmp_path / "plan.json"
    save_plan(plan, path)
    return dict(json.loads(path.read_text()))


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = []
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) \
        else ()
    for key, value in items:
        found.append((*prefix, key))
        found += _paths(value, (*prefix, key))
    return found


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        doc = doc[key]
    doc[path[-1]] = value


def test_every_field_with_every_json_type_loads_or_is_a_clear_error(tmp_path: Path) -> None:
    saved = _saved(tmp_path)
    load_plan(tmp_path / "plan.json")  # the file as written loads
    paths = [p for p in _paths(saved) if p[0] != "mxsync_plan_file"]
    assert len(paths) > 40
    damaged = tmp_path / "damaged.json"
    unclear = []
    for path in paths:
        for value in VALUES:
            doc = copy.deepcopy(saved)
            _set(doc, path, value)
            damaged.write_text(json.dumps(doc))
            try:
                load_plan(damaged)
            except MxsyncError as exc:
                if "damaged" not in str(exc) or (str(path[-1]) not in str(exc) and not isinstance(
                        path[-1], int)):
                    unclear.append((path, value, str(exc)))
            except Exception as exc:  # an internal error: the bug this test is for
                unclear.append((path, value, f"{type(exc).__name__}: {exc}"))
    assert not unclear, "\n".join(map(str, unclear[:30]))


@pytest.mark.parametrize("value", VALUES)
def test_the_format_field_itself(tmp_path: Path, value: Any) -> None:
    doc = _saved(tmp_path)
    doc["mxsync_plan_file"] = value
    (tmp_path / "p.json").write_text(json.dumps(doc))
    with pytest.raises(MxsyncError):
        load_plan(tmp_path / "p.json")
