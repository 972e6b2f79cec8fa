"""The CI examples do what their comments say: their steps run here, against the emulator.

A small stand-in for the GitHub Actions runner executes the workflows' own `run:` scripts
in bash, in job order, with the expressions they use (`secrets`, `github`, `steps.*.outputs`,
`needs.*.outputs`, `inputs`) filled in, `$GITHUB_OUTPUT` and `$GITHUB_STEP_SUMMARY` as files,
the repository's composite `action.yml` for `uses: <owner>/mxsync@<ref>`, `upload-artifact`
and `download-artifact` as copies into and out of a folder, a fake `gh` that answers from
that folder, `actions/checkout` as a clone of a local git repository at the step's `ref` (or
the event's commit) into the job's own empty folder, and a job that names an `environment`
waiting until the test approves it. What it leaves out is what a test cannot do: installing
mxsync (the one under test is on PATH).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import sysconfig
import threading
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
    needs: dict[str, dict[str, str]] = field(default_factory=dict)  # job -> its outputs

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
        if head == "needs":
            job, _, output = rest.partition(".outputs.")
            assert job in self.needs, f"the test runner has not run the needed job {job!r}"
            return self.needs[job].get(output, "")
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
        """The `if:` forms the workflows use: status functions and `x == 'v'`, joined by &&,
        and alternatives of those joined by || (no parentheses)."""
        if text is None:
            return not self.failed
        text = text.strip().removeprefix("${{").removesuffix("}}")
        return any(self._all_of(alternative) for alternative in text.split("||"))

    def _all_of(self, text: str) -> bool:
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
    folder: Path | None = None  # where its steps ran
    outputs: dict[str, str] = field(default_factory=dict)
    waiting: bool = False  # for an approval of its environment: none of it ran

    def step(self, name: str) -> StepRun:
        (found,) = [s for s in self.ran if s.name == name]
        return found

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.ran]


def git(folder: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-C", str(folder), "-c", "user.name=ci", "-c", "user.email=ci@example.com",
                           *args], capture_output=True, text=True, check=True)
    return proc.stdout.strip()


class Runner:
    def __init__(self, tmp: Path, workdir: Path, pinned: dict[str, str] | None = None) -> None:
        """`workdir`: the repository (a git work tree) that checkout clones; a job's steps run
        in a fresh empty folder of their own, as on a new runner. `pinned`: variables the
        workflows must set in their `env:` (the API URLs); the test points each at the
        emulator instead of the real service."""
        self.tmp, self.workdir = tmp, workdir
        self.cwd = workdir  # where steps run: a job's own folder once a job runs
        self.pinned = pinned or {}
        self.approved: set[str] = set()  # environments whose required reviewers approved
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
                              cwd=self.cwd, env=full, capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL)
        if step_id:
            ctx.steps[step_id] = dict(line.split("=", 1) for line in output.read_text().splitlines() if line)
        return StepRun("", proc.returncode, proc.stdout + proc.stderr)

    def run_job(self, workflow: Path, job_name: str, ctx: Context) -> Job:
        doc = load_yaml(workflow)
        job = doc["jobs"][job_name]
        (self.tmp / "summary").write_text("")
        ran: list[StepRun] = []
        if not ctx.condition(job.get("if")):
            return Job(ran, "", ctx.failed)
        if job.get("environment") and job["environment"] not in self.approved:
            return Job(ran, "", ctx.failed, waiting=True)
        self.count += 1
        self.cwd = self.tmp / f"job-{self.count}"
        self.cwd.mkdir()
        env = {k: ctx.fill(v) for k, v in {**doc.get("env", {}), **job.get("env", {})}.items()}
        unpinned = set(self.pinned) - set(env)
        assert not unpinned, f"{workflow.name} leaves {unpinned} to the manifest"
        env.update(self.pinned)
        for step in job["steps"]:
            self._step(step, env, ctx, ran)
        outputs = {k: ctx.fill(v) for k, v in job.get("outputs", {}).items()}
        return Job(ran, (self.tmp / "summary").read_text(), ctx.failed, self.cwd, outputs)

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
        elif uses.startswith("actions/setup-python@"):
            return
        elif uses.startswith("actions/checkout@"):
            ref = with_.get("ref") or ctx.github["sha"]
            commit = git(self.workdir, "rev-parse", "--verify", f"{ref}^{{commit}}")
            git(self.cwd, "clone", "-q", "--no-checkout", str(self.workdir), ".")
            git(self.cwd, "checkout", "-q", "--detach", commit)
            return
        elif uses.startswith("actions/download-artifact@"):
            source = self.gh / "artifacts" / ctx.github["run_id"] / with_["name"]
            assert source.is_dir(), f"no artifact {with_['name']} in this run"
            shutil.copytree(source, self.cwd / with_.get("path", "."), dirs_exist_ok=True)
            result = StepRun("", 0, "")
        elif uses.startswith("actions/upload-artifact@"):
            target = self.gh / "artifacts" / ctx.github["run_id"] / with_["name"]
            target.mkdir(parents=True)
            source = self.cwd / with_["path"]
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
        # It would run a pull request's manifest with this repository's secrets.
        assert "pull_request_target" not in doc["on"]
        for job in doc["jobs"].values():
            assert job["runs-on"] == "ubuntu-latest"
            assert "permissions" in job, "each job says the least it needs"
            assert "write-all" not in json.dumps(job["permissions"])
            steps += job["steps"]
            ids = [s["id"] for s in job["steps"] if "id" in s]
            assert len(ids) == len(set(ids))
    for step in steps:
        assert ("run" in step) != ("uses" in step), step
        if "uses" in step and not step["uses"].startswith("<owner>/"):
            # Pinned to a commit (a tag can be moved), with the version it is in a comment.
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", step["uses"]), step["uses"]
            assert re.search(rf"uses: {re.escape(step['uses'])} # v\d+\.\d+\.\d+\n",
                             path.read_text(encoding="utf-8")), step["uses"]
        if step.get("uses", "").startswith("actions/checkout@"):
            # No token left in .git/config for a later step (or an uploaded folder) to take.
            assert step["with"]["persist-credentials"] is False
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
        PLAN_APPLY: {"validate", "plan", "policy check", "apply exactly that plan", "plan main",
                     "apply the reviewed plan of main"},
        AUDIT: {"audit, as JUnit"},
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


def tool(name: str) -> str:
    """A linter of the `test` extra, next to this Python's own scripts."""
    found = shutil.which(name, path=sysconfig.get_path("scripts")) or shutil.which(name)
    assert found, f"{name} is not installed: pip install -e '.[test]'"
    return found


