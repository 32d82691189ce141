"""`dmsctl apply` through the CLI (click's CliRunner) against the in-process sandbox.

Credentials are the sandbox's (AWS_ACCESS_KEY_ID/SECRET=testing, set by the harness), no endpoint:
moto intercepts boto3 in-process. Only the gateway's waits are moved onto the sandbox clock (the
CLI's gateway sleeps in real time, and the manual sim clock would never move).
"""

from __future__ import annotations

import json
import types

import pytest
from click.testing import CliRunner

from dmsctl.deployer import task_control
from dmsctl.deployer.cli import apply_cmd
from dmsctl.deployer.cli.main import cli
from dmsctl.deployer.gateway import Gateway
from tests.e2e.apply_helpers import (
    BUCKET,
    add_growth_table,
    assert_safe_and_converged,
    deploy_examples,
    lock_holder,
    make_lock,
    resource_mutations,
    status,
    tree,
    tune_foodsearch,
)

pytestmark = pytest.mark.usefixtures("shared_botocore_loader")

FOODSEARCH = "dmsctl-food-foodsearch"


@pytest.fixture
def cli_on_sandbox(harness, sandbox, monkeypatch):
    """`dmsctl ...` on the sandbox; returns a runner function (args -> click Result)."""
    clock = sandbox.clock

    def sim_gateway(region, *, read_only, endpoint_url, profile, max_attempts):
        assert endpoint_url is None  # the in-process sandbox needs none
        return Gateway(region, read_only=read_only, endpoint_url=endpoint_url, profile=profile,
                       max_attempts=max_attempts, sleep=clock.sleep,
                       monotonic=lambda: clock.now().timestamp())

    monkeypatch.setattr(apply_cmd, "gateway", sim_gateway)

    def run(cfg, *args, input=None):
        return CliRunner().invoke(cli, ["--config-dir", str(cfg), *args], input=input)

    return run


def test_json_format_emits_the_run_record(harness, sandbox, tmp_path, cli_on_sandbox):
    deploy_examples(harness, sandbox, tmp_path)
    cfg = tree(tmp_path / "after", tune_foodsearch)
    planned = harness.plan(cfg)[0].plan
    result = cli_on_sandbox(cfg, "apply", "--yes", "--format", "json")  # --lint stays on, as in CI
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    run = doc["run"]
    assert run["result"] == "applied" and run["env"] == "staging" and run["error"] == ""
    assert run["plan_checksum"] == planned.checksum and run["steps_done"] == 1
    assert set(run["stopped_seconds"]) == {FOODSEARCH}
    kinds = [e["kind"] for e in doc["events"]]
    assert kinds.index("stop") < kinds.index("deploy") < kinds.index("start") < kinds.index("started")
    assert "final check: No changes. DMS matches the configuration." in [e["message"] for e in doc["events"]]
    assert_safe_and_converged(harness, sandbox, cfg)


def test_text_format_summarises_and_a_second_apply_says_no_changes(harness, sandbox, tmp_path,
                                                                    cli_on_sandbox):
    deploy_examples(harness, sandbox, tmp_path)
    cfg = tree(tmp_path / "after", add_growth_table)
    result = cli_on_sandbox(cfg, "apply", "--yes", "--no-lint")
    assert result.exit_code == 0, result.output
    assert "Tasks stopped by this run: dmsctl-growth-users-cdc" in result.stdout
    assert "applied." in result.stdout.splitlines()[-1]
    again = cli_on_sandbox(cfg, "apply", "--no-lint")  # nothing to confirm when nothing changes
    assert again.exit_code == 0, again.output
    assert "No changes. DMS matches the configuration." in again.stdout
    assert again.stdout.rstrip().endswith("no-changes.")


def test_without_yes_and_without_a_terminal_it_refuses(harness, sandbox, tmp_path, cli_on_sandbox):
    deploy_examples(harness, sandbox, tmp_path)
    cfg = tree(tmp_path / "after", tune_foodsearch)
    mark = sandbox.calls.mark()
    result = cli_on_sandbox(cfg, "apply", "--no-lint")
    assert result.exit_code == 1
    assert "not a terminal and --yes not given: refusing to apply without confirmation" in result.stderr
    assert "Traceback" not in result.output
    assert resource_mutations(sandbox.calls.since(mark)) == []
    assert status(sandbox, FOODSEARCH) == "running" and lock_holder(harness, cfg) is None


