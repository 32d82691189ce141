"""The stop window: apply creates the change set, and checks it against the plan, before it stops anything;
a "no changes" change set stops nothing; a signal before the change set is executed leaves the tasks running;
stacks deploying in parallel share one poller, so their waits do not multiply the calls."""

from __future__ import annotations

import signal
import time

import pytest

from dmsctl.deployer import diff, stack_deploy
from dmsctl.deployer.errors import DmsctlError
from dmsctl.deployer.interrupt import Interrupt, Interrupted
from tests.e2e.apply_helpers import (
    add_growth_table,
    applier,
    assert_no_stopped_by_tags,
    assert_safe_and_converged,
    deploy_examples,
    gateway,
    resource_mutations,
    status,
    tree,
    tune_foodsearch,
)

pytestmark = pytest.mark.usefixtures("shared_botocore_loader")

FOODSEARCH = "dmsctl-food-foodsearch"
FOOD_STACK = "dmsctl-team-food"


def _change_sets_left(sandbox, stack: str) -> list[str]:
    rows = sandbox.client("cloudformation").list_change_sets(StackName=stack)["Summaries"]
    return [r["ChangeSetName"] for r in rows if r.get("ExecutionStatus") != "EXECUTE_COMPLETE"]


def test_the_change_set_is_ready_before_any_task_stops(harness, sandbox, tmp_path):
    deploy_examples(harness, sandbox, tmp_path)
    sandbox.configure(cfn_change_set_seconds=30, cfn_latency_seconds=40)  # A70: CloudFormation computes it 30 s
    mark = sandbox.calls.mark()
    code, _, _ = harness.apply(tree(tmp_path / "after", tune_foodsearch))
    assert code == 0
    calls = [c for c in sandbox.calls.since(mark) if c.params.get("StackName") == FOOD_STACK
             or c.operation == "StopReplicationTask"]
    ops = [c.operation for c in calls]
    first_stop, execute = ops.index("StopReplicationTask"), ops.index("ExecuteChangeSet")
    assert ops.index("CreateChangeSet") < first_stop < execute
    ready = max(i for i, op in enumerate(ops) if op == "DescribeChangeSet")
    assert ready < first_stop  # the last look at the change set (the one that found it computed) came first
    stopped_for = (calls[execute].at - calls[first_stop].at).total_seconds()
    assert stopped_for < 30  # the 30 s CloudFormation spends on the change set are not in the stop window
    # the stack is waited for through its events only
    assert "DescribeStacks" not in ops[execute:] and "DescribeStackEvents" in ops[execute:]


def test_a_replacement_the_plan_does_not_show_is_refused_before_anything_stops(harness, sandbox, tmp_path,
                                                                              monkeypatch):
    """The plan misses that TargetEndpointArn is create-only (its schema knowledge stubbed out); CloudFormation's
    change set says Replacement True: P150, nothing stopped, the change set deleted."""
    deploy_examples(harness, sandbox, tmp_path)

    def to_s3_10min(teams):
        teams["food"]["tasks"]["foodsearch"]["target"] = "s3-10min"

    cfg = tree(tmp_path / "after", to_s3_10min)
    monkeypatch.setattr(diff, "create_only", lambda resource_type, region="us-east-1": frozenset())
    assert any(t.identifier == FOODSEARCH and t.action == "update" for c in harness.plan(cfg)[0].plan.stacks
               for t in c.tasks)  # the plan: an update in place
    mark = sandbox.calls.mark()
    with pytest.raises(DmsctlError) as err:
        harness.apply(cfg)
    message = str(err.value)
    assert "P150" in message and "TaskFoodsearch" in message and "TargetEndpointArn" in message
    assert "Replacement True" in message
    mutations = [c.operation for c in resource_mutations(sandbox.calls.since(mark))]
    assert mutations == ["CreateChangeSet", "DeleteChangeSet"]
    assert status(sandbox, FOODSEARCH) == "running"
    assert _change_sets_left(sandbox, FOOD_STACK) == []


