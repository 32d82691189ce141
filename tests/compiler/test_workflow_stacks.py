"""What schedules and notifications compile to (docs/CONFIG.md "Schedules and notifications"): the team
stack's export endpoints, state machines, schedule rules, IAM roles, events topic and DMS event
subscription; the compiled tasks' schedule fields; cfn-lint clean."""

from __future__ import annotations

import copy
import json

import pytest

from dmsctl.compiler import naming, workflows
from dmsctl.compiler.build import compile_tree
from dmsctl.compiler.lint import Linter
from tests.helpers import minimal_team, write_tree


def _task(migration_type: str, tables: list[str], **extra) -> dict:
    return {"source": "db", "instance": "main", "target": "s3-10min", "migration_type": migration_type,
            "tables": [{"schema": "app", "table": t, "version": "v202001010000"} for t in tables], **extra}


def scheduled_team() -> dict:
    team = minimal_team()
    team["tasks"].update({
        "nightly": _task("full-load", ["t0", "t1"], schedule={"expression": "cron(0 2 * * ? *)", "output": "dated"}),
        "hourly": _task("full-load", ["t2"], paused=True,
                        schedule={"expression": "rate(1 hour)", "output": "timestamped"}),
        "orders": _task("cdc", ["t3"], schedule={"expression": "rate(6 hours)"},
                        cdc_start_time="2026-11-01T00:00:00Z"),
        "both": _task("full-load-and-cdc", ["t4"], schedule={"expression": "cron(0 */4 * * ? *)"}),
    })
    team["notifications"] = {"email": ["oncall@acme.io", "data@acme.io"], "https": ["https://hooks.acme.io/dms?x=1"]}
    return team


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    root = tmp_path_factory.mktemp("tree")
    result = compile_tree(write_tree(root, teams={"alpha": scheduled_team(), "beta": minimal_team("beta")}),
                          "staging", Linter(cache_dir=root / "lint"))
    assert result.ok, [str(d) for d in result.diagnostics]
    return result


def stack(result, name: str) -> dict:
    return next(s for s in result.tree.stacks if s.name == name).template


def resources(result, name: str = "dmsctl-team-alpha") -> dict:
    return stack(result, name)["Resources"]


def test_cfn_lint_clean(compiled):
    assert [str(d) for d in compiled.diagnostics if d.code in ("E302", "W302")] == []


def test_resources_by_kind(compiled):
    res = resources(compiled)
    kinds = {lid: r["Type"] for lid, r in res.items()}
    assert {lid for lid, t in kinds.items() if t == "AWS::DMS::Endpoint" and lid.startswith("Export")} == {
        "ExportEndpointNightly", "ExportEndpointHourly"}
    assert {lid for lid, t in kinds.items() if t == "AWS::StepFunctions::StateMachine"} == {
        "StateMachineNightly", "StateMachineHourly", "StateMachineOrders", "StateMachineBoth"}
    assert {lid for lid, t in kinds.items() if t == "AWS::Events::Rule"} == {
        "ScheduleNightly", "ScheduleHourly", "ScheduleOrders", "ScheduleBoth"}
    assert {lid for lid, t in kinds.items() if t == "AWS::IAM::Role"} == {
        "SecretsAccessRole", "WorkflowRole", "WorkflowScheduleRole"}
    assert sorted(t for t in kinds.values() if t.startswith(("AWS::SNS", "AWS::DMS::EventSub"))) == [
        "AWS::DMS::EventSubscription", "AWS::SNS::Subscription", "AWS::SNS::Subscription", "AWS::SNS::Subscription",
        "AWS::SNS::Topic", "AWS::SNS::TopicPolicy"]
    # a team without schedules or notifications gets none of it
    assert {r["Type"] for r in resources(compiled, "dmsctl-team-beta").values()} == {
        "AWS::IAM::Role", "AWS::DMS::Endpoint", "AWS::DMS::ReplicationInstance", "AWS::DMS::ReplicationTask"}


def test_export_endpoint_copies_the_target_profile_and_the_task_writes_through_it(compiled):
    res = resources(compiled)
    base = stack(compiled, "dmsctl-base")["Resources"]["TargetS310min"]["Properties"]["S3Settings"]
    endpoint = res["ExportEndpointNightly"]["Properties"]
    assert endpoint["EndpointIdentifier"] == "dmsctl-alpha-nightly-export"
    assert (endpoint["EndpointType"], endpoint["EngineName"]) == ("target", "s3")
    settings = endpoint["S3Settings"]
    assert settings["BucketFolder"] == "replication/alpha/export/nightly"
    assert settings["ServiceAccessRoleArn"] == {"Fn::ImportValue": "dmsctl-base-datalake-role-arn"}
    drop = ("BucketFolder", "ServiceAccessRoleArn")
    assert {k: v for k, v in settings.items() if k not in drop} == {k: v for k, v in base.items() if k not in drop}
    assert res["TaskNightly"]["Properties"]["TargetEndpointArn"] == {"Ref": "ExportEndpointNightly"}
    assert res["TaskOrders"]["Properties"]["TargetEndpointArn"] == {
        "Fn::ImportValue": "dmsctl-base-target-s3-10min-arn"}
    mappings = json.loads(res["TaskNightly"]["Properties"]["TableMappings"])
    assert {r["value"] for r in mappings["rules"] if r.get("rule-target") == "schema"} == {"db/app"}


