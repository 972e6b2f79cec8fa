"""Key file permissions as a user meets them in validate, plan and apply: a key file others
may read is a warning, said as one everywhere; one others may write is refused, for its
entry, with the chmod that fixes it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli_helpers import mxsync, write_manifest
from tests.conftest import OrgFactory, TestOrg, fake_key


def setup(org: TestOrg, tmp_path: Path, mode: int) -> tuple[str, Path, dict[str, str]]:
    key = tmp_path / "xai.key"
    key.write_text(fake_key() + "\n")
    key.chmod(mode)
    path = write_manifest(tmp_path / "m.yaml", [{"id": org.id, "xai": {"credentials": [
        {"name": "from-file", "api_key_file": "xai.key"}]}}])
    return path, key, {"MODULEX_BASE_URL": org.url, "MODULEX_API_KEY": org.token}


def test_a_key_file_others_can_read_is_a_warning_everywhere(new_org: OrgFactory,
                                                             tmp_path: Path) -> None:
    org = new_org()
    path, key, env = setup(org, tmp_path, 0o644)
    said = f"warning: key file {key} is readable by its group and others (mode 0644)"
    checked = mxsync("validate", "-f", path, "--check-env", env=env)
    assert checked.code == 0
    assert f"m.yaml:8:21: orgs[0].xai.credentials[0].api_key_file: {said}" in checked.out
    planned = mxsync("plan", "-f", path, "--json", env=env)
    assert planned.code == 0 and said in planned.err
    assert json.loads(planned.out)  # the warning stays off stdout
    applied = mxsync("apply", "-f", path, "--auto-approve", env=env)
    assert applied.code == 0, applied.both
    assert applied.err.count(said) == 1  # read for the plan and for the apply: said once
    assert [c["display_name"] for c in org.xai()] == ["from-file"]


def test_a_key_file_others_can_write_is_refused_for_its_entry(new_org: OrgFactory,
                                                              tmp_path: Path) -> None:
    org = new_org()
    path, key, env = setup(org, tmp_path, 0o666)
    said = f"key file {key} is writable by its group and others (mode 0666)"
    checked = mxsync("validate", "-f", path, "--check-env", env=env)
    assert checked.code == 1 and said in checked.out and f"chmod go-w {key}" in checked.out
    assert "orgs[0].xai.credentials[0].api_key_file: key file" in checked.out
    for command in (["plan"], ["apply", "--auto-approve"]):
        run = mxsync(*command, "-f", path, env=env)
        assert run.code == 1, run.both
        assert "entry 'from-file'" in run.both and said in run.both
        assert f"chmod go-w {key}" in run.both
    assert org.xai() == []  # nothing was stored from a key anyone could have swapped
    key.chmod(0o600)
    assert mxsync("apply", "-f", path, "--auto-approve", env=env).code == 0
    assert [c["display_name"] for c in org.xai()] == ["from-file"]
