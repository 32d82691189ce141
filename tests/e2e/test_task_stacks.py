"""Task stacks (`stack:` on a task): a team's tasks spread over several CloudFormation stacks that
import the team stack's instance and source exports, planned and applied on the sandbox."""

from __future__ import annotations

import copy

import pytest
import yaml

from dmsctl.deployer import plan as P
from dmsctl.deployer.checks import Flags
from tests.helpers import EXAMPLES, write_tree

TEAM = "dmsctl-team-growth"
BULK = "dmsctl-team-growth--bulk"
RELOAD = "dmsctl-growth-users-reload"


def _tree(tmp_path, *mutations):
    base = yaml.safe_load((EXAMPLES / "base.yaml").read_text())
    teams = copy.deepcopy({p.stem: yaml.safe_load(p.read_text()) for p in (EXAMPLES / "teams").glob("*.yaml")})
    for mutate in mutations:
        mutate(teams["growth"])
    return write_tree(tmp_path, base=base, teams=teams)


def _in_bulk(growth):
    growth["tasks"]["users-reload"]["stack"] = "bulk"


def _bump(growth, version="v202111230000"):
    for table in growth["tasks"]["users-reload"]["tables"]:
        table["version"] = version


def _spare_instance(growth):
    growth["instances"]["growth-spare"] = {"class": "dms.t3.medium", "storage_gb": 50}
    growth["tasks"]["users-reload"]["instance"] = "growth-spare"


@pytest.fixture(autouse=True)
def _lake(sandbox):
    sandbox.put_s3_object("acme-datalake-staging", "README", "lake")


def _stack_names(sandbox):
    cfn = sandbox.client("cloudformation")
    return {s["StackName"] for s in cfn.describe_stacks()["Stacks"] if s["StackStatus"] != "DELETE_COMPLETE"}


def _task(sandbox, ident):
    tasks = sandbox.client("dms").describe_replication_tasks()["ReplicationTasks"]
    return next((t for t in tasks if t["ReplicationTaskIdentifier"] == ident), None)


def _exports(sandbox):
    return {e["Name"]: e["Value"] for e in sandbox.client("cloudformation").list_exports()["Exports"]}


def test_a_task_stack_imports_the_team_stacks_instance_and_source(harness, sandbox, tmp_path):
    tree = _tree(tmp_path, _in_bulk)
    code, applier, _ = harness.apply(tree)
    assert code == 0
    assert {TEAM, BULK} <= _stack_names(sandbox)
    exports = _exports(sandbox)
    task = _task(sandbox, RELOAD)
    assert exports[f"{TEAM}-instance-growth-main-arn"] == task["ReplicationInstanceArn"]
    assert exports[f"{TEAM}-source-usersdb-arn"] == task["SourceEndpointArn"]
    assert task["Status"] == "running"
    # the task lives in the task stack, not in the team stack
    bulk = sandbox.client("cloudformation").describe_stack_resources(StackName=BULK)["StackResources"]
    assert [r["PhysicalResourceId"] for r in bulk if r["ResourceType"] == "AWS::DMS::ReplicationTask"] == [
        task["ReplicationTaskArn"]]
    sandbox.advance(3600)
    again, _ = harness.plan(tree)
    assert again.plan.steps == () and again.plan.exit_code() == 0


def test_moving_a_task_to_a_task_stack_is_a_two_step_replacement(harness, sandbox, tmp_path):
    assert harness.apply(_tree(tmp_path / "a"))[0] == 0
    sandbox.advance(3600)
    moved = _tree(tmp_path / "b", _in_bulk, _bump)

    blocked, _ = harness.plan(moved)
    assert [c.code for c in blocked.plan.checks if c.blocks] == ["P107"]
    assert "moves from stack dmsctl-team-growth to dmsctl-team-growth--bulk" in blocked.plan.checks[0].message
    assert not any(c.code == "P108" for c in blocked.plan.checks)  # the delete half is not a deletion

    planned, _ = harness.plan(moved, flags=Flags(allow_replace=True))
    plan = planned.plan
    assert plan.go and len(plan.steps) == 2
    assert plan.summary.tasks_to_replace == 1 and plan.summary.tasks_to_delete == 0
    step1 = {s.stack: s for s in plan.steps[0].stacks}
    step2 = {s.stack: s for s in plan.steps[1].stacks}
    assert step1[TEAM].stop == (RELOAD,) and step1[BULK].action == P.CREATE and step1[BULK].start == ()
    assert step2[BULK].start == (P.TaskStart(RELOAD, P.START_REPLICATION),)

    code, _, _ = harness.apply(moved, flags=Flags(allow_replace=True))
    assert code == 0
    assert _task(sandbox, RELOAD)["Status"] == "running"
    sandbox.advance(3600)
    assert harness.plan(moved)[0].plan.steps == ()


def test_replacing_the_instance_of_a_task_stack_deploys_the_task_stack_first(harness, sandbox, tmp_path):
    """Step 1 removes the replaced task (and with it the import of growth-main's export) before the team
    stack stops exporting growth-main: CloudFormation refuses to remove an export that is imported."""
    assert harness.apply(_tree(tmp_path / "a", _in_bulk))[0] == 0
    sandbox.advance(3600)
    after = _tree(tmp_path / "b", _in_bulk, _spare_instance, _bump)
    planned, _ = harness.plan(after, flags=Flags(allow_replace=True))
    plan = planned.plan
    assert plan.go, [c.message for c in plan.checks if c.blocks]
    waves = {s.stack: s.wave for s in plan.steps[0].stacks}
    assert waves[BULK] < waves[TEAM]
    assert [s.stack for s in plan.steps[0].stacks].index(BULK) < [s.stack for s in plan.steps[0].stacks].index(TEAM)

    code, applier, _ = harness.apply(after, flags=Flags(allow_replace=True))
    assert code == 0
    exports = _exports(sandbox)
    assert f"{TEAM}-instance-growth-main-arn" not in exports
    assert exports[f"{TEAM}-instance-growth-spare-arn"] == _task(sandbox, RELOAD)["ReplicationInstanceArn"]
    sandbox.advance(3600)
    assert harness.plan(after)[0].plan.steps == ()


