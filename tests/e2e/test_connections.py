"""Endpoint connection tests during apply, on a sandbox that, like DMS, tests nothing at CreateEndpoint
and refuses StartReplicationTask until the task's (instance, source) and (instance, target) connections
tested successfully.

Apply tests each missing pair once, waits, and stops with DMS's reason when one fails; tasks that it
deploys but does not start (scheduled ones, paused ones) get their connections tested too, so their
schedule can start them later.
"""

from __future__ import annotations

import pytest

from dmsctl.deployer import task_control
from tests.e2e.apply_helpers import BUCKET, applier, lock_holder, status, tasks, tree

EXPORT = "dmsctl-food-recipes-export"  # scheduled: never started by apply
PAUSED = "dmsctl-payments-ledger-cdc"  # paused in config
FOOD = ("dmsctl-food-foodsearch",)


def _connections(sandbox) -> dict[tuple[str, str], str]:
    rows = sandbox.client("dms").describe_connections()["Connections"]
    return {(r["ReplicationInstanceArn"], r["EndpointArn"]): r["Status"] for r in rows}


def _pairs(row: dict) -> set[tuple[str, str]]:
    return {(row["ReplicationInstanceArn"], row[k]) for k in ("SourceEndpointArn", "TargetEndpointArn")}


def test_first_deploy_tests_each_tasks_connections_once(harness, sandbox, tmp_path):
    sandbox.put_s3_object(BUCKET, "README", "the lake")
    cfg = tree(tmp_path / "cfg")
    mark = sandbox.calls.mark()
    code, _, progress = harness.apply(cfg)
    assert code == 0, [e.message for e in progress.events]
    rows = tasks(sandbox)
    wanted = set().union(*(_pairs(r) for r in rows.values()))
    connections = _connections(sandbox)
    assert {p: connections.get(p) for p in wanted} == {p: "successful" for p in wanted}
    tested = [c for c in sandbox.calls.since(mark) if c.operation == "TestConnection"]
    assert len(tested) == len(wanted)  # each pair once: shared endpoints are not tested twice
    assert status(sandbox, EXPORT) == "ready" and status(sandbox, PAUSED) == "ready"  # tested, not started


def test_a_failing_endpoint_stops_apply_with_dms_reason_and_the_next_apply_converges(harness, sandbox, tmp_path):
    sandbox.put_s3_object(BUCKET, "README", "the lake")
    cfg = tree(tmp_path / "cfg")
    sandbox.faults.fail_next_connection_test("dmsctl-food-src-fooddb", "Injected: password authentication failed")
    run = applier(harness, cfg)
    with pytest.raises(task_control.TaskFailure) as err:
        run.run()
    assert "connection test of endpoint dmsctl-food-src-fooddb from replication instance dmsctl-food-food-main " \
           "failed: Injected: password authentication failed" in str(err.value)
    assert run.record.result == "failed" and lock_holder(harness, cfg) is None
    assert all(status(sandbox, ident) == "ready" for ident in FOOD)  # never started against it
    assert status(sandbox, "dmsctl-growth-users-cdc") == "running"  # other teams' stacks were deployed

    code, _, progress = harness.apply(cfg)  # the password is fixed: the pair is tested again
    assert code == 0, [e.message for e in progress.events]
    assert all(status(sandbox, ident) == "running" for ident in FOOD)
    again, _ = harness.plan(cfg)
    assert not again.plan.has_changes
