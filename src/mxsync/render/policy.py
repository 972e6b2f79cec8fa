"""A policy result (and `policy test` outcomes) as text, JSON, Markdown and JUnit.

Messages come from policies, which may put anything in them: every format shows them
through the same escaping as the rest of mxsync's output (render.safe)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from mxsync.render.safe import printable, xml_text
from mxsync.render.words import plural

if TYPE_CHECKING:
    from mxsync.policy.cases import TestOutcome
    from mxsync.policy.model import PolicyResult

_LABEL = {"deny": "DENY", "warn": "WARN"}


def verdict(result: PolicyResult) -> str:
    if result.denied:
        return (f"Policy check failed: {plural(len(result.denies), 'deny', 'denies')}, "
                f"{plural(len(result.warnings), 'warning')} "
                f"({plural(len(result.files), 'policy file')}).")
    return (f"Policy check passed: no deny, {plural(len(result.warnings), 'warning')} "
            f"({plural(len(result.files), 'policy file')}).")


def policy_text(result: PolicyResult) -> str:
    lines = [f"{_LABEL[m.kind]} - {printable(m.file)} - {printable(m.namespace)}.{m.rule}: "
             f"{printable(m.msg)}" for m in result.messages]
    return "\n".join([*lines, verdict(result)])


def policy_json(result: PolicyResult) -> str:
    return json.dumps(result.to_json(), indent=2)


def _cell(text: str) -> str:
    """Printable, and unable to end the cell, open an HTML tag or a code span."""
    return (printable(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("|", "\\|").replace("`", "'"))


def policy_markdown(result: PolicyResult) -> str:
    lines = ["### Policy check", "", verdict(result)]
    if result.messages:
        lines += ["", "| | Policy | Rule | Message |", "|---|---|---|---|"]
        lines += [f"| {'❌' if m.kind == 'deny' else '⚠️'} {_LABEL[m.kind]} | `{_cell(m.file)}` | "
                  f"`{_cell(m.namespace)}.{m.rule}` | {_cell(m.msg)} |" for m in result.messages]
    return "\n".join(lines)


def policy_junit(result: PolicyResult) -> str:
    """One test case per rule result: a deny is a failure, a warning passes with its text in
    system-out; a clean run is one passing case per policy file."""
    suites = ET.Element("testsuites", name="mxsync policy check")
    suite = ET.SubElement(suites, "testsuite", name="mxsync policy")
    failures = 0
    for message in result.messages:
        case = ET.SubElement(suite, "testcase", classname=xml_text(message.file),
                             name=xml_text(f"{message.namespace}.{message.rule}: {message.msg}"))
        if message.kind == "deny":
            failures += 1
            failure = ET.SubElement(case, "failure", type="deny", message=xml_text(message.msg))
            failure.text = xml_text(message.msg)
        else:
            ET.SubElement(case, "system-out").text = xml_text(f"warning: {message.msg}")
    if not result.messages:
        for file in result.files:
            ET.SubElement(suite, "testcase", classname=xml_text(file), name="no deny")
    tests = len(suite)
    for element in (suite, suites):
        element.set("tests", str(tests))
        element.set("failures", str(failures))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode")


def render_result(result: PolicyResult, fmt: str) -> str:
    return {"json": policy_json, "markdown": policy_markdown, "junit": policy_junit}.get(
        fmt, policy_text)(result)


def tests_text(outcomes: list[TestOutcome]) -> str:
    lines = []
    for outcome in outcomes:
        lines.append(f"{outcome.outcome.upper():5} {printable(outcome.file)}: {printable(outcome.name)}")
        lines += [f"      {printable(d)}" for d in outcome.details]
    counts = {k: sum(o.outcome == k for o in outcomes) for k in ("pass", "fail", "error")}
    lines.append(f"{plural(len(outcomes), 'test')}: {counts['pass']} passed, {counts['fail']} "
                 f"failed, {plural(counts['error'], 'error')}.")
    return "\n".join(lines)
