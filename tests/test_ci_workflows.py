"""The CI examples do what their comments say: their steps run here, against the emulator.

A small stand-in for the GitHub Actions runner executes the workflows' own `run:` scripts
in bash, in job order, with the expressions they use (`secrets`, `github`, `steps.*.outputs`,
`inputs`) filled in, `$GITHUB_OUTPUT` and `$GITHUB_STEP_SUMMARY` as files, the repository's
composite `action.yml` for `uses: <owner>/mxsync@<ref>`, `upload-artifact` as a copy into a
folder, and a fake `gh` that answers from that folder. What it leaves out is what a test
cannot do: installing mxsync (the one under test is on PATH) and checking out the
repository (the job's folder already holds the manifest).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cli_helpers import mxsync, write_manifest
from tests.conftest import OrgFactory, TestOrg, fake_key

ROOT = Path(__file__).resolve().parents[1]
ACTION = ROOT / "action.yml"
PLAN_APPLY = ROOT / "examples" / "ci" / "github-actions.yml"
AUDIT = ROOT / "examples" / "ci" / "github-actions-audit.yml"
WORKFLOWS = sorted((ROOT / "examples" / "ci").glob("*.yml"))

FAKE_GH = """#!/usr/bin/env bash
# What the workflows ask of `gh`, answered from the test's folders (see GhWorld).
echo "gh $*" >> "$FAKE_GH/calls"
case "$1 $2" in
  "api repos/"*) cat "$FAKE_GH/merged-head" 2>/dev/null || true ;;
  "run list")    cat "$FAKE_GH/run-id" 2>/dev/null || true ;;
  "run download")
    shift 2; run="$1"; shift
    while [ $# -gt 0 ]; do
      case "$1" in --name) name="$2"; shift 2 ;; --dir) dir="$2"; shift 2 ;; *) shift ;; esac
    done
    src="$FAKE_GH/artifacts/$run/$name"
    [ -d "$src" ] || { echo "no artifact matches any of the names or patterns provided" >&2; exit 1; }
    cp -r "$src"/. "${dir:-.}" ;;
  "pr comment")  cat "${@: -1}" > "$FAKE_GH/comment" ;;
  *) echo "fake gh: unexpected call: $*" >&2; exit 2 ;;
esac
"""


def load_yaml(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    if True in doc:  # YAML 1.1 reads the key `on` as a boolean
        doc["on"] = doc.pop(True)
    return doc


@dataclass
class Context:
    """What the runner fills expressions from."""

    secrets: dict[str, str]
    github: dict[str, str]
    steps: dict[str, dict[str, str]] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)
    failed: bool = False

    def lookup(self, name: str) -> str:
        head, _, rest = name.partition(".")
        if head == "secrets":
            return self.secrets.get(rest, "")
        if head == "github":
            value = self.github.get(rest)
            assert value is not None, f"the test runner has no github.{rest}"
            return value
        if head == "inputs":
            return self.inputs.get(rest, "")
        if head == "steps":
            step, _, output = rest.partition(".outputs.")
            return self.steps.get(step, {}).get(output, "")
        raise AssertionError(f"the test runner does not know the expression {name!r}")

    def expression(self, text: str) -> str:
        """`a || b`: the first that is not empty, as GitHub's `||` does with strings."""
        for alternative in (part.strip() for part in text.split("||")):
            value = alternative[1:-1] if alternative.startswith("'") else self.lookup(alternative)
            if value:
                return value
        return ""

    def fill(self, value: Any) -> str:
        return re.sub(r"\$\{\{\s*(.+?)\s*\}\}", lambda m: self.expression(m.group(1)), str(value))

    def condition(self, text: str | None) -> bool:
        """The `if:` forms the workflows use: status functions and `x == 'v'`, joined by &&."""
        if text is None:
            return not self.failed
        text = text.strip().removeprefix("${{").removesuffix("}}")
        result, status_given = True, False
        for part in (p.strip() for p in text.split("&&")):
            if part in ("always()", "failure()", "success()"):
                status_given = True
                result &= {"always()": True, "failure()": self.failed, "success()": not self.failed}[part]
                continue
            match = re.fullmatch(r"([\w.-]+)\s*(==|!=)\s*'([^']*)'", part)
            assert match, f"the test runner does not know the condition {part!r}"
            equal = self.lookup(match.group(1)) == match.group(3)
            result &= equal if match.group(2) == "==" else not equal
        return result and (status_given or not self.failed)


@dataclass
class StepRun:
    name: str
    code: int
    out: str


