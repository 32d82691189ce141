"""`dmsctl apply` under faults: throttling, a stack update that rolls back (in one step, or in either
step of a reload), a task that does not stop in time, a stop DMS refuses, a task that fails to start,
endpoint connection tests, a lock held by another run (or a concurrent apply), a stale plan file, a
no-go plan, and a full load that starts between the plan and the stop.

Starting point of every test: the example configs deployed and running, full loads finished.
"""

from __future__ import annotations

import threading
import types

import botocore.endpoint
import pytest

from dmsctl.deployer import task_control
from dmsctl.deployer.apply import Applier, PlanRefused, StalePlan, Timeouts
from dmsctl.deployer.checks import Flags
from dmsctl.deployer.errors import AwsError
from dmsctl.deployer.gateway import Gateway
from dmsctl.deployer.lock import LockHeld
from dmsctl.deployer.stack_deploy import StackFailure
from tests.e2e.apply_helpers import (
    BUCKET,
    add_growth_table,
    applier,
    assert_no_load_restarted,
    assert_safe_and_converged,
    assert_tasks_up,
    both,
    bump_foods,
    deploy_examples,
    gateway,
    lock_holder,
    make_lock,
    resource_mutations,
    state_table_writes,
    status,
    stopped_since,
    tasks,
    tree,
    tune_foodsearch,
)

pytestmark = pytest.mark.usefixtures("shared_botocore_loader")

FOODSEARCH = "dmsctl-food-foodsearch"


def _tune_users_cdc(teams):
    settings = {"ChangeProcessingTuning": {"BatchApplyTimeoutMax": 90}}
    teams["growth"]["tasks"]["users-cdc"]["settings"] = settings


def _stack_status(sandbox, stack: str) -> str:
    return sandbox.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]


def _tags(sandbox, ident: str) -> dict[str, str]:
    arn = tasks(sandbox)[ident]["ReplicationTaskArn"]
    tags = sandbox.client("dms").list_tags_for_resource(ResourceArn=arn)["TagList"]
    return {t["Key"]: t["Value"] for t in tags}


# -- throttling ----------------------------------------------------------------------------------------------

# Every operation an apply of a two-step reload sends (stop, deploy, wait for the drop, start, lock).
THROTTLED = {
    "dms": ["DescribeReplicationTasks", "DescribeTableStatistics", "AddTagsToResource", "StopReplicationTask",
            "DescribeConnections", "StartReplicationTask", "RemoveTagsFromResource"],
    "cloudformation": ["DescribeStacks", "GetTemplate", "DescribeStackEvents", "CreateChangeSet",
                       "DescribeChangeSet", "ExecuteChangeSet"],
    "dynamodb": ["DescribeTable", "PutItem", "DeleteItem"],
    "sts": ["GetCallerIdentity"],
}


@pytest.fixture
def retry_sleeps_on_sim_clock(sandbox, monkeypatch):
    """botocore's retry backoff waits on the sandbox clock (it would sleep in real time)."""
    waits: list[float] = []

    def sleep(seconds):
        waits.append(seconds)
        sandbox.clock.sleep(seconds)

    monkeypatch.setattr(botocore.endpoint, "time", types.SimpleNamespace(sleep=sleep))
    return waits


def test_throttling_on_every_call_is_retried(harness, sandbox, tmp_path, retry_sleeps_on_sim_clock):
    """Standard retry mode: adaptive mode adds a client-side rate limiter that waits in real time
    (see the next test); the retries are the same."""
    deploy_examples(harness, sandbox, tmp_path)
    cfg = tree(tmp_path / "after", bump_foods)
    for service, operations in THROTTLED.items():
        for op in operations:
            sandbox.faults.throttle(service, op, times=2)
    mark = sandbox.calls.mark()
    run = applier(harness, cfg, gw=gateway(harness, retry_mode="standard", max_attempts=4))
    assert run.run() == 0 and run.record.result == "applied", [e.message for e in run.progress.events]
    left = sandbox.faults.snapshot()["throttles"]
    assert len(left) == sum(map(len, THROTTLED.values())) and set(left.values()) == {0}, left  # all fired
    assert len(retry_sleeps_on_sim_clock) == 2 * len(left)  # each throttled call was retried
    starts = [c for c in sandbox.calls.since(mark) if c.operation == "StartReplicationTask"]
    assert len(starts) == 4  # 2 throttled + 1 per step: a throttled call never reached DMS
    assert_safe_and_converged(harness, sandbox, cfg)
    sandbox.advance(3600)
    assert sandbox.s3_keys(BUCKET, "replication/food/fooddb/foodsearch/foods/v202111230900/")


