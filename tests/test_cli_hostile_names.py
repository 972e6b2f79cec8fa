"""Strings are what they look like (#12.6): names, labels and details from the service are
printed with control characters, terminal escapes and bidi overrides shown, not obeyed,
in every text and Markdown output; JUnit is well-formed XML whatever they contain."""

from __future__ import annotations

import json
import unicodedata
import xml.etree.ElementTree as ET
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from mxsync import ownership
from mxsync.audit import UNMANAGED, AuditResult
from mxsync.cli import handle_errors
from mxsync.errors import MxsyncError
from mxsync.plan import Change, OrgPlan, Plan, PlanOptions, Reason
from mxsync.render.junit import audit_junit
from mxsync.render.markdown import audit_markdown, plan_markdown
from mxsync.render.safe import printable, xml_text
from mxsync.render.text import render_audit, render_plan
from tests.cli_helpers import mxsync, write_manifest
from tests.conftest import OrgFactory, TestOrg, fake_key

# Clears the screen, sets the window title, rings, overwrites the line, reverses the text.
EVIL = "ok\x1b[2J\x1b]0;owned\x07\rFAKE\u202egnp.exe\x9b31m\x00\u2028end"
BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def unsafe(text: str, allow_newlines: bool = True) -> list[str]:
    """The characters a terminal would obey rather than show."""
    return [ch for ch in text
            if (unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") or ch in BIDI)
            and not (allow_newlines and ch == "\n")]


def env_for(org: TestOrg, **keys: str) -> dict[str, str]:
    return {"MODULEX_BASE_URL": org.url, "MODULEX_API_KEY": org.token, **keys}


# -- the function --------------------------------------------------------------------------
@given(st.text())
def test_printable_leaves_nothing_to_obey(text: str) -> None:
    shown = printable(text)
    assert unsafe(shown, allow_newlines=False) == []
    assert printable(shown) == shown  # idempotent: rendering twice changes nothing


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"),
                                      blacklist_characters=BIDI)))
def test_printable_keeps_ordinary_text_as_it_is(text: str) -> None:
    assert printable(text) == text


def test_printable_shows_what_was_there() -> None:
    assert printable("a\x1b[31mb\rc\u202ed") == "a\\x1b[31mb\\rc\\u202ed"
    assert printable("line\nnext", keep_newlines=True) == "line\nnext"
    assert printable("line\nnext") == "line\\nnext"


@given(st.text())
def test_xml_text_is_always_legal_xml(text: str) -> None:
    element = ET.Element("t", attrib={"a": xml_text(text)})
    element.text = xml_text(text)
    ET.fromstring(ET.tostring(element, encoding="unicode"))


@given(org=st.text(min_size=1), credential=st.none() | st.text(), message=st.text())
def test_junit_is_well_formed_whatever_the_names(org: str, credential: str | None,
                                                 message: str) -> None:
    result = AuditResult(orgs=[org], checks=["unmanaged"], findings=[
        UNMANAGED.found(org, name=credential, other_owner=message, owner=message)])
    root = ET.fromstring(audit_junit(result, "warning").split("\n", 1)[1])  # a warning fails
    assert root.get("failures") == "1"


# No deadline: the first example pays for the field diff's lazy import of deepdiff.
@settings(deadline=None)
@given(name=st.text(min_size=1), label=st.text(), detail=st.text())
def test_text_and_markdown_renderings_leave_nothing_to_obey(name: str, label: str,
                                                            detail: str) -> None:
    plan = Plan(owner="o", orgs=(OrgPlan(
        org="org-a", token_env="T", label=label,
        changes=(Change("update", "org-a", "p", Reason("attributes-differ"), credential_id="c1",
                        before={"display_name": name, "labels": {"team": label}},
                        after={"display_name": "p", "labels": {"team": "x"}}),
                 Change("delete", "org-a", name, Reason("pruned"), credential_id="c2")),
        notes=(Reason("orphans-kept", {"owner": "o", "names": [name]}),),
        errors=(Reason("unread", {"message": detail}),)),
        # folded into the Markdown's "no changes" line, and named by --changed-since
        OrgPlan(org=name, token_env=detail, label=label)),
        options=PlanOptions(changed_since=detail, left_out=(name, label)))
    audit = AuditResult(orgs=["org-a"], checks=["unmanaged"], findings=[
        UNMANAGED.found("org-a", name=name, cred_id="c1", other_owner=detail, owner=label)])
    for out in (render_plan(plan), plan_markdown(plan), render_audit(audit),
                audit_markdown(audit)):
        assert unsafe(out) == []


def test_the_error_printer_shows_service_details_as_text() -> None:
    @click.command()
    @handle_errors
    def boom() -> None:
        raise MxsyncError(f"the service said: {EVIL}", hint="try again")

    result = CliRunner().invoke(boom)
    assert result.exit_code == 1
    assert unsafe(result.output) == []
    assert "ok\\x1b[2J" in result.output and result.output.endswith("\n  try again\n")


# -- over the wire, through the CLI ------------------------------------------------------------
@pytest.fixture
def hostile_org(new_org: OrgFactory) -> TestOrg:
    """An org whose credentials' names and labels carry escapes: one unmanaged, one of
    ours that the manifest no longer lists (its entry name comes from the service)."""
    ours = ownership.managed_metadata({"team": EVIL}, "test", f"gone{EVIL}", "sha256:00", None)
    return new_org(credentials=[
        {"integration_name": "xai", "display_name": EVIL, "api_key": fake_key(),
         "is_default": True},
        {"integration_name": "xai", "display_name": f"gone{EVIL}", "api_key": fake_key(),
         "metadata": ours},
    ])


@pytest.mark.slow
def test_no_output_obeys_a_hostile_name(hostile_org: TestOrg, tmp_path: Path) -> None:
    org = hostile_org
    path = write_manifest(tmp_path / "m.yaml", [{"id": org.id}])
    env = env_for(org, K=fake_key())
    outputs = []
    for args in (["plan", "-f", path], ["plan", "-f", path, "--format", "markdown"],
                 ["audit", "-f", path], ["audit", "-f", path, "--format", "markdown"],
                 ["audit", "--org", org.id], ["audit", "-f", path, "--format", "junit"]):
        run = mxsync(*args, env=env)
        assert "internal error" not in run.both and "Traceback" not in run.both, run.both
        outputs.append(run.out)
        assert unsafe(run.both) == [], (args, run.both)
    assert any("ok\\x1b[2J" in out for out in outputs)  # shown, not dropped
    junit = outputs[-1]
    ET.fromstring(junit.split("\n", 1)[1])
    plan = json.loads(mxsync("plan", "-f", path, "--json", env=env).out)
    assert plan["orgs"][0]["orphans"] == [f"gone{EVIL}"]  # JSON carries the exact value