def test_state_machines_and_their_schedules(compiled):
    res = resources(compiled)
    for task, kind, state in (("nightly", "export", "ENABLED"), ("hourly", "export", "DISABLED"),
                              ("orders", "incremental", "ENABLED"), ("both", "incremental", "ENABLED")):
        lid = naming.logical_id("StateMachine", task)
        props = res[lid]["Properties"]
        assert props["StateMachineName"] == f"dmsctl-alpha-{task}"
        assert props["RoleArn"] == {"Fn::GetAtt": ["WorkflowRole", "Arn"]}
        definition = json.loads(props["DefinitionString"])
        assert definition["Comment"].startswith(f"dmsctl {kind} run of dmsctl-alpha-{task}")
        assert set(props["DefinitionSubstitutions"]) == workflows.placeholders(definition)
        assert props["DefinitionSubstitutions"]["TaskArn"] == {"Ref": naming.logical_id("Task", task)}
        assert props["DefinitionSubstitutions"]["TopicArn"] == {"Ref": "EventsTopic"}
        rule = res[naming.logical_id("Schedule", task)]["Properties"]
        assert rule["Name"] == f"dmsctl-alpha-{task}-schedule"
        assert rule["State"] == state  # a paused task keeps its schedule, disabled
        assert rule["Targets"] == [{"Id": "state-machine", "Arn": {"Ref": lid},
                                    "RoleArn": {"Fn::GetAtt": ["WorkflowScheduleRole", "Arn"]}}]
    assert res["ScheduleNightly"]["Properties"]["ScheduleExpression"] == "cron(0 2 * * ? *)"
    subs = res["StateMachineNightly"]["Properties"]["DefinitionSubstitutions"]
    assert subs["ExportEndpointArn"] == {"Ref": "ExportEndpointNightly"}
    assert subs["InstanceArn"] == {"Ref": "InstanceMain"}
    assert res["StateMachineOrders"]["Properties"]["DefinitionSubstitutions"]["StateTable"] == {
        "Fn::ImportValue": "dmsctl-base-state-table"}
    exported = json.loads(res["StateMachineHourly"]["Properties"]["DefinitionString"])
    assert "replication/alpha/export/hourly/{}/{}/{}/{}{}{}" in json.dumps(exported)


def _statements(res: dict, role: str) -> dict:
    [policy] = res[role]["Properties"]["Policies"]
    return {s.get("Sid", "-"): s for s in policy["PolicyDocument"]["Statement"]}