def test_throttling_with_adaptive_retries_as_the_cli_uses_them(harness, sandbox, tmp_path,
                                                                retry_sleeps_on_sim_clock):
    deploy_examples(harness, sandbox, tmp_path)
    cfg = tree(tmp_path / "after", tune_foodsearch)
    sandbox.faults.throttle("dms", "StartReplicationTask", times=1)
    run = applier(harness, cfg, gw=gateway(harness, retry_mode="adaptive", max_attempts=8))
    assert run.run() == 0, [e.message for e in run.progress.events]
    assert sandbox.faults.snapshot()["throttles"] == {"dms.StartReplicationTask": 0}
    assert_safe_and_converged(harness, sandbox, cfg)


# -- a stack update that fails and rolls back ----------------------------------------------------------------

REASON = 'Resource handler returned message: "InvalidParameterValueException: injected for the test"'


def test_stack_update_failure_rolls_back_restores_the_tasks_and_the_next_apply_converges(harness, sandbox,
                                                                                          tmp_path):
    deploy_examples(harness, sandbox, tmp_path)
    cfg = tree(tmp_path / "after", both(tune_foodsearch, add_growth_table))
    sandbox.faults.fail_next_stack_update("dmsctl-team-food", REASON)
    arns = {i: t["ReplicationTaskArn"] for i, t in tasks(sandbox).items()}
    mark = sandbox.calls.mark()
    run = applier(harness, cfg)
    with pytest.raises(StackFailure) as err:
        run.run()
    assert "dmsctl-team-food" in str(err.value) and "injected for the test" in str(err.value)
    assert err.value.status == "UPDATE_ROLLBACK_COMPLETE"
    assert _stack_status(sandbox, "dmsctl-team-food") == "UPDATE_ROLLBACK_COMPLETE"
    assert run.record.result == "failed" and "injected for the test" in run.record.error
    # the task stopped for the failed stack runs again, untagged; the other team's stack went through
    assert status(sandbox, FOODSEARCH) == "running"
    assert "dmsctl:stopped-by-run" not in _tags(sandbox, FOODSEARCH)
    assert _stack_status(sandbox, "dmsctl-team-growth") == "UPDATE_COMPLETE"
    assert stopped_since(sandbox, mark, arns) == {FOODSEARCH, "dmsctl-growth-users-cdc"}
    assert_no_load_restarted(sandbox)
    assert lock_holder(harness, cfg) is None
    remaining = harness.plan(cfg)[0].plan
    assert remaining.go and {s.stack for st in remaining.steps for s in st.stacks} == {"dmsctl-team-food"}

    code, _, progress = harness.apply(cfg)
    assert code == 0, [e.message for e in progress.events]
    assert _stack_status(sandbox, "dmsctl-team-food") == "UPDATE_COMPLETE"
    assert_safe_and_converged(harness, sandbox, cfg)


@pytest.mark.parametrize("failing_step", [1, 2])
def test_reload_whose_stack_update_fails_is_finished_by_the_next_apply(harness, sandbox, tmp_path,
                                                                       monkeypatch, failing_step):
    """Step 1 or step 2 of a version bump rolls back: the task runs again, the next apply loads the
    new version into its new prefix, nothing is overwritten."""
    deploy_examples(harness, sandbox, tmp_path)
    cfg = tree(tmp_path / "after", bump_foods)
    if failing_step == 1:
        sandbox.faults.fail_next_stack_update("dmsctl-team-food", REASON)
    else:
        real = task_control.wait_dropped

        def then_fail(*args, **kwargs):
            real(*args, **kwargs)
            sandbox.faults.fail_next_stack_update("dmsctl-team-food", REASON)

        monkeypatch.setattr(task_control, "wait_dropped", then_fail)
    run = applier(harness, cfg)
    with pytest.raises(StackFailure, match="injected for the test"):
        run.run()
    assert run.record.steps_done == failing_step - 1
    assert status(sandbox, FOODSEARCH) == "running"
    monkeypatch.undo()

    code, _, progress = harness.apply(cfg)
    assert code == 0, [e.message for e in progress.events]
    sandbox.advance(3600)
    new = sandbox.s3_keys(BUCKET, "replication/food/fooddb/foodsearch/foods/v202111230900/")
    assert any(k.endswith("LOAD00000001.parquet") for k in new)
    assert_safe_and_converged(harness, sandbox, cfg)


