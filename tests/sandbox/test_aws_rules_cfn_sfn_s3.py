"""AWS rules the sandbox keeps as strictly as AWS (issue "Truth to AWS"), plain boto3 against the sandbox:
enriched task settings (A9, A40), ... Sources: docs/ASSUMPTIONS.md."""

from __future__ import annotations

import json

import botocore.exceptions
import pytest

from dmsctl.sandbox.dms.settings import LOG_COMPONENTS

from . import helpers as h
from . import templates as t


def _create(sandbox, ident: str, settings: dict | None = None) -> dict:
    base = h.task(sandbox, "team-a-app")
    extra = {"ReplicationTaskSettings": json.dumps(settings)} if settings is not None else {}
    return sandbox.client("dms").create_replication_task(
        ReplicationTaskIdentifier=ident, SourceEndpointArn=base["SourceEndpointArn"],
        TargetEndpointArn=base["TargetEndpointArn"], ReplicationInstanceArn=base["ReplicationInstanceArn"],
        MigrationType="cdc", TableMappings=t.mappings("app.users"), **extra)["ReplicationTask"]


def _settings(sandbox, ident: str) -> dict:
    return json.loads(h.task(sandbox, ident)["ReplicationTaskSettings"])


def test_stored_settings_are_enriched_with_every_log_component_in_dms_order(sandbox, deployed):
    _create(sandbox, "enriched", {"Logging": {"EnableLogging": True, "LogComponents": [
        {"Id": "TASK_MANAGER", "Severity": "LOGGER_SEVERITY_DEBUG"},
        {"Id": "SOURCE_UNLOAD", "Severity": "LOGGER_SEVERITY_DEFAULT"}]},
        "ControlTablesSettings": {"HistoryTimeslotInMinutes": 7}})
    stored = _settings(sandbox, "enriched")
    components = stored["Logging"]["LogComponents"]
    assert [c["Id"] for c in components] == list(LOG_COMPONENTS)  # DMS's list and order, not the one sent
    assert LOG_COMPONENTS[:3] == ("TRANSFORMATION", "SOURCE_UNLOAD", "IO") and len(LOG_COMPONENTS) == 19
    severities = {c["Id"]: c["Severity"] for c in components}
    assert severities.pop("TASK_MANAGER") == "LOGGER_SEVERITY_DEBUG"
    assert set(severities.values()) == {"LOGGER_SEVERITY_DEFAULT"}
    # server-side keys nobody sent, and the duplicated control-table key
    assert stored["ChangeProcessingTuning"]["RecoveryTimeout"] == -1
    assert stored["ErrorBehavior"]["FailOnNoTablesCaptured"] is True
    assert stored["ControlTablesSettings"]["historyTimeslotInMinutes"] == 7
    # a task created without settings gets the whole default list too
    _create(sandbox, "bare")
    assert len(_settings(sandbox, "bare")["Logging"]["LogComponents"]) == len(LOG_COMPONENTS)


def test_a_modify_merges_log_components_by_id(sandbox, deployed):
    arn = _create(sandbox, "merged", {"Logging": {"LogComponents": [
        {"Id": "TASK_MANAGER", "Severity": "LOGGER_SEVERITY_DEBUG"}]}})["ReplicationTaskArn"]
    sandbox.advance(30)
    sandbox.client("dms").modify_replication_task(ReplicationTaskArn=arn, ReplicationTaskSettings=json.dumps(
        {"Logging": {"LogComponents": [{"Id": "SORTER", "Severity": "LOGGER_SEVERITY_ERROR"}]}}))
    sandbox.advance(30)
    severities = {c["Id"]: c["Severity"] for c in _settings(sandbox, "merged")["Logging"]["LogComponents"]}
    assert severities["TASK_MANAGER"] == "LOGGER_SEVERITY_DEBUG"  # kept from the create
    assert severities["SORTER"] == "LOGGER_SEVERITY_ERROR"
    assert list(severities) == list(LOG_COMPONENTS)


# --- CloudFormation: DescribeStackEvents pages (A41) ------------------------------------------------------------
def _topic_template(n: int) -> str:
    return json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic",
                                               "Properties": {"Tags": [{"Key": "n", "Value": str(n)}]}}}})