@pytest.fixture
def as_a_repository(tmp_path: Path) -> Path:
    """The examples laid out as a user's repository: the workflows under .github/workflows."""
    folder = tmp_path / "repository"
    (folder / ".github" / "workflows").mkdir(parents=True)
    for workflow in WORKFLOWS:
        shutil.copy(workflow, folder / ".github" / "workflows" / workflow.name)
    shutil.copy(ACTION, folder / "action.yml")
    return folder


def zizmor(folder: Path, *flags: str) -> list[dict[str, Any]]:
    proc = subprocess.run([tool("zizmor"), "--offline", "--no-config", "--format", "json", *flags,
                           str(folder)], capture_output=True, text=True, timeout=120)
    assert proc.returncode in (0, 11, 12, 13, 14), proc.stderr  # 1x: findings of severity x
    findings: list[dict[str, Any]] = json.loads(proc.stdout)
    return findings


def test_zizmor_finds_nothing_in_the_examples(as_a_repository: Path) -> None:
    assert zizmor(as_a_repository) == []
    # The only ignore comments are on `<owner>/mxsync@<ref>`, a placeholder the user replaces
    # with a commit (the audit workflow's header says so): nothing else is silenced.
    silenced = zizmor(as_a_repository, "--no-ignores")
    assert silenced, "the ignore comments silence nothing: remove them"
    for finding in silenced:
        primary = [loc for loc in finding["locations"] if loc["symbolic"]["kind"] == "Primary"]
        assert finding["ident"] == "unpinned-uses", finding["ident"]
        assert [loc["concrete"]["feature"] for loc in primary] == ["<owner>/mxsync@<ref>"]


