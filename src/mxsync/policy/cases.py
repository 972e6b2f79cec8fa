"""`mxsync policy test`: the policies' own tests, each reported pass, fail or error.

Two kinds. Case files (`*_test.yaml`/`.json` beside the policies) give an `input` (inline,
or a path to a saved JSON plan) and the exact `deny`/`warn` messages expected; they need
no `with`, so they work on every regopy. And `test_*` rules in `*_test.rego` files, as
`opa test` runs them: each in its own worker, because `with input as {...}` over a rule
that reads input kills rego-cpp; such a test is an error of its own and the run goes on."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mxsync.errors import MxsyncError
from mxsync.policy import conventions
from mxsync.policy.discovery import PolicyFile, case_files, read_policies
from mxsync.policy.evaluate import engine_failure, evaluate
from mxsync.policy.worker import EngineError, WorkerCrashed, run

Outcome = Literal["pass", "fail", "error"]
CRASHED = ("the engine crashed evaluating it: `with input as` over a rule reading input is "
           "not supported by regopy")
_TEST_RULE = re.compile(r"^\s*(test_[A-Za-z0-9_]*)\b", re.MULTILINE)
_PACKAGE = re.compile(r"^\s*package\s+([A-Za-z_][A-Za-z0-9_.]*)", re.MULTILINE)


@dataclass(frozen=True)
class TestOutcome:
    name: str
    file: str
    outcome: Outcome
    details: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "file": self.file, "outcome": self.outcome,
                "details": self.details}


def _case_input(case: dict[str, Any], where: Path) -> Any:
    given = case.get("input")
    if isinstance(given, str):  # a saved plan, as `show --format json` prints it
        from mxsync.planfile import load_plan
        from mxsync.render.json import plan_to_json

        return plan_to_json(load_plan(where.parent / given))
    if not isinstance(given, dict):
        raise MxsyncError(f"{where}: `input` must be an object or a path to a saved plan")
    return given


def _expected(case: dict[str, Any], key: str, where: Path) -> list[str]:
    value = case.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise MxsyncError(f"{where}: `{key}` must be a list of messages")
    return sorted(value)


def _load_cases(path: Path) -> list[dict[str, Any]]:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except OSError as exc:
        raise MxsyncError(f"cannot read case file {path}: {exc.strerror or 'unreadable'}") from None
    except UnicodeDecodeError:
        raise MxsyncError(f"cannot read case file {path}: it is not UTF-8 text") from None
    except (ValueError, yaml.YAMLError):
        kind = "JSON" if path.suffix == ".json" else "YAML"
        raise MxsyncError(f"cannot read case file {path}: it is not valid {kind}",
                          hint=f"check it with a {kind} linter") from None
    cases = data.get("cases") if isinstance(data, dict) and "cases" in data else [data]
    if not isinstance(cases, list) or not all(isinstance(c, dict) for c in cases):
        raise MxsyncError(f"{path}: a case file is one case (input, deny, warn) or `cases:` a list")
    return cases


def run_case_file(path: Path, policies: list[PolicyFile]) -> list[TestOutcome]:
    outcomes = []
    for index, case in enumerate(_load_cases(path)):
        name = str(case.get("name") or f"case {index + 1}")
        try:
            namespaces = conventions.namespaces(case.get("namespaces") or [])
            result = evaluate(policies, namespaces, _case_input(case, path))
        except MxsyncError as exc:
            outcomes.append(TestOutcome(name, str(path), "error", [exc.message]))
            continue
        details = []
        for kind in ("deny", "warn"):
            want = _expected(case, kind, path)
            got = sorted(m.msg for m in result.messages if m.kind == kind)
            details += [f"{kind} expected but not said: {m}" for m in want if m not in got]
            details += [f"{kind} said but not expected: {m}" for m in got if m not in want]
        outcomes.append(TestOutcome(name, str(path), "fail" if details else "pass", details))
    return outcomes


def _statements(source: str) -> list[str]:
    """The top-level statements of a module, as text: each starts at a line that is not
    indented and is not a closing brace or a comment."""
    chunks: list[list[str]] = [[]]
    for line in source.splitlines(keepends=True):
        starts = line[:1] not in ("", " ", "\t", "\n", "\r", "}", "#", "]", ")")
        if starts and chunks[-1]:
            chunks.append([])
        chunks[-1].append(line)
    return ["".join(c) for c in chunks if c]


def test_rules(policy: PolicyFile) -> list[tuple[str, str, str]]:
    """(package, rule, a module holding only that test) for each `test_*` rule of a file.

    rego-cpp dies while compiling a `with input as` over a rule that reads input, whichever
    rule is queried: so each test goes to the engine alone, with the file's package, imports
    and helpers (those without `with`), and only that test fails when it cannot be run."""
    package = _PACKAGE.search(policy.source)
    if package is None:
        return []
    statements = _statements(policy.source)
    common = [s for s in statements if not _TEST_RULE.match(s) and " with " not in s]
    tests: dict[str, list[str]] = {}
    for statement in statements:
        match = _TEST_RULE.match(statement)
        if match:
            tests.setdefault(match[1], []).append(statement)
    return [(package[1], name, "".join(common) + "\n" + "".join(parts))
            for name, parts in tests.items()]


def run_test_rule(policy: PolicyFile, package: str, rule: str, module: str,
                  policies: list[PolicyFile]) -> TestOutcome:
    modules = [p for p in policies if not p.is_test] + [PolicyFile(policy.path, module)]
    name = f"data.{package}.{rule}"
    try:
        groups = run({"modules": [[p.path, p.source] for p in modules], "input": None,
                      "groups": [{"modules": list(range(len(modules))), "queries": [name]}]})
    except WorkerCrashed:
        return TestOutcome(name, policy.path, "error", [CRASHED])
    answer = groups[0]
    if "error" in answer:
        error = EngineError.from_json(answer["error"])
        if error.file == policy.path:  # the line is in the test module as sent, not the file
            error = EngineError(error.message, policy.path, None)
        return TestOutcome(name, policy.path, "error",
                           [engine_failure(error, policy.path).message])
    value = (answer.get("results") or {}).get(name)
    if value is True:
        return TestOutcome(name, policy.path, "pass")
    return TestOutcome(name, policy.path, "fail",
                       ["the rule is undefined (a condition did not hold)" if value is None
                        else f"the rule is {json.dumps(value)}, not true"])


def run_tests(paths: tuple[str, ...] | list[str]) -> list[TestOutcome]:
    every = read_policies(paths, tests=True)
    policies = [p for p in every if not p.is_test]
    outcomes: list[TestOutcome] = []
    for path in case_files(paths):
        outcomes += run_case_file(path, policies)
    for policy in every:
        if policy.is_test:
            outcomes += [run_test_rule(policy, package, rule, module, policies)
                         for package, rule, module in test_rules(policy)]
    if not outcomes:
        raise MxsyncError(f"no policy tests under {' '.join(paths)}",
                          hint="add *_test.yaml case files or test_* rules in *_test.rego files")
    return outcomes
