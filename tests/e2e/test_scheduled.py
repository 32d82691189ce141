"""Scheduled tasks deployed by apply: created, never started by a deploy, run by `dmsctl run` (the
same sequence as their state machine), and protected from a deploy while a run is in progress."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dmsctl.deployer.progress import NullSink, Progress
from dmsctl.deployer.runs import RunTarget, run_task
from tests.e2e.apply_helpers import BUCKET, deploy_examples, tasks, tree

pytestmark = pytest.mark.usefixtures("shared_botocore_loader")

EXPORT = "dmsctl-food-recipes-export"


def test_a_scheduled_export_is_deployed_but_not_started(harness, sandbox, tmp_path):
    cfg = deploy_examples(harness, sandbox, tmp_path)
    row = tasks(sandbox)[EXPORT]
    assert row["Status"] == "ready" and "ReplicationTaskStartDate" not in row
    rules = sandbox.client("events").list_rules()["Rules"]
    assert any(r["Name"] == "dmsctl-food-recipes-export-schedule" and r["State"] == "ENABLED" for r in rules)
    machines = sandbox.client("stepfunctions").list_state_machines()["stateMachines"]
    assert "dmsctl-food-recipes-export" in {m["name"] for m in machines}
    sandbox.advance(3600)
    planned, _ = harness.plan(cfg)
    assert planned.plan.steps == ()  # a stopped scheduled task is not "to be resumed"


def test_dmsctl_run_exports_the_deployed_task_into_dated_folders(harness, sandbox, tmp_path):
    cfg = deploy_examples(harness, sandbox, tmp_path)
    target = RunTarget.from_compiled(harness.compile(cfg), "food/recipes-export")
    gw = harness.gateway(read_only=False)
    progress = Progress(sink=NullSink(), monotonic=lambda: sandbox.clock.now().timestamp())
    first = run_task(gw, target, at=datetime(2026, 11, 22, 2, tzinfo=UTC), progress=progress,
                     now=lambda: sandbox.clock.now().timestamp())
    second = run_task(gw, target, at=datetime(2026, 11, 23, 2, tzinfo=UTC), progress=progress,
                      now=lambda: sandbox.clock.now().timestamp())
    assert first.ok and second.ok
    day1 = sandbox.s3_keys(BUCKET, "replication/food/export/recipes-export/2026/11/22/")
    day2 = sandbox.s3_keys(BUCKET, "replication/food/export/recipes-export/2026/11/23/")
    assert day1 and day2
    assert {k.split("/", 8)[-1] for k in day1} == {k.split("/", 8)[-1] for k in day2}  # same tables, both days
    assert any("/catalogdb/public/recipes/v202101010000/LOAD" in k for k in day2)
    assert sandbox.overwrites == []
    sandbox.advance(3600)
    assert harness.plan(cfg)[0].plan.steps == ()  # a run changes no deployed property


def test_a_deploy_refuses_to_change_a_scheduled_task_during_its_run(harness, sandbox, tmp_path):
    deploy_examples(harness, sandbox, tmp_path)
    dms = sandbox.client("dms")
    dms.start_replication_task(ReplicationTaskArn=tasks(sandbox)[EXPORT]["ReplicationTaskArn"],
                               StartReplicationTaskType="start-replication")
    sandbox.advance(20)

    def more(teams):
        teams["food"]["tasks"]["recipes-export"]["tables"].append(
            {"schema": "public", "table": "authors", "version": "v202111230000"})

    planned, _ = harness.plan(tree(tmp_path / "after", more))
    p116 = [c for c in planned.plan.checks if c.code == "P116"]
    assert len(p116) == 1 and EXPORT in p116[0].message and not planned.plan.go


def test_the_deployed_state_machine_runs_an_export_on_the_sandbox(harness, sandbox, tmp_path):
    """What the EventBridge rule does at 02:00: start the compiled state machine. It points the export
    endpoint at the day's folder, waits for the connection test, starts the task and waits for it."""
    import time

    deploy_examples(harness, sandbox, tmp_path)
    sfn = sandbox.client("stepfunctions")
    machine = next(m for m in sfn.list_state_machines()["stateMachines"] if m["name"] == EXPORT)
    day = sandbox.clock.now().strftime("%Y/%m/%d")
    arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name="run-1", input="{}")["executionArn"]
    deadline = time.monotonic() + 60
    while (run := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert run["status"] == "SUCCEEDED", run.get("cause") or run.get("error")
    keys = sandbox.s3_keys(BUCKET, f"replication/food/export/recipes-export/{day}/")
    assert any(k.endswith(".parquet") or "/LOAD" in k for k in keys), keys
    assert tasks(sandbox)[EXPORT]["Status"] == "stopped"

    again = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name="run-2", input="{}")["executionArn"]
    deadline = time.monotonic() + 60
    while (run := sfn.describe_execution(executionArn=again))["status"] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.05)
    # same day again: the folder is not empty, so the run fails loudly before changing anything
    assert run["status"] == "FAILED" and run.get("error") == "ExportFolderNotEmpty"
    assert sandbox.overwrites == []


