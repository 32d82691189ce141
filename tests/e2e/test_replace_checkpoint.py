"""Checkpoint-preserving replacement: a replaced CDC task continues from its predecessor's recovery
checkpoint (start-replication + CdcStartPosition) instead of reloading every table; the checkpoint is
stored in the state table between the two steps, so a run that dies in between loses nothing."""

from __future__ import annotations

import pytest

from dmsctl.deployer import plan as P
from dmsctl.deployer.apply import Applier
from dmsctl.deployer.checks import Flags
from tests.e2e.apply_helpers import Crash, applier, deploy_examples, tasks, tree

pytestmark = pytest.mark.usefixtures("shared_botocore_loader")

LEDGER = "dmsctl-payments-ledger-cdc"
BILLING = "dmsctl-payments-billing-cdc"


def _run_ledger(teams):
    teams["payments"]["tasks"]["ledger-cdc"]["paused"] = False


def _new_instance(teams):
    _run_ledger(teams)
    teams["payments"]["instances"]["payments-spare"] = {"class": "dms.t3.medium", "storage_gb": 50}
    teams["payments"]["tasks"]["ledger-cdc"]["instance"] = "payments-spare"


def _running_ledger(harness, sandbox, tmp_path):
    deploy_examples(harness, sandbox, tmp_path)
    running = tree(tmp_path / "running", _run_ledger)
    assert harness.apply(running)[0] == 0
    sandbox.advance(3600)
    return tasks(sandbox)[LEDGER]


def test_a_replaced_cdc_task_continues_from_the_old_checkpoint(harness, sandbox, tmp_path):
    old = _running_ledger(harness, sandbox, tmp_path)
    after = tree(tmp_path / "after", _new_instance)

    planned, _ = harness.plan(after, flags=Flags(allow_replace=True))
    plan = planned.plan
    assert plan.go, [c.message for c in plan.checks if c.blocks]
    replaced = next(t for c in plan.stacks for t in c.tasks if t.identifier == LEDGER)
    assert replaced.action == P.REPLACE and replaced.keeps_checkpoint and not replaced.restart_reloads_all
    p107 = next(c for c in plan.checks if c.code == "P107")
    assert "continues from the old task's recovery checkpoint" in p107.message
    assert not [c for c in plan.checks if c.code == "P105"]  # nothing full-loads: the prefixes may hold data
    step1 = {s.stack: s for s in plan.steps[0].stacks}["dmsctl-team-payments"]
    assert step1.capture_checkpoint == (LEDGER,)
    step2 = {s.stack: s for s in plan.steps[1].stacks}["dmsctl-team-payments"]
    assert P.TaskStart(LEDGER, P.START_REPLICATION, from_checkpoint=True) in step2.start

    mark = sandbox.calls.mark()
    code, _, progress = harness.apply(after, flags=Flags(allow_replace=True))
    assert code == 0, [e.message for e in progress.events if e.kind == "error"]
    new = tasks(sandbox)[LEDGER]
    assert new["ReplicationTaskArn"] != old["ReplicationTaskArn"] and new["Status"] == "running"
    starts = [c.params for c in sandbox.calls.since(mark) if c.operation == "StartReplicationTask"
              and c.params["ReplicationTaskArn"] == new["ReplicationTaskArn"]]
    assert len(starts) == 1 and starts[0]["StartReplicationTaskType"] == "start-replication"
    # DescribeReplicationTasks shows the position the task was started from
    def epoch(checkpoint):  # the sandbox's checkpoints carry their sim time (docs/ASSUMPTIONS.md A10)
        return int(checkpoint.split("#")[1])

    assert new["CdcStartPosition"].startswith("checkpoint:")
    assert epoch(old["RecoveryCheckpoint"]) <= epoch(new["CdcStartPosition"]) <= epoch(new["RecoveryCheckpoint"])
    assert sandbox.overwrites == []
    # the hand-over item is consumed: a later re-creation would not start from a stale position
    state = sandbox.client("dynamodb").get_item(TableName="dmsctl-state",
                                               Key={"pk": {"S": f"handover#{LEDGER}"}, "sk": {"S": "checkpoint"}})
    assert "Item" not in state
    sandbox.advance(3600)
    assert harness.plan(after)[0].plan.steps == ()


def test_a_replaced_full_load_and_cdc_task_reloads_and_says_how_to_keep_the_checkpoint(harness, sandbox, tmp_path):
    deploy_examples(harness, sandbox, tmp_path)

    def move(teams):
        teams["payments"]["instances"]["payments-spare"] = {"class": "dms.t3.medium", "storage_gb": 50}
        teams["payments"]["tasks"]["billing-cdc"]["instance"] = "payments-spare"

    planned, _ = harness.plan(tree(tmp_path / "after", move), flags=Flags(allow_replace=True))
    p107 = next(c for c in planned.plan.checks if c.code == "P107")
    assert "reloads from scratch" in p107.message and "migration_type: cdc" in p107.message
    assert {c.code for c in planned.plan.checks if c.blocks} == {"P105"}  # it would load into non-empty prefixes


def test_a_run_that_dies_between_the_steps_resumes_from_the_stored_checkpoint(harness, sandbox, tmp_path, monkeypatch):
    _running_ledger(harness, sandbox, tmp_path)
    after = tree(tmp_path / "after", _new_instance)
    real = Applier._run_step

    def die_after_step_1(self, step, planned, total):
        real(self, step, planned, total)
        if step.number == 1:
            raise Crash("killed between the steps")

    monkeypatch.setattr(Applier, "_run_step", die_after_step_1)
    dying = applier(harness, after, flags=Flags(allow_replace=True))
    with pytest.raises(Crash):
        dying.run()
    monkeypatch.setattr(Applier, "_run_step", real)
    assert LEDGER not in tasks(sandbox)  # step 1 removed it; step 2 never ran
    dying.lock.release()  # what `dmsctl unlock --id` does for a dead run

    planned, _ = harness.plan(after)
    created = next(t for c in planned.plan.stacks for t in c.tasks if t.identifier == LEDGER)
    assert created.action == P.CREATE and created.keeps_checkpoint
    assert any("unfinished replacement" in r for r in created.reasons)
    mark = sandbox.calls.mark()
    assert harness.apply(after)[0] == 0
    start = next(c.params for c in sandbox.calls.since(mark) if c.operation == "StartReplicationTask")
    assert start["StartReplicationTaskType"] == "start-replication"
    assert tasks(sandbox)[LEDGER]["CdcStartPosition"].startswith("checkpoint:")