@dataclass
class Job:
    ran: list[StepRun]
    summary: str
    failed: bool

    def step(self, name: str) -> StepRun:
        (found,) = [s for s in self.ran if s.name == name]
        return found

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.ran]


class Runner:
    def __init__(self, tmp: Path, workdir: Path) -> None:
        self.tmp, self.workdir = tmp, workdir
        self.gh = tmp / "gh-world"
        (self.gh / "artifacts").mkdir(parents=True)
        bin_dir = tmp / "bin"
        bin_dir.mkdir()
        (bin_dir / "gh").write_text(FAKE_GH)
        (bin_dir / "gh").chmod(stat.S_IRWXU)
        self.path = os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), os.environ["PATH"]])
        self.count = 0

    def _bash(self, script: str, env: dict[str, str], ctx: Context, step_id: str | None) -> StepRun:
        self.count += 1
        output = self.tmp / f"output-{self.count}"
        output.write_text("")
        base = {k: v for k, v in os.environ.items() if not k.startswith(("MODULEX_", "XAI_", "GITHUB_"))}
        full = {**base, **env, "PATH": self.path, "FAKE_GH": str(self.gh), "GITHUB_OUTPUT": str(output),
                "GITHUB_STEP_SUMMARY": str(self.tmp / "summary"), "GITHUB_SHA": ctx.github["sha"],
                "GITHUB_REPOSITORY": ctx.github["repository"], "CI": "true"}
        # GitHub's own default shell for `run:` on Linux runners.
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                              cwd=self.workdir, env=full, capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL)
        if step_id:
            ctx.steps[step_id] = dict(line.split("=", 1) for line in output.read_text().splitlines() if line)
        return StepRun("", proc.returncode, proc.stdout + proc.stderr)

    def run_job(self, workflow: Path, job_name: str, ctx: Context) -> Job:
        doc = load_yaml(workflow)
        job = doc["jobs"][job_name]
        (self.tmp / "summary").write_text("")
        ran: list[StepRun] = []
        if ctx.condition(job.get("if")):
            env = {k: ctx.fill(v) for k, v in {**doc.get("env", {}), **job.get("env", {})}.items()}
            for step in job["steps"]:
                self._step(step, env, ctx, ran)
        return Job(ran, (self.tmp / "summary").read_text(), ctx.failed)

    def _step(self, step: dict[str, Any], env: dict[str, str], ctx: Context, ran: list[StepRun]) -> None:
        name = step.get("name") or step.get("uses") or step["run"]
        if not ctx.condition(step.get("if")):
            return
        step_env = {**env, **{k: ctx.fill(v) for k, v in step.get("env", {}).items()}}
        with_ = {k: ctx.fill(v) for k, v in step.get("with", {}).items()}
        uses = step.get("uses", "")
        if "run" in step:
            if step["run"].startswith("python -m pip install"):
                return  # the mxsync under test is already installed
            result = self._bash(step["run"], step_env, ctx, step.get("id"))
        elif uses.startswith(("actions/checkout@", "actions/setup-python@")):
            return
        elif uses.startswith("actions/upload-artifact@"):
            target = self.gh / "artifacts" / ctx.github["run_id"] / with_["name"]
            target.mkdir(parents=True)
            source = self.workdir / with_["path"]
            assert source.is_file() or with_.get("if-no-files-found") != "error", f"{source} missing"
            shutil.copy(source, target)
            result = StepRun("", 0, "")
        elif uses == "./" or re.fullmatch(r"[^/]+/mxsync@.+", uses):
            result = self.action(with_, step_env, ctx, step.get("id"))
        else:
            raise AssertionError(f"the test runner does not know the action {uses!r}")
        result.name = name
        ran.append(result)
        if result.code != 0:
            ctx.failed = True

    def action(self, with_: dict[str, str], env: dict[str, str], ctx: Context,
                step_id: str | None) -> StepRun:
        action = load_yaml(ACTION)
        inputs = {name: spec.get("default", "") for name, spec in action["inputs"].items()}
        unknown = set(with_) - set(inputs)
        assert not unknown, f"inputs the action does not declare: {unknown}"
        inner = Context(ctx.secrets, ctx.github, {}, {**inputs, **with_})
        outputs: list[StepRun] = []
        for step in action["runs"]["steps"]:
            self._step(step, env, inner, outputs)
        if step_id:
            ctx.steps[step_id] = {name: inner.fill(spec["value"]) for name, spec in action["outputs"].items()}
        code = next((s.code for s in outputs if s.code), 0)
        return StepRun("", code, "".join(s.out for s in outputs))