LEDGER_INC = "dmsctl-payments-ledger-incremental"


def _incremental(teams):
    teams["payments"]["tasks"]["ledger-incremental"] = {
        "source": "ledgerdb", "instance": "payments-main", "target": "s3-10min", "migration_type": "cdc",
        "cdc_start_time": "2024-01-01T00:00:00Z", "schedule": {"expression": "rate(6 hours)"},
        "tables": [{"schema": "ledger", "table": "entries", "version": "v202311230000"},
                   {"schema": "ledger", "table": "accounts", "version": "v202311230000"}]}


def _execute(sandbox, sfn, machine_arn, name):
    import time

    arn = sfn.start_execution(stateMachineArn=machine_arn, name=name, input="{}")["executionArn"]
    deadline = time.monotonic() + 60
    while (run := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.05)
    return run


def test_the_deployed_incremental_state_machine_runs_three_windows(harness, sandbox, tmp_path):
    """Three scheduled windows with source changes between them: each run stops at its window end,
    stores the checkpoint and per-table counts; the counts add up to what the source committed."""
    from datetime import timedelta

    from dmsctl.deployer.runs import read_checkpoints, read_metrics

    sandbox.put_s3_object(BUCKET, "README", "the lake")
    cfg = tree(tmp_path / "cfg", _incremental)
    assert harness.apply(cfg)[0] == 0
    assert tasks(sandbox)[LEDGER_INC]["Status"] == "ready"  # the schedule runs it, not the deploy
    sfn = sandbox.client("stepfunctions")
    machine = next(m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]
                   if m["name"] == LEDGER_INC)
    source = "dmsctl-payments-src-ledgerdb"
    sandbox.advance(3600)  # well after cdc_start_time
    committed = {"entries": 0, "accounts": 0}
    for n, (entries, accounts) in enumerate([(5, 1), (0, 3), (7, 2)], start=1):
        at = sandbox.clock.now() - timedelta(minutes=30)
        sandbox.record_changes(source, "ledger", "entries", inserts=entries, updates=1, at=at)
        sandbox.record_changes(source, "ledger", "accounts", inserts=accounts, at=at)
        committed["entries"] += entries
        committed["accounts"] += accounts
        run = _execute(sandbox, sfn, machine, f"window-{n}")
        assert run["status"] == "SUCCEEDED", (run.get("error"), run.get("cause"))
        sandbox.advance(6 * 3600)

    gw = harness.gateway(read_only=True)
    runs = read_metrics(gw, "dmsctl-state", LEDGER_INC)
    assert len(runs) == 3
    for table, total in committed.items():
        assert sum(t.inserts for r in runs for t in r.tables if (t.schema, t.table) == ("ledger", table)) == total
    assert sum(t.updates for r in runs for t in r.tables if t.table == "entries") == 3
    log = read_checkpoints(gw, "dmsctl-state", LEDGER_INC)
    assert len(log.history) == 3 and log.latest.checkpoint == log.history[0].checkpoint
    windows = [c.window_end for c in reversed(log.history)]
    assert windows == sorted(windows) and len(set(windows)) == 3  # each window ends later than the last
    assert sandbox.overwrites == []
