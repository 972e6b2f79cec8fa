"""Policies without the wire (#23): discovery, conftest's conventions, the worker that keeps
regopy's crashes and printing out of mxsync, `policy check` and `policy test`."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from mxsync.errors import MxsyncError
from mxsync.plan import Plan
from mxsync.planfile import save_plan
from mxsync.policy import conventions
from mxsync.policy.discovery import case_files, read_policies
from mxsync.policy.evaluate import evaluate
from mxsync.render.policy import policy_junit
from tests.cli_helpers import mxsync

EXAMPLES = Path(__file__).parent.parent / "examples" / "policies"
HEAD = "package main\nimport rego.v1\n"
# `with input as` over a rule that reads input: rego-cpp dies of a segmentation fault.
CRASHING = HEAD + (
    'deny contains msg if {\n  some c in input.resource_changes\n  msg := c.address\n}\n'
    'boom if {\n  count(deny) == 1 with input as {"resource_changes": [{"address": "a"}]}\n}\n'
    'deny contains "boom" if boom\n')


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_discovery_reads_folders_recursively_and_leaves_tests_out(tmp_path: Path) -> None:
    write(tmp_path / "a.rego", HEAD)
    write(tmp_path / "deep" / "b.rego", HEAD)
    write(tmp_path / "deep" / "b_test.rego", HEAD)
    write(tmp_path / "deep" / "b_test.yaml", "input: {}\n")
    write(tmp_path / "notes.txt", "")
    found = [Path(p.path).relative_to(tmp_path).as_posix() for p in read_policies([str(tmp_path)])]
    assert found == ["a.rego", "deep/b.rego"]
    with_tests = [p.path for p in read_policies([str(tmp_path)], tests=True)]
    assert str(tmp_path / "deep" / "b_test.rego") in with_tests
    assert case_files([str(tmp_path)]) == [tmp_path / "deep" / "b_test.yaml"]


def test_discovery_errors_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(MxsyncError, match="no such file or folder"):
        read_policies([str(tmp_path / "missing")])
    write(tmp_path / "only_test.rego", HEAD)
    with pytest.raises(MxsyncError, match=r"no \.rego policy there"):
        read_policies([str(tmp_path)])


def test_conventions_messages_and_namespaces() -> None:
    assert conventions.namespaces([]) == ("main",)
    assert conventions.namespaces(["a.b", "c", "a.b"]) == ("a.b", "c")
    with pytest.raises(MxsyncError, match="not a Rego package name"):
        conventions.namespaces(["bad name"])
    got = conventions.messages_of(["plain", {"msg": "object", "org": "o1"}, {"no": "msg"}])
    assert got == [("plain", {}), ("object", {"org": "o1"}), ('{"no": "msg"}', {})]
    assert conventions.messages_of(False) == []


def test_deny_violation_warn_each_with_its_file_and_namespaces_chosen(tmp_path: Path) -> None:
    write(tmp_path / "one.rego",
          HEAD + 'deny contains "d1" if input.x\nwarn contains {"msg": "w1"} if true\n')
    write(tmp_path / "two.rego", HEAD + 'violation contains msg if { input.x; msg := helper }\n')
    write(tmp_path / "three.rego", HEAD + 'helper := "from a helper elsewhere"\n')
    write(tmp_path / "other.rego", "package house\nimport rego.v1\ndeny contains \"h\" if true\n")
    policies = read_policies([str(tmp_path)])
    result = evaluate(policies, ("main",), {"x": True})
    shown = {(m.kind, m.rule, m.msg, m.file) for m in result.messages}
    assert shown == {
        ("deny", "deny", "d1", str(tmp_path / "one.rego")),
        ("deny", "violation", "from a helper elsewhere", ", ".join(p.path for p in policies)),
        ("warn", "warn", "w1", str(tmp_path / "one.rego")),
    }
    assert result.denied
    house = evaluate(policies, ("house",), {"x": False})
    assert [(m.namespace, m.msg, m.file) for m in house.messages] == [
        ("house", "h", str(tmp_path / "other.rego"))]
    assert not evaluate(policies, ("main",), {"x": False}).denied


def test_a_crashing_policy_is_an_error_naming_it_and_mxsync_lives(tmp_path: Path) -> None:
    write(tmp_path / "fine.rego", HEAD + 'warn contains "ok" if true\n')
    write(tmp_path / "crash.rego", CRASHING)
    with pytest.raises(MxsyncError) as caught:
        evaluate(read_policies([str(tmp_path)]), ("main",), {"resource_changes": []})
    assert "crashed (SIGSEGV)" in caught.value.message
    assert str(tmp_path / "crash.rego") in caught.value.message
    assert "fine.rego" not in caught.value.message


def _saved_plan(tmp_path: Path) -> Path:
    planfile = tmp_path / "plan.json"
    save_plan(Plan(owner="test", api_url="http://127.0.0.1:9"), planfile)
    return planfile


def test_a_policy_that_does_not_parse_is_file_and_line_with_nothing_on_stdout(tmp_path: Path) -> None:
    bad = write(tmp_path / "pol" / "bad.rego", HEAD + "\ndeny contains msg if {\n  msg := \n}\n")
    run = mxsync("policy", "check", str(_saved_plan(tmp_path)), "--policy", str(tmp_path / "pol"), env={})
    assert run.code == 1
    assert run.out == ""
    assert f"policy {bad}:5: Invalid assignment operator" in run.err
    assert "Traceback" not in run.err and "Pass collections failed" not in run.err


def test_a_policy_failing_while_evaluating_names_its_file(tmp_path: Path) -> None:
    write(tmp_path / "ok.rego", HEAD + 'warn contains "fine" if true\n')
    broken = write(tmp_path / "conflict.rego", HEAD + "x := 1 if true\nx := 2 if true\n"
                   "deny contains msg if { msg := sprintf(\"%d\", [x]) }\n")
    with pytest.raises(MxsyncError) as caught:
        evaluate(read_policies([str(tmp_path)]), ("main",), {})
    assert caught.value.message.startswith(f"policy {broken}: complete rules must not produce")


def test_policy_check_formats_and_exit_codes(tmp_path: Path) -> None:
    planfile = _saved_plan(tmp_path)
    write(tmp_path / "p" / "rules.rego",
          HEAD + 'deny contains "no <plans> & \\"quotes\\"" if input.owner == "test"\n'
          'warn contains "look" if true\n')
    text = mxsync("policy", "check", str(planfile), "--policy", str(tmp_path / "p"), env={})
    assert text.code == 1
    assert f"DENY - {tmp_path / 'p' / 'rules.rego'} - main.deny: no <plans> & \"quotes\"" in text.out
    assert "Policy check failed: 1 deny, 1 warning (1 policy file)." in text.out
    as_json = json.loads(mxsync("policy", "check", str(planfile), "--policy", str(tmp_path / "p"),
                                "--format", "json", env={}).out)
    assert as_json["denied"] is True and as_json["summary"] == {"deny": 1, "warn": 1}
    junit = mxsync("policy", "check", str(planfile), "--policy", str(tmp_path / "p"),
                   "--format", "junit", env={})
    cases = ET.fromstring(junit.out.split("\n", 1)[1]).findall(".//testcase")
    assert len(cases) == 2 and [len(c.findall("failure")) for c in cases] == [1, 0]
    markdown = mxsync("policy", "check", str(planfile), "--policy", str(tmp_path / "p"),
                      "--format", "markdown", env={})
    assert "no &lt;plans&gt; &amp;" in markdown.out
    clean = mxsync("policy", "check", str(planfile), "--policy", str(tmp_path / "p"),
                   "--namespace", "nothing_here", env={})
    assert clean.code == 0 and "Policy check passed: no deny, 0 warnings" in clean.out


def test_junit_without_messages_has_one_passing_case_per_file() -> None:
    from mxsync.policy.model import PolicyResult

    root = ET.fromstring(policy_junit(PolicyResult(("a.rego", "b.rego"), ("main",))).split("\n", 1)[1])
    assert root.get("tests") == "2" and root.get("failures") == "0"


def test_the_example_policies_pass_their_own_tests() -> None:
    run = mxsync("policy", "test", str(EXAMPLES), env={})
    assert run.code == 0, run.out + run.err
    assert "0 failed, 0 errors" in run.out
    assert run.out.count("PASS") >= 9


def test_policy_test_reports_fail_and_a_crash_per_test_and_goes_on(tmp_path: Path) -> None:
    write(tmp_path / "rules.rego", HEAD + 'deny contains msg if {\n  some c in input.resource_changes\n'
          '  msg := sprintf("%s", [c.address])\n}\nprod(org) if startswith(org, "prod-")\n')
    write(tmp_path / "rules_test.rego", HEAD +
          'test_with_input if {\n'
          '  count(deny) == 1 with input as {"resource_changes": [{"address": "a"}]}\n}\n'
          'test_helper if prod("prod-x")\ntest_wrong if prod("dev")\n')
    write(tmp_path / "rules_test.yaml",
          "cases:\n  - name: right\n    input: {resource_changes: [{address: a}]}\n"
          "    deny: [a]\n  - name: wrong\n    input: {resource_changes: []}\n    deny: [b]\n")
    run = mxsync("policy", "test", str(tmp_path), env={})
    assert run.code == 1
    lines = run.out.splitlines()
    assert any(line.startswith("ERROR") and "test_with_input" in line for line in lines)
    assert "the engine crashed evaluating it: `with input as` over a rule reading input" in run.out
    assert any(line.startswith("PASS") and "test_helper" in line for line in lines)
    assert any(line.startswith("FAIL") and "test_wrong" in line for line in lines)
    assert any(line.startswith("PASS") and line.endswith(": right") for line in lines)
    assert "deny expected but not said: b" in run.out
    assert "5 tests: 2 passed, 2 failed, 1 error." in run.out


def test_without_regopy_policy_says_which_extra_to_install(tmp_path: Path) -> None:
    write(tmp_path / "p.rego", HEAD)
    code = ("import sys; sys.modules['regopy'] = None; from mxsync.cli import main; "
            f"sys.argv = ['mxsync', 'policy', 'check', {str(_saved_plan(tmp_path))!r}, "
            f"'--policy', {str(tmp_path / 'p.rego')!r}]; main()")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "pip install 'mxsync[policy]'" in done.stderr and "regopy is not installed" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(("name", "content", "said"), [
    ("case.yaml", "input: [unclosed", "it is not valid YAML"),
    ("case.json", "{not json", "it is not valid JSON"),
    ("case.yaml", b"\xff\xfe\x00", "it is not UTF-8 text"),
])
def test_an_unreadable_case_file_says_why_in_words(tmp_path: Path, name: str,
                                                    content: str | bytes, said: str) -> None:
    from mxsync.policy.cases import _load_cases

    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(MxsyncError) as info:
        _load_cases(path)
    assert info.value.message == f"cannot read case file {path}: {said}"
    assert "Error" not in info.value.message  # no exception class names