def test_no_changes_in_the_change_set_stops_nothing(harness, sandbox, tmp_path, monkeypatch):
    """CloudFormation finds nothing to change (here: another deploy of the same template since the plan): the
    task the plan would stop for the deploy keeps running, and nothing is executed."""
    deploy_examples(harness, sandbox, tmp_path)
    cfg = tree(tmp_path / "after", tune_foodsearch)
    real = stack_deploy.create_change_set
    dms, cfn = sandbox.client("dms"), sandbox.client("cloudformation")

    def deployed_meanwhile(gw, stack, argument, *args, **kwargs):
        if stack == FOOD_STACK:  # someone deploys the same template by hand, stopping the task around it
            arn = dms.describe_replication_tasks(Filters=[{"Name": "replication-task-id", "Values": [FOODSEARCH]}]
                                                 )["ReplicationTasks"][0]["ReplicationTaskArn"]
            dms.stop_replication_task(ReplicationTaskArn=arn)
            sandbox.advance(30)
            cfn.update_stack(StackName=stack, TemplateBody=argument["TemplateBody"], Capabilities=["CAPABILITY_IAM"])
            dms.start_replication_task(ReplicationTaskArn=arn, StartReplicationTaskType="resume-processing")
            sandbox.advance(30)
        return real(gw, stack, argument, *args, **kwargs)

    monkeypatch.setattr(stack_deploy, "create_change_set", deployed_meanwhile)
    code, run, progress = harness.apply(cfg)
    assert code == 0
    assert run.gw.calls["dms:StopReplicationTask"] == 0 and run.gw.calls["cloudformation:ExecuteChangeSet"] == 0
    assert any(e.kind == "deployed" and e.message == "unchanged" for e in progress.events)
    assert status(sandbox, FOODSEARCH) == "running"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_between_the_change_set_and_its_execution_leaves_the_tasks_running(harness, sandbox, tmp_path,
                                                                                   monkeypatch, signum):
    deploy_examples(harness, sandbox, tmp_path)
    cfg = tree(tmp_path / "after", tune_foodsearch)
    interrupt = Interrupt()
    real = stack_deploy.create_change_set

    def then_signal(*args, **kwargs):
        cs = real(*args, **kwargs)
        interrupt.set(signum)  # the change set is computed; nothing is stopped yet
        return cs

    monkeypatch.setattr(stack_deploy, "create_change_set", then_signal)
    gw = gateway(harness)
    gw.sleep = interrupt.wrap(gw.sleep)
    run = applier(harness, cfg, gw=gw, interrupt=interrupt)
    mark = sandbox.calls.mark()
    with pytest.raises(Interrupted) as raised:
        run.run()
    assert raised.value.exit_code == 128 + signum
    assert "left for the next apply: nothing" in run.record.error
    mutations = [c.operation for c in resource_mutations(sandbox.calls.since(mark))]
    assert mutations == ["CreateChangeSet", "DeleteChangeSet"]  # deleted: nobody executes it by mistake later
    assert status(sandbox, FOODSEARCH) == "running"
    assert _change_sets_left(sandbox, FOOD_STACK) == []
    monkeypatch.setattr(stack_deploy, "create_change_set", real)
    code, _, _ = harness.apply(cfg)
    assert code == 0
    sandbox.advance(60)
    assert_safe_and_converged(harness, sandbox, cfg)
    assert_no_stopped_by_tags(harness, sandbox, cfg)


def _tune_billing(teams):
    teams["payments"]["tasks"]["billing-cdc"]["settings"] = {"ChangeProcessingTuning": {"BatchApplyTimeoutMax": 90}}


def _wait_reads(harness, sandbox, cfg) -> tuple[int, int, int]:
    """(DescribeReplicationTasks made by waits, DescribeStackEvents, stacks deployed) of one apply: the task
    reads but the two plans' (the first, the final) and each stack's one look before it stops anything."""
    planned, plan_gw = harness.plan(cfg)
    per_plan = plan_gw.calls["dms:DescribeReplicationTasks"]
    stacks = [s for step in planned.plan.steps for s in step.stacks if s.stop or s.recheck]
    sandbox.configure(cfn_latency_seconds=60)
    clock = sandbox.clock

    def sleep(seconds: float) -> None:  # the sim clock moves with the poller's sleep, which also takes real
        time.sleep(seconds / 50)  # time (1/50): the stacks' threads run meanwhile, as they would on AWS
        clock.advance(seconds)

    run = applier(harness, cfg, gw=gateway(harness, sleep=sleep))
    code = run.run()
    assert code == 0 and run.record.result == "applied"
    sandbox.configure(cfn_latency_seconds=0)
    sandbox.advance(120)
    calls = run.gw.calls
    waits = calls["dms:DescribeReplicationTasks"] - 2 * per_plan - len(stacks)
    return waits, calls["cloudformation:DescribeStackEvents"], len(stacks)


def test_stacks_deploying_in_parallel_share_one_poller(harness, sandbox, tmp_path):
    """Three team stacks at once make about as many task reads while waiting as one stack does; each stack's
    events are read about as often as one stack's are (a call-count ratio, not a timing)."""
    deploy_examples(harness, sandbox, tmp_path)
    one_tasks, one_events, _ = _wait_reads(harness, sandbox, tree(tmp_path / "one", tune_foodsearch))

    def three(teams):
        tune_foodsearch(teams)
        add_growth_table(teams)
        _tune_billing(teams)
        teams["food"]["tasks"]["foodsearch"]["settings"]["ChangeProcessingTuning"]["BatchApplyTimeoutMax"] = 120

    k_tasks, k_events, k = _wait_reads(harness, sandbox, tree(tmp_path / "three", three))
    assert k == 3 and one_tasks > 0 and k_tasks <= 1.5 * one_tasks, (one_tasks, k_tasks)  # not 3x: shared
    assert k_events <= k * 1.5 * one_events, (one_events, k_events)
