"""JUnit XML: one test case per org and check, so CI systems show audits as tests."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from mxsync.render.findings import finding_message
from mxsync.render.safe import xml_text
from mxsync.render.words import plural

if TYPE_CHECKING:
    from mxsync.audit import AuditResult


def audit_junit(result: AuditResult) -> str:
    suites = ET.Element("testsuites", name="mxsync audit")
    total = failures = 0
    for org in result.orgs:
        found = [f for f in result.findings if f.org == org]
        suite = ET.SubElement(suites, "testsuite", name=xml_text(org))
        org_failures = 0
        for check in result.checks:
            case = ET.SubElement(suite, "testcase", classname=xml_text(org), name=xml_text(check))
            hits = [f for f in found if f.code == check]
            if hits:
                org_failures += 1
                failure = ET.SubElement(case, "failure", type=hits[0].severity,
                                        message=plural(len(hits), f"{check} finding"))
                failure.text = "\n".join(xml_text(
                    f"[{f.severity}] {f.credential + ': ' if f.credential else ''}{finding_message(f)}")
                    for f in hits)
        suite.set("tests", str(len(result.checks)))
        suite.set("failures", str(org_failures))
        total += len(result.checks)
        failures += org_failures
    suites.set("tests", str(total))
    suites.set("failures", str(failures))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode")