# -- a task that does not stop in time -----------------------------------------------------------------------

def test_task_stop_timeout_deploys_nothing_for_that_stack_and_the_next_apply_converges(harness, sandbox,
                                                                                       tmp_path):
    deploy_examples(harness, sandbox, tmp_path)
    cfg = tree(tmp_path / "after", both(tune_foodsearch, add_growth_table))
    timeouts = Timeouts(task=120, stack=600, drop=600)
    sandbox.faults.slow_stop(FOODSEARCH, 900)
    mark = sandbox.calls.mark()
    run = applier(harness, cfg, timeouts=timeouts)
    timed_out = f"timed out after 120 s waiting for tasks {FOODSEARCH}"
    with pytest.raises(task_control.TaskFailure, match=timed_out):
        run.run()
    calls = sandbox.calls.since(mark)
    deployed = {c.params["StackName"] for c in calls if c.operation == "ExecuteChangeSet"}
    assert deployed == {"dmsctl-team-growth"}  # nothing for the food stack; the growth stack went through
    # the food stack's change set, made before the stop, was deleted, not executed
    assert [c.operation for c in calls if c.params.get("StackName") == "dmsctl-team-food"
            and c.operation in ("CreateChangeSet", "DeleteChangeSet", "ExecuteChangeSet")] == [
        "CreateChangeSet", "DeleteChangeSet"]
    assert status(sandbox, "dmsctl-growth-users-cdc") == "running"
    # it could not be restarted while still stopping: reported, and tagged with the run for the next apply
    errors = [e.message for e in run.progress.events if e.kind == "error"]
    assert any(FOODSEARCH in m and run.run_id in m for m in errors), errors
    assert _tags(sandbox, FOODSEARCH).get("dmsctl:stopped-by-run") == run.run_id
    assert run.record.result == "failed" and lock_holder(harness, cfg) is None

    sandbox.advance(900)  # the stop completes
    assert status(sandbox, FOODSEARCH) == "stopped"
    code, _, progress = harness.apply(cfg, timeouts=timeouts)
    assert code == 0, [e.message for e in progress.events]
    assert_safe_and_converged(harness, sandbox, cfg)
    assert "dmsctl:stopped-by-run" not in _tags(sandbox, FOODSEARCH)


# -- a task that fails when started --------------------------------------------------------------------------

def test_task_failing_to_start_is_reported(harness, sandbox, tmp_path, monkeypatch):
    deploy_examples(harness, sandbox, tmp_path)
    cfg = tree(tmp_path / "after", tune_foodsearch)
    real = task_control.start

    def start_then_fail(gw, state, start_type, **kwargs):
        sandbox.faults.fail_task(state.identifier, "Injected: source database unreachable")
        real(gw, state, start_type, **kwargs)

    monkeypatch.setattr(task_control, "start", start_then_fail)
    run = applier(harness, cfg)
    with pytest.raises(task_control.TaskFailure) as err:
        run.run()
    assert f"task {FOODSEARCH} failed: Injected: source database unreachable" in str(err.value)
    assert run.record.result == "failed" and "source database unreachable" in run.record.error
    assert status(sandbox, FOODSEARCH) == "failed"
    assert _stack_status(sandbox, "dmsctl-team-food") == "UPDATE_COMPLETE"  # the change itself landed
    assert {status(sandbox, i) for i in tasks(sandbox) if i != FOODSEARCH and "ledger" not in i
            and "catalog" not in i and "export" not in i} == {"running"}  # paused, finished, scheduled aside
    assert lock_holder(harness, cfg) is None
    # a failed task needs a person: the next plan says so and is no-go
    checks = harness.plan(cfg)[0].plan.checks
    assert any(c.code == "P109" and FOODSEARCH in c.message and c.blocks for c in checks)


# -- the lock ------------------------------------------------------------------------------------------------