# -- the files themselves ----------------------------------------------------------------

@pytest.mark.parametrize("path", [*WORKFLOWS, ACTION], ids=lambda p: p.name)
def test_files_are_yaml_github_reads(path: Path) -> None:
    doc = load_yaml(path)
    steps: list[dict[str, Any]] = []
    if path == ACTION:
        assert doc["runs"]["using"] == "composite"
        steps = doc["runs"]["steps"]
        assert all("shell" in s for s in steps if "run" in s), "a composite step must name its shell"
    else:
        assert doc["name"] and doc["on"] and doc["permissions"]
        for job in doc["jobs"].values():
            assert job["runs-on"] == "ubuntu-latest"
            steps += job["steps"]
            ids = [s["id"] for s in job["steps"] if "id" in s]
            assert len(ids) == len(set(ids))
    for step in steps:
        assert ("run" in step) != ("uses" in step), step
        if "uses" in step and not step["uses"].startswith("<owner>/"):
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", step["uses"]), step["uses"]
        # Expressions go through env:, never into the script text (script injection).
        assert "${{" not in step.get("run", ""), step["run"]


def test_the_action_declares_the_inputs_a_workflow_passes_and_uses_each() -> None:
    action = load_yaml(ACTION)
    assert {"command", "manifest", "args"} <= set(action["inputs"])
    assert action["inputs"]["command"]["required"] is True
    text = json.dumps(action["runs"])
    for name in action["inputs"]:
        assert f"inputs.{name}" in text, f"input {name} is declared but never used"
    for workflow in WORKFLOWS:
        for job in load_yaml(workflow)["jobs"].values():
            for step in job["steps"]:
                if step.get("uses", "").startswith("<owner>/mxsync@"):
                    assert set(step["with"]) <= set(action["inputs"])


def test_every_mxsync_command_in_the_ci_files_is_run_by_these_tests() -> None:
    """Each step that runs mxsync appears in a scenario below (by step name)."""
    exercised = {
        PLAN_APPLY: {"validate", "plan", "policy check", "apply exactly that plan"},
        AUDIT: {"audit, as JUnit", "audit, as Markdown"},
    }
    for workflow in WORKFLOWS:
        named = set()
        for job in load_yaml(workflow)["jobs"].values():
            for step in job["steps"]:
                runs_mxsync = re.search(r"(?m)^\s*mxsync\s", step.get("run", ""))
                if runs_mxsync or step.get("uses", "").startswith("<owner>/mxsync@"):
                    named.add(step["name"])
        assert named == exercised[workflow], workflow.name
    assert "mxsync" in load_yaml(ACTION)["runs"]["steps"][-1]["run"]


# -- the scenarios ----------------------------------------------------------------------

@dataclass
class Repo:
    """A repository with a manifest for one org of its own, and the secrets GitHub would pass."""

    runner: Runner
    org: TestOrg
    secrets: dict[str, str]

    def context(self, event: str, run_id: str, secrets: bool = True) -> Context:
        return Context(self.secrets if secrets else {}, {
            "event_name": event, "token": "ghs_fake", "repository": "acme/infra", "sha": "abc123",
            "run_id": run_id, "workflow_ref": "acme/infra/.github/workflows/mxsync.yml@refs/heads/main",
            "event.pull_request.number": "7", "action_path": str(ROOT),
        })

    def pull_request(self, secrets: bool = True) -> Job:
        return self.runner.run_job(PLAN_APPLY, "plan", self.context("pull_request", "1001", secrets))

    def merge(self, reviewed_run: str | None = "1001") -> Job:
        gh = self.runner.gh
        (gh / "merged-head").write_text("headsha1\n" if reviewed_run else "")
        (gh / "run-id").write_text(f"{reviewed_run}\n" if reviewed_run else "")
        return self.runner.run_job(PLAN_APPLY, "apply", self.context("push", "1002"))


@pytest.fixture
def repo(new_org: OrgFactory, emulator_url: str, tmp_path: Path) -> Repo:
    org = new_org()
    workdir = tmp_path / "repo"
    workdir.mkdir()
    write_manifest(workdir / "mxsync.yaml", [{
        "id": org.id, "xai": {"default": "primary", "credentials": [
            {"name": "primary", "api_key_env": "XAI_KEY_ACME_PRIMARY"}]}}], api={"url": emulator_url})
    return Repo(Runner(tmp_path, workdir), org,
                {"MODULEX_API_KEY": org.token, "XAI_KEY_ACME_PRIMARY": fake_key("ci")})