def test_workflow_roles_grant_only_what_the_runs_call(compiled):
    res = resources(compiled)
    trust = res["WorkflowRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"Service": "states.amazonaws.com"}
    st = _statements(res, "WorkflowRole")
    scheduled = [{"Ref": f"Task{t}"} for t in ("Both", "Hourly", "Nightly", "Orders")]
    assert sorted(st["StartScheduledTasks"]["Resource"], key=str) == sorted(scheduled, key=str)  # not TaskCdc
    assert sorted(st["PointExportEndpoints"]["Resource"], key=str) == [
        {"Ref": "ExportEndpointHourly"}, {"Ref": "ExportEndpointNightly"}]
    assert st["ListExportFolders"]["Resource"] == "arn:aws:s3:::lake-staging"
    assert sorted(st["ListExportFolders"]["Condition"]["StringLike"]["s3:prefix"]) == [
        "replication/alpha/export/hourly/*", "replication/alpha/export/nightly/*"]
    assert st["PassDatalakeRoleToDms"]["Condition"] == {"StringEquals": {"iam:PassedToService": "dms.amazonaws.com"}}
    assert sorted(st["IncrementalTableStatistics"]["Resource"], key=str) == [{"Ref": "TaskBoth"},
                                                                             {"Ref": "TaskOrders"}]
    db = st["CheckpointsAndMetrics"]
    assert db["Action"] == ["dynamodb:GetItem", "dynamodb:PutItem"]
    assert db["Resource"]["Fn::Sub"][1] == {"Table": {"Fn::ImportValue": "dmsctl-base-state-table"}}
    assert db["Condition"]["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"] == [
        "checkpoint#dmsctl-alpha-both", "checkpoint#dmsctl-alpha-orders", "metrics#dmsctl-alpha-both",
        "metrics#dmsctl-alpha-orders"]
    assert st["PublishRunFailures"]["Resource"] == {"Ref": "EventsTopic"}
    [start] = res["WorkflowScheduleRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert start["Action"] == "states:StartExecution"
    assert sorted(start["Resource"], key=str) == sorted(
        ({"Ref": f"StateMachine{t}"} for t in ("Both", "Hourly", "Nightly", "Orders")), key=str)


def test_notifications(compiled):
    res = resources(compiled)
    assert res["EventsTopic"]["Properties"]["TopicName"] == "dmsctl-alpha-events"
    policy = res["EventsTopicPolicy"]["Properties"]
    assert policy["PolicyDocument"]["Statement"][0]["Principal"] == {"Service": "dms.amazonaws.com"}
    subs = {(r["Properties"]["Protocol"], r["Properties"]["Endpoint"]) for r in res.values()
            if r["Type"] == "AWS::SNS::Subscription"}
    assert subs == {("email", "oncall@acme.io"), ("email", "data@acme.io"), ("https", "https://hooks.acme.io/dms?x=1")}
    events = res["EventSubscription"]
    ids = [f"dmsctl-alpha-{t}" for t in ("both", "cdc", "hourly", "nightly", "orders")]
    assert events["Properties"] == {
        "SubscriptionName": naming.event_subscription_name("dmsctl", "alpha", ids),
        "SnsTopicArn": {"Ref": "EventsTopic"},
        "SourceType": "replication-task", "SourceIds": ids, "EventCategories": ["failure", "state change"],
        "Enabled": True, "Tags": events["Properties"]["Tags"]}
    assert events["Properties"]["SubscriptionName"].startswith("dmsctl-alpha-events-")
    assert set(events["DependsOn"]) == {"EventsTopicPolicy"} | {naming.logical_id("Task", t.rsplit("-", 1)[-1])
                                                                for t in ids}


def test_subscription_ids_do_not_depend_on_order_and_the_subscription_name_on_the_tasks(tmp_path):
    team = scheduled_team()
    team["notifications"]["email"].reverse()
    again = compile_tree(write_tree(tmp_path / "a", teams={"alpha": team}), "staging")
    fewer = copy.deepcopy(team)
    del fewer["tasks"]["both"]
    other = compile_tree(write_tree(tmp_path / "b", teams={"alpha": fewer}), "staging")
    first = compile_tree(write_tree(tmp_path / "c", teams={"alpha": scheduled_team()}), "staging")
    ids = lambda r: sorted(k for k, v in resources(r).items() if v["Type"] == "AWS::SNS::Subscription")  # noqa: E731
    assert ids(again) == ids(first)
    name = lambda r: resources(r)["EventSubscription"]["Properties"]["SubscriptionName"]  # noqa: E731
    assert name(again) == name(first) != name(other)


def test_compiled_tasks_carry_schedule_and_cdc_start_time(compiled):
    tasks = {t.name: t for t in compiled.tree.tasks() if t.team == "alpha"}
    assert tasks["cdc"].schedule is None and tasks["cdc"].cdc_start_time is None
    assert (tasks["nightly"].schedule.expression, tasks["nightly"].schedule.output) == ("cron(0 2 * * ? *)", "dated")
    assert tasks["orders"].schedule.output is None and tasks["orders"].cdc_start_time == "2026-11-01T00:00:00Z"
    assert [t.s3_prefix for t in tasks["nightly"].tables] == [
        "replication/alpha/export/nightly/{date}/db/app/t0/v202001010000/",
        "replication/alpha/export/nightly/{date}/db/app/t1/v202001010000/"]
    assert [t.s3_prefix for t in tasks["orders"].tables] == ["replication/alpha/db/app/t3/v202001010000/"]


def test_imports_all_exist_in_the_base_stack(compiled):
    exported = {o["Export"]["Name"] for o in stack(compiled, "dmsctl-base")["Outputs"].values() if "Export" in o}

    def imports(node):
        if isinstance(node, dict):
            if set(node) == {"Fn::ImportValue"}:
                return {node["Fn::ImportValue"]}
            return set().union(*(imports(v) for v in node.values())) if node else set()
        if isinstance(node, list):
            return set().union(*(imports(v) for v in node)) if node else set()
        return set()

    assert imports(stack(compiled, "dmsctl-team-alpha")) <= exported


def test_schedules_without_notifications_and_notifications_without_schedules(tmp_path):
    quiet = scheduled_team()
    del quiet["notifications"]
    told = minimal_team("beta")
    told["notifications"] = {"email": ["oncall@acme.io"], "events": ["failure"]}
    result = compile_tree(write_tree(tmp_path, teams={"alpha": quiet, "beta": told}), "staging",
                          Linter(cache_dir=tmp_path / "lint"))
    assert result.ok and [d for d in result.diagnostics if d.code in ("E302", "W302")] == []
    alpha = resources(result)
    assert not any(r["Type"].startswith("AWS::SNS") for r in alpha.values())
    assert "PublishRunFailures" not in _statements(alpha, "WorkflowRole")
    definition = json.loads(alpha["StateMachineNightly"]["Properties"]["DefinitionString"])
    assert "NotifyFailure" not in definition["States"]
    assert "TopicArn" not in alpha["StateMachineNightly"]["Properties"]["DefinitionSubstitutions"]
    beta = resources(result, "dmsctl-team-beta")
    assert not {"WorkflowRole", "WorkflowScheduleRole"} & set(beta)
    assert beta["EventSubscription"]["Properties"]["EventCategories"] == ["failure"]
    assert beta["EventSubscription"]["Properties"]["SourceIds"] == ["dmsctl-beta-cdc"]