def test_a_second_apply_is_refused_while_another_run_holds_the_lock(harness, sandbox, tmp_path):
    deploy_examples(harness, sandbox, tmp_path)
    cfg = tree(tmp_path / "after", tune_foodsearch)
    first = make_lock(harness, cfg)
    first.acquire("20240101000000-first", "alice@ci-runner")
    mark = sandbox.calls.mark()
    with pytest.raises(LockHeld) as err:
        harness.apply(cfg)
    message = str(err.value)
    assert "20240101000000-first" in message and "alice@ci-runner" in message
    assert "dmsctl unlock --env staging --id 20240101000000-first" in message
    assert resource_mutations(sandbox.calls.since(mark)) == []
    assert state_table_writes(sandbox.calls.since(mark)) == ["PutItem"]  # the refused conditional put only
    assert lock_holder(harness, cfg).run_id == "20240101000000-first"  # the refused run did not free it

    first.release()
    code, _, _ = harness.apply(cfg)
    assert code == 0
    assert_safe_and_converged(harness, sandbox, cfg)


def test_two_applies_at_once_the_second_is_refused(harness, sandbox, tmp_path, monkeypatch):
    """A real first run, paused mid-deploy in a thread, holds the lock while the second one starts."""
    deploy_examples(harness, sandbox, tmp_path)
    cfg = tree(tmp_path / "after", tune_foodsearch)
    real_deploy, inside, go_on = Applier._deploy, threading.Event(), threading.Event()

    def slow_deploy(self, *args, **kwargs):
        inside.set()
        assert go_on.wait(30)
        return real_deploy(self, *args, **kwargs)

    monkeypatch.setattr(Applier, "_deploy", slow_deploy)
    first = applier(harness, cfg, run_id="20240101000000-first")
    outcome: list = []
    thread = threading.Thread(target=lambda: outcome.append(first.run()))
    thread.start()
    try:
        assert inside.wait(30)
        second = applier(harness, cfg)
        with pytest.raises(LockHeld, match="run 20240101000000-first by "):
            second.run()
        assert second.record.result == "failed"
    finally:
        go_on.set()
        thread.join(60)
    assert outcome == [0] and first.record.result == "applied"
    assert_safe_and_converged(harness, sandbox, cfg)


# -- a stale plan file ---------------------------------------------------------------------------------------

def _stop_growth_cdc(sandbox):
    arn = tasks(sandbox)["dmsctl-growth-users-cdc"]["ReplicationTaskArn"]
    sandbox.client("dms").stop_replication_task(ReplicationTaskArn=arn)
    sandbox.advance(30)


@pytest.mark.parametrize("what_changed", ["config", "live state"])
def test_stale_plan_is_refused_and_changes_nothing(harness, sandbox, tmp_path, what_changed):
    deploy_examples(harness, sandbox, tmp_path)
    reviewed_cfg = tree(tmp_path / "reviewed", tune_foodsearch)
    reviewed = harness.plan(reviewed_cfg)[0].plan
    if what_changed == "config":
        cfg = tree(tmp_path / "after", both(tune_foodsearch, add_growth_table))
    else:
        cfg = reviewed_cfg
        _stop_growth_cdc(sandbox)  # someone stopped a task since the review: the plan now resumes it
    mark = sandbox.calls.mark()
    run = applier(harness, cfg)
    with pytest.raises(StalePlan, match="plan is stale: .*re-run dmsctl plan"):
        run.run(expected=reviewed)
    calls = sandbox.calls.since(mark)
    assert resource_mutations(calls) == []
    # the state table only saw the lock come and go and the run record of the refusal
    assert sorted(state_table_writes(calls)) == ["DeleteItem", "PutItem", "PutItem"]
    assert run.record.result == "failed" and lock_holder(harness, cfg) is None

    fresh = harness.plan(cfg)[0].plan
    assert applier(harness, cfg).run(expected=fresh) == 0
    assert_safe_and_converged(harness, sandbox, cfg)


# -- a no-go plan --------------------------------------------------------------------------------------------

def _occupy_new_foods_prefix(sandbox):
    sandbox.put_s3_object(BUCKET, "replication/food/fooddb/foodsearch/foods/v202111230900/x.parquet",
                          "someone else's data")


def _remove_payments(teams):
    del teams["payments"]