@pytest.mark.parametrize(("schema", "paths"), [("vendor.github-workflows", WORKFLOWS),
                                           ("vendor.github-actions", [ACTION])],
                         ids=["workflows", "action"])
def test_github_schemas_accept_the_examples(schema: str, paths: list[Path]) -> None:
    proc = subprocess.run([tool("check-jsonschema"), "--builtin-schema", schema, *map(str, paths)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_pull_request_job_holds_no_secret_it_does_not_need() -> None:
    """It runs a stranger's manifest: the token and the keys' variables, nothing that mints."""
    doc = load_yaml(PLAN_APPLY)
    plan = doc["jobs"]["plan"]
    secrets = set(re.findall(r"\$\{\{\s*secrets\.(\w+)", json.dumps(plan)))
    assert secrets == {"MODULEX_API_KEY", "XAI_KEY_ACME_PRIMARY"}
    assert "XAI_MANAGEMENT_KEY" in json.dumps(doc["jobs"]["apply"])  # the jobs on main may
    # Where each secret may go is the workflow's to say, for every job.
    assert {"MODULEX_BASE_URL", "XAI_MANAGEMENT_URL"} <= set(doc["env"])
    assert "environment" not in plan


def test_the_apply_jobs_wait_for_approval_and_share_one_lock_that_never_cancels() -> None:
    jobs = load_yaml(PLAN_APPLY)["jobs"]
    applies = [name for name, job in jobs.items()
               if any("mxsync apply" in s.get("run", "") for s in job["steps"])]
    assert sorted(applies) == ["apply", "apply-main"]
    for name in applies:
        job = jobs[name]
        assert job["environment"] == "production"
        assert job["concurrency"] == {"group": "mxsync-apply", "cancel-in-progress": False}
        (checkout,) = [s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@")]
        assert checkout["with"]["ref"] == "main"


# -- the scenarios ----------------------------------------------------------------------

@dataclass
class Repo:
    """A git repository (branch `main`) and the secrets GitHub would pass; its manifest, for
    one org of its own, is not on `main` yet: the first pull request adds it (the pull-request
    job plans what a pull request changes, `--changed-since` its base). Edit
    `runner.workdir / "mxsync.yaml"`, then `pull_request()` commits the edit on a branch of
    its own and `merge()` merges that into `main`."""

    runner: Runner
    org: TestOrg
    secrets: dict[str, str]

    @property
    def main(self) -> str:
        return git(self.runner.workdir, "rev-parse", "main")

    def context(self, event: str, run_id: str, secrets: bool = True, sha: str | None = None) -> Context:
        return Context(self.secrets if secrets else {}, {
            "event_name": event, "token": "ghs_fake", "repository": "acme/infra", "sha": sha or self.main,
            "run_id": run_id, "workflow_ref": "acme/infra/.github/workflows/mxsync.yml@refs/heads/main",
            "event.pull_request.number": "7", "action_path": str(ROOT), "base_ref": "main",
        })

    def pull_request(self, secrets: bool = True, run_id: str = "1001") -> Job:
        work = self.runner.workdir
        git(work, "checkout", "-q", "-B", "pull-request")
        git(work, "add", "-A")
        git(work, "commit", "-q", "--allow-empty", "-m", "the pull request's change")
        head = git(work, "rev-parse", "HEAD")
        git(work, "checkout", "-q", "main")
        return self.runner.run_job(PLAN_APPLY, "plan", self.context("pull_request", run_id, secrets, head))

    def merge(self, reviewed_run: str | None = "1001", run_id: str = "1002", approve: bool = True) -> Job:
        """The push to `main`: the pull request merged (or, with no reviewed run, a commit
        pushed straight to main), then the apply job of that push."""
        work = self.runner.workdir
        if reviewed_run:
            git(work, "merge", "-q", "--no-ff", "-m", "merge the pull request", "pull-request")
        else:
            git(work, "commit", "-q", "--allow-empty", "-m", "pushed to main")
        return self.apply_job(self.main, reviewed_run, run_id, approve)

    def apply_job(self, sha: str, reviewed_run: str | None, run_id: str, approve: bool = True) -> Job:
        """The apply job of the push of `sha` (run again, it is the same event: same commit,
        same run id, same pull request's plan)."""
        gh = self.runner.gh
        (gh / "merged-head").write_text("headsha1\n" if reviewed_run else "")
        (gh / "run-id").write_text(f"{reviewed_run}\n" if reviewed_run else "")
        if approve:
            self.runner.approved.add("production")
        return self.runner.run_job(PLAN_APPLY, "apply", self.context("push", run_id, sha=sha))


@pytest.fixture
def repo(new_org: OrgFactory, emulator_url: str, tmp_path: Path) -> Repo:
    org = new_org()
    workdir = tmp_path / "repo"
    workdir.mkdir()
    write_manifest(workdir / "mxsync.yaml", [{
        "id": org.id, "xai": {"default": "primary", "credentials": [
            {"name": "primary", "api_key_env": "XAI_KEY_ACME_PRIMARY"}]}}])
    git(workdir, "init", "-q", "-b", "main")
    git(workdir, "commit", "-q", "--allow-empty", "-m", "the repository, before mxsync")
    pinned = {"MODULEX_BASE_URL": emulator_url, "XAI_MANAGEMENT_URL": f"{emulator_url}/xai-management"}
    return Repo(Runner(tmp_path, workdir, pinned), org,
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


def test_pull_request_plans_only_the_org_it_changes_and_merge_applies_that(
        repo: Repo, new_org: OrgFactory) -> None:
    """`--changed-since origin/<base>`: on a manifest of three orgs, a pull request that
    changes one reads and plans that one; the comment names the two it left out, and the
    apply after the merge re-derives the plan for that org only. The other two orgs are not
    readable with the workflow's token: reading them would fail the plan or the apply."""
    others = [new_org(), new_org()]
    manifest = repo.runner.workdir / "mxsync.yaml"

    def orgs(*names: str) -> list[dict[str, Any]]:
        return [{"id": repo.org.id, "xai": {"default": "primary", "credentials": [
            {"name": n, "api_key_env": "XAI_KEY_ACME_PRIMARY"} for n in ("primary", *names)]}},
            *({"id": o.id, "xai": {"credentials": [
                {"name": "k", "api_key_env": "XAI_KEY_ACME_PRIMARY"}]}} for o in others)]

    write_manifest(manifest, orgs())
    git(repo.runner.workdir, "add", "mxsync.yaml")
    git(repo.runner.workdir, "commit", "-q", "-m", "the base: three orgs")
    write_manifest(manifest, orgs("k2"))  # the pull request adds k2 to one org
    job = repo.pull_request()
    assert not job.failed, job.ran
    left_out = ", ".join(o.id for o in others)
    assert (f"Planning only the 1 org changed since origin/main: {repo.org.id}. Left out, "
            f"unchanged: {left_out}.") in job.step("plan").out
    comment = (repo.runner.gh / "comment").read_text()
    assert [line for line in comment.splitlines() if line.startswith("### ")] == [
        f"### {repo.org.id}"]
    assert (f"Planned only the orgs changed since `origin/main`; 2 orgs unchanged since then "
            f"were left out (not read, not in this plan): {left_out}.") in comment
    assert f"`{repo.org.id}/xai/k2`" in comment and "No changes." not in comment
    saved = json.loads((repo.runner.gh / "artifacts" / "1001" / "mxsync-plan" / "plan.json")
                       .read_text())
    assert saved["options"]["targets"] == [repo.org.id]

    applied = repo.merge()
    assert not applied.failed, applied.ran
    assert "Apply complete: 2 created" in applied.step("apply exactly that plan").out
    assert sorted(c["display_name"] for c in repo.org.xai()) == ["k2", "primary"]
    assert [o.xai() for o in others] == [[], []]


def test_pull_request_posts_the_policy_verdict_beside_the_plan(repo: Repo) -> None:
    shutil.copytree(ROOT / "examples" / "policies", repo.runner.workdir / "policies")
    git(repo.runner.workdir, "add", "policies")
    git(repo.runner.workdir, "commit", "-q", "-m", "house rules")
    job = repo.pull_request()
    assert not job.failed, job.ran
    comment = (repo.runner.gh / "comment").read_text()
    assert comment.startswith("## mxsync plan")
    assert "### Policy check" in comment and "Policy check passed: no deny, 1 warning" in comment
    assert f"{repo.org.id}/xai/primary: becomes the org's default credential" in comment
    assert "### Policy check" in job.summary


def test_pull_request_with_a_denied_plan_comments_the_deny_and_fails(repo: Repo) -> None:
    shutil.copytree(ROOT / "examples" / "policies", repo.runner.workdir / "policies")
    git(repo.runner.workdir, "add", "policies")
    git(repo.runner.workdir, "commit", "-q", "-m", "house rules")
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
        f"gh api repos/acme/infra/commits/{repo.main}/pulls "
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
    assert "+ mxsync audit -f mxsync.yaml --fail-on error --format junit" in job.ran[0].out
    assert repo.org.id in job.summary


def test_nightly_audit_counts_a_warning_by_code_without_failing(repo: Repo) -> None:
    """At a hundred orgs there are warnings every night: the job stays green on them and its
    summary counts them by code; an error (below) is what turns it red."""
    assert not repo.pull_request().failed and not repo.merge().failed
    with repo.org.client() as client:  # two unmanaged keys: warnings
        for name in ("stray", "stray-2"):
            client.post("/credentials", json={"integration_name": "xai", "display_name": name,
                                              "auth_data": {"api_key": fake_key(name)}}
                        ).raise_for_status()
    job = run_audit(repo)
    assert not job.failed, job.ran
    assert [s.code for s in job.ran] == [0, 0]
    assert "| `unmanaged` | warning | 2 | 1 |" in job.summary, job.summary
    report = repo.runner.gh / "artifacts" / "2001" / "mxsync-audit" / "mxsync-audit.xml"
    assert not list(ET.parse(report).getroot().iter("failure"))  # --fail-on error: no failure


def test_nightly_audit_fails_on_an_error_and_still_reports_it(repo: Repo) -> None:
    assert not repo.pull_request().failed and not repo.merge().failed
    with repo.org.client() as client:  # the managed key deleted by hand: drift, an error
        for cred in client.get("/credentials", params={"integration_name": "xai"}
                               ).json()["credentials"]:
            client.delete(f"/credentials/{cred['credential_id']}").raise_for_status()
        client.post("/credentials", json={"integration_name": "xai", "display_name": "stray",
                                          "auth_data": {"api_key": fake_key("stray")}}
                    ).raise_for_status()
    job = run_audit(repo)
    assert job.failed
    # One audit: its JUnit run also writes the Markdown job summary (no second audit).
    assert job.names == ["audit, as JUnit", "upload the JUnit report"]
    assert [s.code for s in job.ran] == [1, 0]
    report = repo.runner.gh / "artifacts" / "2001" / "mxsync-audit" / "mxsync-audit.xml"
    failures = list(ET.parse(report).getroot().iter("failure"))
    assert failures and any("drift" in (f.get("message", "") + (f.text or "")) for f in failures)
    assert not any("unmanaged" in (f.get("message", "") + (f.text or "")) for f in failures)
    assert "| `drift` | error | 1 | 1 |" in job.summary, job.summary
    assert "| `unmanaged` | warning | 1 | 1 |" in job.summary


def test_action_passes_no_manifest_when_told_and_honours_ok_exit_codes(repo: Repo) -> None:
    """`apply PLANFILE`/`show PLANFILE` take no -f; `plan --detailed-exitcode` exits 2 on changes."""
    ctx = repo.context("workflow_dispatch", "3001")
    env = {**repo.secrets, **repo.runner.pinned}  # the calling workflow pins the URL
    ok = repo.runner.action({"command": "plan", "args": "--out plan.json --detailed-exitcode",
                              "ok-exit-codes": "0 2"}, env, ctx, "p")
    assert ok.code == 0, ok.out
    assert ctx.steps["p"] == {"exit-code": "2"}
    strict = repo.runner.action({"command": "plan", "args": "--detailed-exitcode"}, env, ctx, "q")
    assert strict.code == 2 and ctx.steps["q"] == {"exit-code": "2"}
    typo = repo.runner.action({"command": "plan", "args": "--detailed-exitcode --bogus",
                               "ok-exit-codes": "0 2"}, env, ctx, "t")
    assert typo.code == 1 and ctx.steps["t"] == {"exit-code": "1"}, typo.out  # a red step
    shown = repo.runner.action({"command": "show", "manifest": "", "args": "plan.json"}, env, ctx,
                                None)
    assert shown.code == 0, shown.out
    assert "+ mxsync show plan.json\n" in shown.out


def test_apply_waits_for_the_environments_approval(repo: Repo) -> None:
    assert not repo.pull_request().failed
    waiting = repo.merge(approve=False)
    assert waiting.waiting and waiting.ran == []
    assert repo.org.xai() == []
    repo.runner.approved.add("production")  # a required reviewer approves the waiting job
    job = repo.apply_job(repo.main, "1001", "1002")
    assert not job.failed, job.ran
    assert [c["display_name"] for c in repo.org.xai()] == ["primary"]


def test_apply_checks_out_the_current_main_not_the_commit_of_its_event(repo: Repo) -> None:
    assert not repo.pull_request().failed
    merged = repo.main
    assert repo.merge(approve=False).waiting  # the apply of `merged` waits for its approval
    manifest = repo.runner.workdir / "mxsync.yaml"
    manifest.write_text(manifest.read_text() + "# a later change\n")
    git(repo.runner.workdir, "commit", "-q", "-am", "a later change, pushed to main")
    repo.runner.approved.add("production")
    job = repo.apply_job(merged, "1001", "1002")
    assert job.folder is not None
    assert git(job.folder, "rev-parse", "HEAD") == repo.main != merged
    assert (job.folder / "mxsync.yaml").read_text() == manifest.read_text()


def test_rerunning_an_old_apply_job_does_not_redo_what_a_later_apply_undid(repo: Repo) -> None:
    """Plan A (creates k) -> merge, apply A -> a later pull request removes k, merged and
    applied -> the first apply job re-run (same commit, same reviewed plan) is refused.
    The org's live state is then what it was when A was planned, so only the manifest at
    hand (main, changed since A) tells the re-run that A is done and undone."""
    assert not repo.pull_request(run_id="1001").failed and not repo.merge("1001", "1002").failed
    manifest = repo.runner.workdir / "mxsync.yaml"
    org: dict[str, Any] = {"id": repo.org.id, "prune": True, "xai": {"default": "primary", "credentials": [
        {"name": "primary", "api_key_env": "XAI_KEY_ACME_PRIMARY"},
        {"name": "k", "api_key_env": "XAI_KEY_ACME_PRIMARY"}]}}
    write_manifest(manifest, [org])
    assert not repo.pull_request(run_id="2001").failed
    apply_a = repo.merge(reviewed_run="2001", run_id="2002")
    assert not apply_a.failed, apply_a.ran
    merged_a = repo.main
    assert sorted(c["display_name"] for c in repo.org.xai()) == ["k", "primary"]

    org["xai"]["credentials"].pop()  # the next pull request removes k
    write_manifest(manifest, [org])
    assert not repo.pull_request(run_id="3001").failed
    apply_b = repo.merge(reviewed_run="3001", run_id="3002")
    assert not apply_b.failed, apply_b.ran
    assert [c["display_name"] for c in repo.org.xai()] == ["primary"]

    rerun = repo.apply_job(merged_a, "2001", "2002")  # "Re-run jobs" on A's apply
    assert rerun.failed
    assert [c["display_name"] for c in repo.org.xai()] == ["primary"]  # k is not back
    assert "the manifest changed since this plan was made" in rerun.step("apply exactly that plan").out


def plan_main(repo: Repo, event: str, run_id: str) -> tuple[Job, Job]:
    """The nightly (or by-hand) run: `plan-main`, then `apply-main` with its outputs."""
    planned = repo.runner.run_job(PLAN_APPLY, "plan-main", repo.context(event, run_id))
    ctx = repo.context(event, run_id)
    ctx.needs["plan-main"] = planned.outputs
    return planned, repo.runner.run_job(PLAN_APPLY, "apply-main", ctx)


def test_a_plan_of_main_by_hand_with_nothing_to_do_applies_nothing(repo: Repo) -> None:
    assert not repo.pull_request().failed and not repo.merge().failed
    planned, applied = plan_main(repo, "workflow_dispatch", "4001")
    assert not planned.failed, planned.ran
    assert planned.outputs == {"changes": "false"}
    assert "nothing to change" in planned.summary
    assert not (repo.runner.gh / "artifacts" / "4001").exists()
    assert applied.ran == [] and not applied.waiting  # skipped: no approval is asked for


def test_a_key_changed_only_in_secrets_is_planned_nightly_and_applied_after_review(repo: Repo) -> None:
    event = "schedule"
    assert not repo.pull_request().failed and not repo.merge().failed
    (before,) = repo.org.xai()
    repo.secrets["XAI_KEY_ACME_PRIMARY"] = fake_key("replaced")  # the secret changed, no PR
    repo.runner.approved.clear()
    planned, waiting = plan_main(repo, event, "4001")
    assert not planned.failed, planned.ran
    assert planned.outputs == {"changes": "true"}
    out = planned.step("plan main").out
    assert "::warning title=mxsync::main needs changes" in out
    assert f"`{repo.org.id}/xai/primary`" in planned.summary  # the plan, for the reviewers
    assert (repo.runner.gh / "artifacts" / "4001" / "mxsync-plan-main" / "plan.json").is_file()
    assert waiting.waiting and repo.org.xai() == [before]  # nothing applied before review

    repo.runner.approved.add("production")
    planned_ctx = repo.context(event, "4001")
    planned_ctx.needs["plan-main"] = planned.outputs
    applied = repo.runner.run_job(PLAN_APPLY, "apply-main", planned_ctx)
    assert not applied.failed, applied.ran
    assert "Apply complete" in applied.step("apply the reviewed plan of main").out
    again, _ = plan_main(repo, event, "4002")
    assert again.outputs == {"changes": "false"}, again.ran  # the live key is the new one
    for secret in repo.secrets.values():
        assert secret not in planned.summary + "".join(s.out for s in planned.ran + applied.ran)


class Capture:
    """A server that only counts who calls it (and with what Authorization)."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        seen: list[str] = []
        self.seen = seen

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen.append(self.headers.get("Authorization", ""))
                self.send_response(404)
                self.end_headers()

            do_POST = do_GET

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_a_pull_request_cannot_send_the_token_to_a_server_of_its_choosing(repo: Repo) -> None:
    capture = Capture()
    try:
        manifest = repo.runner.workdir / "mxsync.yaml"
        write_manifest(manifest, [{"id": repo.org.id, "xai": {"credentials": [
            {"name": "primary", "api_key_env": "XAI_KEY_ACME_PRIMARY"}]}}], api={"url": capture.url})
        job = repo.pull_request()
    finally:
        capture.server.shutdown()
    assert job.failed
    assert job.names == ["validate", "are the secrets there?", "plan"]
    assert "refusing to send the ModuleX token" in job.step("plan").out
    assert capture.seen == []
    assert not (repo.runner.gh / "calls").exists()  # no comment, no artifact