def test_pull_request_plans_once_and_posts_and_uploads_that_plan(repo: Repo) -> None:
    job = repo.pull_request()
    assert not job.failed, job.ran
    assert job.names == ["validate", "are the secrets there?", "plan", "policy check",
                         "upload the plan", "comment the plan on the pull request"]
    plan_file = repo.runner.gh / "artifacts" / "1001" / "mxsync-plan" / "plan.json"
    comment = (repo.runner.gh / "comment").read_text()
    assert comment.startswith("## mxsync plan")
    assert f"`{repo.org.id}/xai/primary`" in comment
    assert comment in job.summary
    # The comment is the uploaded plan's: the saved file, shown, ends with the same summary.
    shown = mxsync("show", str(plan_file), env={})
    assert shown.code == 0, shown.both
    closing = shown.out.strip().splitlines()[-1]
    assert closing.startswith("Plan: 1 to create")
    assert f"**{closing}**" in comment
    calls = (repo.runner.gh / "calls").read_text().splitlines()
    assert calls == ["gh pr comment 7 --edit-last --body-file plan.md"]
    assert repo.org.xai() == []  # a plan changes nothing
    for secret in repo.secrets.values():
        assert secret not in comment + plan_file.read_text() + "".join(s.out for s in job.ran)


def test_pull_request_posts_the_policy_verdict_beside_the_plan(repo: Repo) -> None:
    shutil.copytree(ROOT / "examples" / "policies", repo.runner.workdir / "policies")
    job = repo.pull_request()
    assert not job.failed, job.ran
    comment = (repo.runner.gh / "comment").read_text()
    assert comment.startswith("## mxsync plan")
    assert "### Policy check" in comment and "Policy check passed: no deny, 1 warning" in comment
    assert f"{repo.org.id}/xai/primary: becomes the org's default credential" in comment
    assert "### Policy check" in job.summary


def test_pull_request_with_a_denied_plan_comments_the_deny_and_fails(repo: Repo) -> None:
    shutil.copytree(ROOT / "examples" / "policies", repo.runner.workdir / "policies")
    manifest = repo.runner.workdir / "mxsync.yaml"
    manifest.write_text(manifest.read_text().replace(
        "api_key_env: XAI_KEY_ACME_PRIMARY", "api_key_env: XAI_KEY_ACME_PRIMARY\n      test: false"))
    job = repo.pull_request()
    assert job.failed
    assert job.names[-2:] == ["comment the plan on the pull request", "a policy deny fails the run"]
    comment = (repo.runner.gh / "comment").read_text()
    assert "Policy check failed: 1 deny" in comment
    assert f"{repo.org.id}/xai/primary: the key would be stored without ModuleX" in comment
    assert repo.org.xai() == []


def test_merge_applies_the_reviewed_artifact_and_nothing_else(repo: Repo) -> None:
    assert not repo.pull_request().failed
    job = repo.merge()
    assert not job.failed, job.ran
    assert "Apply complete: 1 created" in job.step("apply exactly that plan").out
    (cred,) = repo.org.xai()
    assert cred["display_name"] == "primary" and cred["is_default"]
    calls = (repo.runner.gh / "calls").read_text().splitlines()
    assert calls[-3:] == [
        "gh api repos/acme/infra/commits/abc123/pulls "
        "--jq [.[] | select(.merged_at != null)][0].head.sha // empty",
        "gh run list --workflow mxsync.yml --event pull_request --commit headsha1 --status success --limit 1 "
        "--json databaseId --jq .[0].databaseId // empty",
        "gh run download 1001 --name mxsync-plan --dir .",
    ]


def test_merge_refuses_the_reviewed_plan_when_the_world_moved(repo: Repo) -> None:
    assert not repo.pull_request().failed
    with repo.org.client() as client:  # someone changes the org by hand after the review
        client.post("/credentials", json={"integration_name": "xai", "display_name": "by-hand",
                                          "auth_data": {"api_key": fake_key("hand")}}).raise_for_status()
    job = repo.merge()
    assert job.failed
    assert "stale" in job.step("apply exactly that plan").out
    assert [c["display_name"] for c in repo.org.xai()] == ["by-hand"]  # nothing applied


def test_pull_request_whose_plan_fails_uploads_and_comments_nothing(repo: Repo) -> None:
    repo.secrets.pop("XAI_KEY_ACME_PRIMARY")  # the secret was never added to the repository
    job = repo.pull_request()
    assert job.failed
    assert job.names == ["validate", "are the secrets there?", "plan"]
    assert "XAI_KEY_ACME_PRIMARY" in job.step("plan").out
    assert not (repo.runner.gh / "artifacts" / "1001").exists()
    assert not (repo.runner.gh / "calls").exists()