@pytest.mark.parametrize("case", ["prefix holds data", "delete not acknowledged",
                                  "a table of the task is loading"])
def test_no_go_plan_is_refused_without_any_change(harness, sandbox, tmp_path, case):
    deploy_examples(harness, sandbox, tmp_path)
    if case == "prefix holds data":
        _occupy_new_foods_prefix(sandbox)
        cfg, code = tree(tmp_path / "after", bump_foods), "P105"
    elif case == "delete not acknowledged":
        cfg, code = tree(tmp_path / "after", _remove_payments), "P108"
    else:  # users.devices (a big table) was just added and is loading; now the task would be stopped again
        sandbox.set_table_size("dmsctl-growth-users-cdc", "users", "devices", 1_000_000)
        assert harness.apply(tree(tmp_path / "added", add_growth_table))[0] == 0
        sandbox.advance(60)
        assert sandbox.tables("dmsctl-growth-users-cdc")["users.devices"]["state"] == "Full load"
        cfg, code = tree(tmp_path / "after", both(add_growth_table, _tune_users_cdc)), "P106"
    mark = sandbox.calls.mark()
    with pytest.raises(PlanRefused) as err:
        harness.apply(cfg)
    assert "nothing was changed" in str(err.value) and f"{code} error:" in str(err.value)
    calls = sandbox.calls.since(mark)
    assert resource_mutations(calls) == []
    assert not [c for c in calls if c.operation == "StopReplicationTask"]
    assert lock_holder(harness, cfg) is None
    assert_tasks_up(harness, sandbox, tree(tmp_path / "before"))
    assert sandbox.overwrites == []
    assert_no_load_restarted(sandbox)
    if case == "delete not acknowledged":
        code_, _, _ = harness.apply(cfg, flags=Flags(allow_delete=True))
        assert code_ == 0
        assert_safe_and_converged(harness, sandbox, cfg, Flags(allow_delete=True))


# -- a stop call that fails for one task of a stack ----------------------------------------------------------

class StopRefusedFor(Gateway):
    """DMS refuses StopReplicationTask for one task (e.g. someone is modifying it right now)."""

    def __init__(self, arn: str, **kw):
        super().__init__(**kw)
        self.refused_arn = arn

    def call(self, service, method, *, resource="", **params):
        if method == "stop_replication_task" and params.get("ReplicationTaskArn") == self.refused_arn:
            self.check_allowed(service, method)
            raise AwsError(f"dms:StopReplicationTask failed for {resource}: InvalidResourceStateFault: "
                           "injected", operation="StopReplicationTask", resource=resource,
                           code="InvalidResourceStateFault")
        return super().call(service, method, resource=resource, **params)


def test_a_refused_stop_restores_the_tasks_already_stopped_and_leaves_the_other_running(harness, sandbox,
                                                                                        tmp_path):
    deploy_examples(harness, sandbox, tmp_path)

    def both_growth_tasks(teams):
        add_growth_table(teams)
        teams["growth"]["tasks"]["users-reload"]["tables"].append(
            {"schema": "users", "table": "logins", "version": "v202111010000"})

    cfg = tree(tmp_path / "after", both_growth_tasks)
    reload_arn = tasks(sandbox)["dmsctl-growth-users-reload"]["ReplicationTaskArn"]
    clock = sandbox.clock
    gw = StopRefusedFor(reload_arn, region=sandbox.region, read_only=False, sleep=clock.sleep,
                        monotonic=lambda: clock.now().timestamp(), max_attempts=4)
    mark = sandbox.calls.mark()
    run = applier(harness, cfg, gw=gw)
    with pytest.raises(AwsError, match="InvalidResourceStateFault: injected"):
        run.run()
    deploys = [c.operation for c in sandbox.calls.since(mark)
               if c.operation in ("CreateChangeSet", "DeleteChangeSet", "ExecuteChangeSet")]
    assert deploys == ["CreateChangeSet", "DeleteChangeSet"]  # made before the stop; deleted, never executed
    assert status(sandbox, "dmsctl-growth-users-cdc") == "running"  # stopped by the run, restored
    assert status(sandbox, "dmsctl-growth-users-reload") == "running"  # never stopped: left alone
    errors = [e.message for e in run.progress.events if e.kind == "error"]
    assert errors == []  # nothing it could not restore
    for ident in ("dmsctl-growth-users-cdc", "dmsctl-growth-users-reload"):
        assert "dmsctl:stopped-by-run" not in _tags(sandbox, ident)
    assert_no_load_restarted(sandbox)

    code, _, _ = harness.apply(cfg)
    assert code == 0
    assert_safe_and_converged(harness, sandbox, cfg)