def test_modifying_an_imported_instance_stops_the_importing_task_around_the_team_deploy(harness, sandbox, tmp_path):
    assert harness.apply(_tree(tmp_path / "a", _in_bulk))[0] == 0
    sandbox.advance(3600)

    def bigger(growth):
        growth["instances"]["growth-main"]["storage_gb"] = 150

    planned, _ = harness.plan(_tree(tmp_path / "b", _in_bulk, bigger))
    team_step = {s.stack: s for s in planned.plan.steps[0].stacks}[TEAM]
    assert RELOAD in team_step.stop and P.TaskStart(RELOAD, P.RESUME_PROCESSING) in team_step.start


def test_a_step_needing_both_orders_is_refused(harness, sandbox, tmp_path):
    """One deploy would have to drop growth-main's export (imported by the task stack) and add
    growth-spare's (needed by the task stack's new task): no order works, so the plan says split it."""
    def two_in_bulk(growth):
        growth["tasks"]["users-cdc"]["stack"] = "bulk"
        _in_bulk(growth)

    assert harness.apply(_tree(tmp_path / "a", two_in_bulk))[0] == 0
    sandbox.advance(3600)

    def swap(growth):
        del growth["tasks"]["users-reload"]
        growth["tasks"]["users-cdc"]["stack"] = None
        growth["tasks"]["users-cdc"].pop("stack")
        growth["instances"]["growth-spare"] = {"class": "dms.t3.medium", "storage_gb": 50}
        growth["tasks"]["spare"] = {"source": "usersdb", "instance": "growth-spare", "target": "s3-10min",
                                    "migration_type": "full-load-and-cdc", "stack": "bulk",
                                    "tables": [{"schema": "users", "table": "extra", "version": "v202111230000"}]}

    planned, _ = harness.plan(_tree(tmp_path / "b", two_in_bulk, swap), flags=Flags(allow_delete=True,
                                                                                      allow_replace=True))
    assert "P117" in [c.code for c in planned.plan.checks if c.blocks]


def _growth_subscriptions(sandbox):
    subs = sandbox.client("dms").describe_event_subscriptions()["EventSubscriptionsList"]
    return [s for s in subs if s["CustSubscriptionId"].startswith("dmsctl-growth-events")]


def _notify(growth):
    growth["notifications"] = {"email": ["growth-data@example.com"]}


def test_notifications_cover_the_tasks_of_task_stacks_too(harness, sandbox, tmp_path):
    tree = _tree(tmp_path / "a", _in_bulk, _notify)
    code, _, progress = harness.apply(tree)
    assert code == 0, [e.message for e in progress.events if e.kind == "error"]
    topic = _exports(sandbox)[f"{TEAM}-topic-events-arn"]
    subs = _growth_subscriptions(sandbox)
    by_ids = {tuple(sorted(s.get("SourceIdsList", []))): s for s in subs}
    assert set(by_ids) == {("dmsctl-growth-users-cdc",), (RELOAD,)}  # the team stack's task, the task stack's
    assert {s["SnsTopicArn"] for s in subs} == {topic}
    sandbox.advance(3600)
    assert harness.plan(tree)[0].plan.steps == ()

    # dropping notifications removes an export the task stack imports: the task stack deploys first
    quiet = _tree(tmp_path / "b", _in_bulk)
    planned, _ = harness.plan(quiet)
    waves = {s.stack: s.wave for s in planned.plan.steps[0].stacks}
    assert waves[BULK] < waves[TEAM]
    assert harness.apply(quiet)[0] == 0
    assert _growth_subscriptions(sandbox) == []


def test_a_scheduled_export_in_a_task_stack_runs_and_reports_to_the_team_topic(harness, sandbox, tmp_path):
    import time

    def export_in_bulk(growth):
        _notify(growth)
        growth["tasks"]["users-export"] = {
            "source": "usersdb", "instance": "growth-main", "target": "s3-10min", "migration_type": "full-load",
            "stack": "bulk", "schedule": {"expression": "cron(0 3 * * ? *)", "output": "dated"},
            "tables": [{"schema": "users", "table": "accounts", "version": "v202111230000"}]}

    tree = _tree(tmp_path / "a", _in_bulk, export_in_bulk)
    code, _, progress = harness.apply(tree)
    assert code == 0, [e.message for e in progress.events if e.kind == "error"]
    bulk = sandbox.client("cloudformation").describe_stack_resources(StackName=BULK)["StackResources"]
    assert {"AWS::StepFunctions::StateMachine", "AWS::Events::Rule"} <= {r["ResourceType"] for r in bulk}
    sfn = sandbox.client("stepfunctions")
    machine = next(m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]
                   if m["name"] == "dmsctl-growth-users-export")
    day = sandbox.clock.now().strftime("%Y/%m/%d")
    arn = sfn.start_execution(stateMachineArn=machine, name="nightly", input="{}")["executionArn"]
    deadline = time.monotonic() + 60
    while (run := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert run["status"] == "SUCCEEDED", (run.get("error"), run.get("cause"))
    assert sandbox.s3_keys("acme-datalake-staging", f"replication/growth/export/users-export/{day}/")
    sandbox.advance(3600)
    assert harness.plan(tree)[0].plan.steps == ()