def test_stack_events_come_newest_first_in_pages_of_100(sandbox):
    cfn = sandbox.client("cloudformation")
    h.create_stack(sandbox, "events", _topic_template(0))
    for n in range(1, 40):
        assert h.update_stack(sandbox, "events", _topic_template(n)) == "UPDATE_COMPLETE"
    first = cfn.describe_stack_events(StackName="events")
    assert len(first["StackEvents"]) == 100 and first["NextToken"]
    every = [e for page in cfn.get_paginator("describe_stack_events").paginate(StackName="events")
             for e in page["StackEvents"]]
    assert len(every) == 2 + 39 * 3 and len({e["EventId"] for e in every}) == len(every)
    assert every[:100] == first["StackEvents"]
    stamps = [e["Timestamp"] for e in every]
    assert stamps == sorted(stamps, reverse=True)  # newest first across pages
    assert every[-1]["ResourceStatus"] == "CREATE_IN_PROGRESS" and every[0]["ResourceStatus"] == "UPDATE_COMPLETE"
    with pytest.raises(botocore.exceptions.ClientError, match="ValidationError"):
        cfn.describe_stack_events(StackName="events", NextToken="not-a-token")


# --- CloudFormation: a rollback that cannot restore a resource ends UPDATE_ROLLBACK_FAILED ----------------------
def _update_that_fails_after_creating_a_task(deployed) -> dict:
    h_run = t.with_task_prop(deployed, "Task0", TableMappings=t.mappings("app.users"))  # fails: Task0 runs
    h_run["Resources"]["NewTask"] = {
        "Type": "AWS::DMS::ReplicationTask",
        "Properties": dict(deployed["Resources"]["Task0"]["Properties"], ReplicationTaskIdentifier="team-a-new"),
        "DependsOn": "Events",
    }
    h_run["Resources"]["Task0"]["DependsOn"] = "NewTask"  # NewTask is created before Task0 fails
    return h_run


def test_a_rollback_that_cannot_restore_a_resource_ends_update_rollback_failed(sandbox, deployed):
    h.start(sandbox, "team-a-app")
    h.wait_status(sandbox, "team-a-app", "running")
    sandbox.faults.fail_next_rollback("dmsctl-team-a", "NewTask could not be deleted (injected)")
    new = _update_that_fails_after_creating_a_task(deployed)
    assert h.update_stack(sandbox, "dmsctl-team-a", t.body(new)) == "UPDATE_ROLLBACK_FAILED"
    events = h.events(sandbox, "dmsctl-team-a")  # newest first
    assert events[0]["ResourceStatus"] == "UPDATE_ROLLBACK_FAILED"
    assert "[NewTask]" in events[0]["ResourceStatusReason"]
    failed = [e for e in events if e["ResourceStatus"] == "UPDATE_FAILED"]
    assert [e["LogicalResourceId"] for e in failed] == ["NewTask", "Task0"]  # the restore, then the update
    assert failed[0]["ResourceStatusReason"] == "NewTask could not be deleted (injected)"
    assert not any(e["ResourceStatus"] == "UPDATE_ROLLBACK_COMPLETE" for e in events)
    assert "team-a-new" in h.tasks(sandbox)  # left behind: the rollback could not delete it
    # only ContinueUpdateRollback or a delete from here: an update is refused
    with pytest.raises(botocore.exceptions.ClientError, match="UPDATE_ROLLBACK_FAILED state and can not be updated"):
        h.update_stack(sandbox, "dmsctl-team-a", t.body(deployed))
    cfn = sandbox.client("cloudformation")
    other = dict(deployed, Outputs=dict(deployed["Outputs"], Extra={"Value": "x"}))
    cfn.create_change_set(StackName="dmsctl-team-a", ChangeSetName="retry", TemplateBody=t.body(other),
                          ChangeSetType="UPDATE", Capabilities=["CAPABILITY_NAMED_IAM"])
    with pytest.raises(botocore.exceptions.ClientError, match="UPDATE_ROLLBACK_FAILED state"):
        cfn.execute_change_set(StackName="dmsctl-team-a", ChangeSetName="retry")


def test_a_rollback_fault_with_nothing_to_restore_stays_armed(sandbox, deployed):
    sandbox.faults.fail_next_rollback("dmsctl-team-a")
    sandbox.faults.fail_next_stack_update("dmsctl-team-a", "fails before any change")
    new = t.with_task_prop(deployed, "Task0", TableMappings=t.mappings("app.users"))
    assert h.update_stack(sandbox, "dmsctl-team-a", t.body(new)) == "UPDATE_ROLLBACK_COMPLETE"
    assert sandbox.faults.snapshot()["rollback_failures"] == {"dmsctl-team-a": "Injected rollback failure"}