# -- endpoint connection tests -------------------------------------------------------------------------------

def _arns(sandbox) -> tuple[dict[str, str], dict[str, str]]:
    dms = sandbox.client("dms")
    instances = {i["ReplicationInstanceIdentifier"]: i["ReplicationInstanceArn"]
                 for i in dms.describe_replication_instances()["ReplicationInstances"]}
    endpoints = {e["EndpointIdentifier"]: e["EndpointArn"] for e in dms.describe_endpoints()["Endpoints"]}
    return instances, endpoints


def _test_connection(sandbox, instance: str, endpoint: str) -> None:
    instances, endpoints = _arns(sandbox)
    sandbox.client("dms").test_connection(ReplicationInstanceArn=instances[instance],
                                          EndpointArn=endpoints[endpoint])


def test_another_instances_failed_connection_test_does_not_block_the_start(harness, sandbox, tmp_path):
    """fooddb tested from the payments instance fails (no network path from there: normal); foodsearch
    runs on the food instance, whose own test succeeded, so it is started again."""
    deploy_examples(harness, sandbox, tmp_path)
    cfg = tree(tmp_path / "after", tune_foodsearch)
    sandbox.faults.fail_next_connection_test("dmsctl-food-src-fooddb", "Injected: no route from there")
    _test_connection(sandbox, "dmsctl-payments-payments-main", "dmsctl-food-src-fooddb")
    sandbox.advance(5)
    _test_connection(sandbox, "dmsctl-growth-growth-main", "dmsctl-food-src-fooddb")  # still testing later
    code, run, progress = harness.apply(cfg)
    assert code == 0, [e.message for e in progress.events]
    assert status(sandbox, FOODSEARCH) == "running"
    assert_safe_and_converged(harness, sandbox, cfg)


def test_a_failed_connection_test_of_the_tasks_own_instance_is_reported(harness, sandbox, tmp_path, monkeypatch):
    """The password is wrong: every test of fooddb from the food instance fails, the one running when apply
    looks and the one apply runs again; the task is not started against it."""
    deploy_examples(harness, sandbox, tmp_path)
    cfg = tree(tmp_path / "after", tune_foodsearch)
    _test_connection(sandbox, "dmsctl-food-food-main", "dmsctl-target-s3-1min")
    real = sandbox.faults.take_connection_failure
    broken = monkeypatch.context()
    with broken as m:
        m.setattr(sandbox.faults, "take_connection_failure", lambda endpoint_id: "Injected: authentication failed"
                  if endpoint_id == "dmsctl-food-src-fooddb" else real(endpoint_id))
        _test_connection(sandbox, "dmsctl-food-food-main", "dmsctl-food-src-fooddb")
        run = applier(harness, cfg)
        with pytest.raises(task_control.TaskFailure) as err:
            run.run()
    assert ("connection test of endpoint dmsctl-food-src-fooddb from replication instance "
            "dmsctl-food-food-main failed: Injected: authentication failed") in str(err.value)
    assert run.record.result == "failed" and lock_holder(harness, cfg) is None
    assert status(sandbox, FOODSEARCH) == "stopped"  # not started against a failing connection

    sandbox.advance(60)  # the person fixed the password: the next apply tests the pair again
    code, _, progress = harness.apply(cfg)
    assert code == 0, [e.message for e in progress.events]
    assert_safe_and_converged(harness, sandbox, cfg)


