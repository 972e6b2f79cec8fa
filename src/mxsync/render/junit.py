"""JUnit XML: one test case per org and check, so CI systems show audits as tests."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from mxsync.render.findings import finding_message
from mxsync.render.safe import xml_text
from mxsync.render.words import plural

if TYPE_CHECKING:
    from mxsync.audit import AuditResult, Finding


def _lines(hits: list[Finding]) -> str:
    return "\n".join(xml_text(
        f"[{f.severity}] {f.credential + ': ' if f.credential else ''}{finding_message(f)}")
        for f in hits)


def audit_junit(result: AuditResult, fail_on: str = "error") -> str:
    """Only findings that fail the run under `fail_on` are `<failure>`s, so a CI test report
    agrees with the exit code; the others are still reported: a check with no failing finding
    is `<skipped>` (saying why it does not fail), and every finding a `<failure>` does not list
    is in the case's `<system-out>`."""
    from mxsync.audit import fails_run

    suites = ET.Element("testsuites", name="mxsync audit")
    total = failures = skipped = 0
    for org in result.orgs:
        found = [f for f in result.findings if f.org == org]
        suite = ET.SubElement(suites, "testsuite", name=xml_text(org))
        org_failures = org_skipped = 0
        for check in result.checks:
            case = ET.SubElement(suite, "testcase", classname=xml_text(org), name=xml_text(check))
            hits = [f for f in found if f.code == check]
            failing = [f for f in hits if fails_run(f, fail_on)]
            rest = [f for f in hits if not fails_run(f, fail_on)]
            if failing:
                org_failures += 1
                failure = ET.SubElement(case, "failure", type=failing[0].severity,
                                        message=plural(len(failing), f"{check} finding"))
                failure.text = _lines(failing)
            elif rest:
                org_skipped += 1
                ET.SubElement(case, "skipped", message=(
                    f"{plural(len(rest), f'{check} finding')}, not failing the run "
                    f"(--fail-on {fail_on})"))
            if rest:
                ET.SubElement(case, "system-out").text = _lines(rest)
        suite.set("tests", str(len(result.checks)))
        suite.set("failures", str(org_failures))
        suite.set("skipped", str(org_skipped))
        total += len(result.checks)
        failures += org_failures
        skipped += org_skipped
    suites.set("tests", str(total))
    suites.set("failures", str(failures))
    suites.set("skipped", str(skipped))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode")