def test_fork_pull_request_without_secrets_is_skipped_with_a_notice(repo: Repo) -> None:
    job = repo.pull_request(secrets=False)
    assert not job.failed, job.ran
    assert job.names == ["validate", "are the secrets there?"]
    assert "mxsync plan skipped: this pull request gets no repository secrets" in job.summary
    assert "::notice title=mxsync::mxsync plan skipped" in job.step("are the secrets there?").out
    assert not (repo.runner.gh / "calls").exists()


def test_fork_pull_request_with_an_invalid_manifest_still_fails(repo: Repo) -> None:
    manifest = repo.runner.workdir / "mxsync.yaml"
    manifest.write_text(manifest.read_text().replace("version: 1", "version: 3"))
    job = repo.pull_request(secrets=False)
    assert job.failed
    assert job.names == ["validate"]


def test_push_without_a_reviewed_plan_applies_nothing_and_fails(repo: Repo) -> None:
    job = repo.merge(reviewed_run=None)
    assert job.failed
    assert "was not merged from a pull request" in job.ran[-1].out
    assert job.names == ["download the plan reviewed on the pull request"]
    assert repo.org.xai() == []


def test_merge_of_a_pull_request_that_was_never_planned_applies_nothing(repo: Repo) -> None:
    repo.pull_request(secrets=False)  # a fork: no artifact
    job = repo.merge()
    assert job.failed
    assert "no saved plan from a successful pull-request run" in job.ran[-1].out
    assert repo.org.xai() == []


def run_audit(repo: Repo) -> Job:
    return repo.runner.run_job(AUDIT, "audit", repo.context("schedule", "2001"))


def test_nightly_audit_writes_junit_and_passes_when_all_is_in_line(repo: Repo) -> None:
    assert not repo.pull_request().failed and not repo.merge().failed
    job = run_audit(repo)
    assert not job.failed, job.ran
    report = repo.runner.gh / "artifacts" / "2001" / "mxsync-audit" / "mxsync-audit.xml"
    suites = ET.parse(report).getroot()
    assert suites.iter("testcase") and not list(suites.iter("failure"))
    assert "+ mxsync audit -f mxsync.yaml --fail-on warning --format junit" in job.ran[0].out
    assert repo.org.id in job.summary


def test_nightly_audit_fails_on_a_warning_and_still_reports_it(repo: Repo) -> None:
    assert not repo.pull_request().failed and not repo.merge().failed
    with repo.org.client() as client:  # an unmanaged key: a warning
        client.post("/credentials", json={"integration_name": "xai", "display_name": "stray",
                                          "auth_data": {"api_key": fake_key("stray")}}).raise_for_status()
    job = run_audit(repo)
    assert job.failed
    assert job.names == ["audit, as JUnit", "audit, as Markdown", "upload the JUnit report"]
    assert [s.code for s in job.ran] == [1, 0, 0]
    report = repo.runner.gh / "artifacts" / "2001" / "mxsync-audit" / "mxsync-audit.xml"
    failures = list(ET.parse(report).getroot().iter("failure"))
    assert failures and any("unmanaged" in (f.get("message", "") + (f.text or "")) for f in failures)
    assert "unmanaged" in job.summary


def test_action_passes_no_manifest_when_told_and_honours_ok_exit_codes(repo: Repo) -> None:
    """`apply PLANFILE`/`show PLANFILE` take no -f; `plan --detailed-exitcode` exits 2 on changes."""
    ctx = repo.context("workflow_dispatch", "3001")
    ok = repo.runner.action({"command": "plan", "args": "--out plan.json --detailed-exitcode",
                              "ok-exit-codes": "0 2"}, dict(repo.secrets), ctx, "p")
    assert ok.code == 0, ok.out
    assert ctx.steps["p"] == {"exit-code": "2"}
    strict = repo.runner.action({"command": "plan", "args": "--detailed-exitcode"},
                                 dict(repo.secrets), ctx, "q")
    assert strict.code == 2 and ctx.steps["q"] == {"exit-code": "2"}
    shown = repo.runner.action({"command": "show", "manifest": "", "args": "plan.json"},
                                dict(repo.secrets), ctx, None)
    assert shown.code == 0, shown.out
    assert "+ mxsync show plan.json\n" in shown.out