def test_a_finished_failed_connection_test_is_tested_again_and_not_ignored(harness, sandbox, tmp_path,
                                                                          monkeypatch):
    """Every test of the task's pairs is over and one failed: the wait for running tests is over, but a
    failed result is stale (the cause may be fixed), so apply tests that pair again; failing again, the
    task is not started against it."""
    deploy_examples(harness, sandbox, tmp_path)
    cfg = tree(tmp_path / "after", tune_foodsearch)
    sandbox.faults.fail_next_connection_test("dmsctl-food-src-fooddb", "Injected: authentication failed")
    _test_connection(sandbox, "dmsctl-food-food-main", "dmsctl-food-src-fooddb")
    sandbox.advance(60)  # the test has finished: failed
    broken = "dmsctl-food-src-fooddb"  # and it stays broken: every test of it fails from now on
    monkeypatch.setattr(sandbox.faults, "take_connection_failure",
                        lambda endpoint_id: "Injected: still failing" if endpoint_id == broken else None)
    mark = sandbox.calls.mark()
    run = applier(harness, cfg)
    with pytest.raises(task_control.TaskFailure, match="Injected: still failing"):
        run.run()
    # tested again before the start, and once more by the restore that tries to start it again
    assert [c.operation for c in sandbox.calls.since(mark)].count("TestConnection") == 2
    assert run.record.result == "failed" and lock_holder(harness, cfg) is None
    assert status(sandbox, FOODSEARCH) == "stopped"
    assert any("could not restart dmsctl-food-foodsearch" in e.message for e in run.progress.events)


def test_a_load_that_starts_after_the_plan_is_never_interrupted(harness, sandbox, tmp_path, monkeypatch):
    """Apply plans, then right before stopping a task looks again: a table that began loading in
    between (here: reloaded from the console) makes it leave that stack alone."""
    deploy_examples(harness, sandbox, tmp_path)
    cfg = tree(tmp_path / "after", both(tune_foodsearch, add_growth_table))
    real = task_control.assert_no_full_load

    def someone_reloads_first(gw, state, *args):
        if state.identifier == FOODSEARCH:
            sandbox.set_table_size(FOODSEARCH, "foodsearch", "nutrients", 1_000_000)
            sandbox.client("dms").reload_tables(ReplicationTaskArn=state.arn, TablesToReload=[
                {"SchemaName": "foodsearch", "TableName": "nutrients"}])
            sandbox.advance(1)
        real(gw, state, *args)

    monkeypatch.setattr(task_control, "assert_no_full_load", someone_reloads_first)
    mark = sandbox.calls.mark()
    run = applier(harness, cfg)
    with pytest.raises(task_control.TaskFailure, match=f"task {FOODSEARCH} has tables loading now "
                                                       r"\(foodsearch.nutrients \(Table is being reloaded\)\)"):
        run.run()
    calls = sandbox.calls.since(mark)
    deployed = [c.params["StackName"] for c in calls if c.operation == "ExecuteChangeSet"]
    assert deployed == ["dmsctl-team-growth"]
    assert status(sandbox, FOODSEARCH) == "running"
    assert sandbox.tables(FOODSEARCH)["foodsearch.nutrients"]["state"] == "Full load"
    assert_no_load_restarted(sandbox)
    assert "dmsctl:stopped-by-run" not in _tags(sandbox, FOODSEARCH)


def test_allow_interrupt_stops_a_loading_task_when_acknowledged(harness, sandbox, tmp_path):
    """A stuck or very long load must not block every fix to its task: --allow-interrupt acknowledges
    P106 in the plan, and apply's re-check before stopping honours it (the load restarts, as it says)."""
    deploy_examples(harness, sandbox, tmp_path)
    cfg = tree(tmp_path / "after", tune_foodsearch)
    arn = tasks(sandbox)[FOODSEARCH]["ReplicationTaskArn"]
    sandbox.set_table_size(FOODSEARCH, "foodsearch", "nutrients", 50_000_000)
    sandbox.client("dms").reload_tables(ReplicationTaskArn=arn, TablesToReload=[
        {"SchemaName": "foodsearch", "TableName": "nutrients"}])
    sandbox.advance(5)
    blocked = harness.plan(cfg)[0].plan
    assert [c.code for c in blocked.checks if c.blocks] == ["P106"]
    flags = Flags(allow_interrupt=True)
    allowed = harness.plan(cfg, flags=flags)[0].plan
    assert allowed.go and any(c.code == "P106" and c.acknowledged_by == "--allow-interrupt" for c in allowed.checks)
    code, run, progress = harness.apply(cfg, flags=flags)
    assert code == 0 and run.record.result == "applied", [e.message for e in progress.events]
    sandbox.advance(60)
    assert status(sandbox, FOODSEARCH) == "running"