@pytest.mark.parametrize("answer", ["n", "y"])
def test_on_a_terminal_it_asks_first(harness, sandbox, tmp_path, cli_on_sandbox, monkeypatch, answer):
    deploy_examples(harness, sandbox, tmp_path)
    cfg = tree(tmp_path / "after", tune_foodsearch)
    a_terminal = types.SimpleNamespace(stdin=types.SimpleNamespace(isatty=lambda: True))
    monkeypatch.setattr(apply_cmd, "sys", a_terminal)
    mark = sandbox.calls.mark()
    result = cli_on_sandbox(cfg, "apply", "--no-lint", "--no-color", input=f"{answer}\n")
    assert "Apply this plan?" in result.stdout and FOODSEARCH in result.stdout  # the plan was shown
    if answer == "n":
        assert result.exit_code == 1 and "apply cancelled; nothing was changed" in result.stderr
        assert resource_mutations(sandbox.calls.since(mark)) == []
    else:
        assert result.exit_code == 0, result.output
        assert_safe_and_converged(harness, sandbox, cfg)


def test_reviewed_plan_file_applies_and_a_stale_one_is_refused(harness, sandbox, tmp_path, cli_on_sandbox):
    deploy_examples(harness, sandbox, tmp_path)
    cfg = tree(tmp_path / "after", tune_foodsearch)
    plan_file = tmp_path / "plan.json"
    planned = cli_on_sandbox(cfg, "plan", "--no-lint", "--out", str(plan_file))
    assert planned.exit_code == 2, planned.output  # changes, go
    checksum = json.loads(plan_file.read_text())["checksum"]

    changed = tree(tmp_path / "changed", lambda t: (tune_foodsearch(t), add_growth_table(t)))
    mark = sandbox.calls.mark()
    stale = cli_on_sandbox(changed, "apply", "--no-lint", "--yes", "--plan", str(plan_file))
    assert stale.exit_code == 1
    assert "plan is stale" in stale.stderr and "re-run dmsctl plan" in stale.stderr
    assert resource_mutations(sandbox.calls.since(mark)) == []

    result = cli_on_sandbox(cfg, "apply", "--no-lint", "--yes", "--plan", str(plan_file), "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["run"]["plan_checksum"] == checksum
    assert_safe_and_converged(harness, sandbox, cfg)


def test_an_edited_plan_file_is_not_usable(harness, sandbox, tmp_path, cli_on_sandbox):
    deploy_examples(harness, sandbox, tmp_path)
    cfg = tree(tmp_path / "after", tune_foodsearch)
    plan_file = tmp_path / "plan.json"
    assert cli_on_sandbox(cfg, "plan", "--no-lint", "--out", str(plan_file)).exit_code == 2
    doc = json.loads(plan_file.read_text())
    doc["steps"][0]["stacks"][0]["stop"] = []  # "nothing needs stopping", says someone
    plan_file.write_text(json.dumps(doc))
    mark = sandbox.calls.mark()
    result = cli_on_sandbox(cfg, "apply", "--no-lint", "--yes", "--plan", str(plan_file))
    assert result.exit_code == 1 and "not a usable plan file" in result.stderr
    assert "checksum does not match" in result.stderr
    assert [c for c in sandbox.calls.since(mark) if c.mutating] == []


def test_exit_codes_for_no_go_lock_held_and_a_failed_task(harness, sandbox, tmp_path, cli_on_sandbox,
                                                          monkeypatch):
    deploy_examples(harness, sandbox, tmp_path)

    # no-go: the new version's prefix already holds data
    sandbox.put_s3_object(BUCKET, "replication/food/fooddb/foodsearch/foods/v202111230900/x.parquet", "x")
    bumped = tree(tmp_path / "bumped", lambda t: t["food"]["tasks"]["foodsearch"]["tables"][0].update(
        version="v202111230900"))
    no_go = cli_on_sandbox(bumped, "apply", "--no-lint", "--yes")
    assert no_go.exit_code == 1 and "P105" in no_go.stderr and "nothing was changed" in no_go.stderr

    # the lock is held by another run
    cfg = tree(tmp_path / "after", tune_foodsearch)
    other = make_lock(harness, cfg)
    other.acquire("20240101000000-other", "bob@laptop")
    held = cli_on_sandbox(cfg, "apply", "--no-lint", "--yes", "--format", "json")
    assert held.exit_code == 1 and "20240101000000-other" in held.stderr and "bob@laptop" in held.stderr
    assert json.loads(held.stdout)["run"]["result"] == "failed"
    other.release()

    # a task fails when it is started again
    real = task_control.start

    def start_then_fail(gw, state, start_type, **kwargs):
        sandbox.faults.fail_task(state.identifier, "Injected: source database unreachable")
        real(gw, state, start_type, **kwargs)

    monkeypatch.setattr(task_control, "start", start_then_fail)
    failed = cli_on_sandbox(cfg, "apply", "--no-lint", "--yes", "--format", "json")
    assert failed.exit_code == 1
    assert f"task {FOODSEARCH} failed: Injected: source database unreachable" in failed.stderr
    record = json.loads(failed.stdout)["run"]
    assert record["result"] == "failed" and "source database unreachable" in record["error"]
    assert "Traceback" not in failed.output
