"""What the scheduled workflows deploy (docs/WORKFLOWS.md): Step Functions state machines, EventBridge
schedule rules, SNS topics/subscriptions/policies, IAM roles and DMS event subscriptions in one stack;
and a state machine driving DMS and DynamoDB through AWS SDK integrations on the sandbox.

Sources: Step Functions API CreateStateMachine (InvalidDefinition), AWS::StepFunctions::StateMachine
(Ref = ARN; GetAtt Arn/Name; Definition, DefinitionString, DefinitionSubstitutions; StateMachineName is
create-only), AWS::SNS::Subscription (Ref = subscription ARN; TopicArn/Protocol/Endpoint create-only),
AWS::SNS::TopicPolicy, AWS::Events::Rule, Step Functions "AWS SDK integrations" (databasemigration).
Assumptions: A12, A29, A30 in docs/ASSUMPTIONS.md.
"""

from __future__ import annotations

import copy
import json
import time

import botocore.exceptions
import pytest

from . import helpers as h
from . import templates as t

ROLE_ARN = "arn:aws:iam::123456789012:role/dmsctl-run"
PASS = {"StartAt": "Go", "States": {"Go": {"Type": "Pass", "End": True}}}
INVALID = {"StartAt": "Missing", "States": {"Go": {"Type": "Pass", "End": True}}}


def _code(err) -> str:
    return err.value.response["Error"]["Code"]


def workflow_template(definition: dict | None = None) -> dict:
    """One team's scheduled task: role, state machine, schedule rule, events topic with email and https
    subscriptions, its policy, and the DMS event subscription publishing to it."""
    definition = definition or {"StartAt": "Go", "States": {"Go": {"Type": "Pass", "Result": "${TaskId}",
                                                                      "End": True}}}
    assume = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": ["states.amazonaws.com", "events.amazonaws.com"]},
         "Action": "sts:AssumeRole"}]}
    return {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {
        "RunRole": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "dmsctl-food-run",
                                                            "AssumeRolePolicyDocument": assume}},
        "Machine": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
            "StateMachineName": "dmsctl-food-orders-export", "RoleArn": {"Fn::GetAtt": ["RunRole", "Arn"]},
            "Definition": definition, "DefinitionSubstitutions": {"TaskId": "dmsctl-food-orders-export"}}},
        "Schedule": {"Type": "AWS::Events::Rule", "Properties": {
            "Name": "dmsctl-food-orders-export-schedule", "ScheduleExpression": "cron(0 2 * * ? *)",
            "State": "ENABLED", "Targets": [{"Id": "run", "Arn": {"Ref": "Machine"},
                                             "RoleArn": {"Fn::GetAtt": ["RunRole", "Arn"]}}]}},
        "Events": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "dmsctl-food-events"}},
        "Mail": {"Type": "AWS::SNS::Subscription", "Properties": {
            "TopicArn": {"Ref": "Events"}, "Protocol": "email", "Endpoint": "data-food@example.com"}},
        "Hook": {"Type": "AWS::SNS::Subscription", "Properties": {
            "TopicArn": {"Ref": "Events"}, "Protocol": "https", "Endpoint": "https://hooks.example.com/dms",
            "FilterPolicy": {"category": ["failure"]}}},
        "EventsPolicy": {"Type": "AWS::SNS::TopicPolicy", "Properties": {
            "Topics": [{"Ref": "Events"}], "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "dms.amazonaws.com"}, "Action": "sns:Publish",
                 "Resource": {"Ref": "Events"}}]}}},
        "DmsEvents": {"Type": "AWS::DMS::EventSubscription", "Properties": {
            "SubscriptionName": "dmsctl-food-events", "SnsTopicArn": {"Ref": "Events"},
            "SourceType": "replication-task", "EventCategories": ["failure", "state change"], "Enabled": True}},
    }, "Outputs": {
        "MachineArn": {"Value": {"Ref": "Machine"}},
        "MachineName": {"Value": {"Fn::GetAtt": ["Machine", "Name"]}},
        "MachineArnAttr": {"Value": {"Fn::GetAtt": ["Machine", "Arn"]}},
        "MailArn": {"Value": {"Ref": "Mail"}},
        "HookArn": {"Value": {"Fn::GetAtt": ["Hook", "Arn"]}},
        "PolicyId": {"Value": {"Ref": "EventsPolicy"}},
    }}


def test_create_state_machine_validates_the_definition(sandbox):
    sfn = sandbox.client("stepfunctions")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        sfn.create_state_machine(name="bad", definition=json.dumps(INVALID), roleArn=ROLE_ARN)
    assert _code(err) == "InvalidDefinition"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        sfn.create_state_machine(name="bad", definition="{not json", roleArn=ROLE_ARN)
    assert _code(err) == "InvalidDefinition"
    arn = sfn.create_state_machine(name="good", definition=json.dumps(PASS), roleArn=ROLE_ARN)["stateMachineArn"]
    assert sfn.describe_state_machine(stateMachineArn=arn)["name"] == "good"


def test_workflow_resources_deploy_update_and_delete(sandbox):
    assert h.create_stack(sandbox, "dmsctl-food-tasks", t.body(workflow_template())) == "CREATE_COMPLETE"
    out = h.outputs(sandbox, "dmsctl-food-tasks")
    sfn, events, sns = sandbox.client("stepfunctions"), sandbox.client("events"), sandbox.client("sns")
    machine = sfn.describe_state_machine(stateMachineArn=out["MachineArn"])
    assert out["MachineArn"] == out["MachineArnAttr"] and out["MachineName"] == "dmsctl-food-orders-export"
    assert json.loads(machine["definition"])["States"]["Go"]["Result"] == "dmsctl-food-orders-export"
    assert machine["roleArn"] == sandbox.client("iam").get_role(RoleName="dmsctl-food-run")["Role"]["Arn"]
    rule = events.describe_rule(Name="dmsctl-food-orders-export-schedule")
    assert rule["ScheduleExpression"] == "cron(0 2 * * ? *)" and rule["State"] == "ENABLED"
    [target] = events.list_targets_by_rule(Rule="dmsctl-food-orders-export-schedule")["Targets"]
    assert target["Arn"] == out["MachineArn"] and target["RoleArn"] == machine["roleArn"]
    topic = sns.create_topic(Name="dmsctl-food-events")["TopicArn"]  # idempotent: the stack's topic
    subs = {s["Protocol"]: s for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]}
    assert subs["email"]["Endpoint"] == "data-food@example.com" and subs["email"]["SubscriptionArn"] == out["MailArn"]
    assert subs["https"]["SubscriptionArn"] == out["HookArn"]
    attrs = sns.get_subscription_attributes(SubscriptionArn=out["HookArn"])["Attributes"]
    assert json.loads(attrs["FilterPolicy"]) == {"category": ["failure"]}
    policy = json.loads(sns.get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"])
    assert policy["Statement"][0]["Principal"] == {"Service": "dms.amazonaws.com"}
    assert out["PolicyId"]
    sub = sandbox.client("dms").describe_event_subscriptions(SubscriptionName="dmsctl-food-events")
    assert sub["EventSubscriptionsList"][0]["SnsTopicArn"] == topic

    update = workflow_template({"StartAt": "Go", "States": {"Go": {"Type": "Succeed"}}})
    del update["Resources"]["Hook"], update["Outputs"]["HookArn"]
    update["Resources"]["Mail"]["Properties"]["Endpoint"] = "data-food-oncall@example.com"  # create-only
    assert h.update_stack(sandbox, "dmsctl-food-tasks", t.body(update)) == "UPDATE_COMPLETE"
    new_out = h.outputs(sandbox, "dmsctl-food-tasks")
    assert new_out["MachineArn"] == out["MachineArn"]  # updated in place
    assert "Succeed" in sfn.describe_state_machine(stateMachineArn=out["MachineArn"])["definition"]
    subs = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subs] == [("email", "data-food-oncall@example.com")]
    assert new_out["MailArn"] != out["MailArn"]  # replaced

    sandbox.client("cloudformation").delete_stack(StackName="dmsctl-food-tasks")
    assert sfn.list_state_machines()["stateMachines"] == []
    assert events.list_rules()["Rules"] == []
    assert sandbox.client("dms").describe_event_subscriptions()["EventSubscriptionsList"] == []


def test_topic_policy_removal_restores_the_default_policy(sandbox):
    template = workflow_template()
    assert h.create_stack(sandbox, "dmsctl-food-tasks", t.body(template)) == "CREATE_COMPLETE"
    sns = sandbox.client("sns")
    topic = sns.create_topic(Name="dmsctl-food-events")["TopicArn"]
    without = copy.deepcopy(template)
    del without["Resources"]["EventsPolicy"], without["Outputs"]["PolicyId"]
    assert h.update_stack(sandbox, "dmsctl-food-tasks", t.body(without)) == "UPDATE_COMPLETE"
    policy = json.loads(sns.get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"])
    assert policy["Id"] == "__default_policy_ID"


def test_invalid_state_machine_fails_the_stack_with_a_readable_reason(sandbox):
    assert h.create_stack(sandbox, "bad", t.body(workflow_template(INVALID))) == "ROLLBACK_COMPLETE"
    reasons = [e["ResourceStatusReason"] for e in h.events(sandbox, "bad")
               if e["LogicalResourceId"] == "Machine" and e.get("ResourceStatusReason")]
    assert reasons and "InvalidDefinition: Invalid State Machine Definition" in reasons[0]
    assert "(Service: Sfn, Status Code: 400)" in reasons[0]
    assert sandbox.client("stepfunctions").list_state_machines()["stateMachines"] == []

    assert h.create_stack(sandbox, "good", t.body(workflow_template(PASS))) == "CREATE_COMPLETE"
    assert h.update_stack(sandbox, "good", t.body(workflow_template(INVALID))) == "UPDATE_ROLLBACK_COMPLETE"
    arn = h.outputs(sandbox, "good")["MachineArn"]
    assert json.loads(sandbox.client("stepfunctions").describe_state_machine(stateMachineArn=arn)["definition"]) == PASS


def test_subscription_endpoint_must_match_its_protocol(sandbox):
    template = workflow_template()
    template["Resources"]["Hook"]["Properties"]["Endpoint"] = "http://hooks.example.com/dms"
    assert h.create_stack(sandbox, "bad", t.body(template)) == "ROLLBACK_COMPLETE"
    reasons = [e.get("ResourceStatusReason", "") for e in h.events(sandbox, "bad") if e["LogicalResourceId"] == "Hook"]
    assert any("Endpoint must match the specified protocol" in r for r in reasons)


# --- executing a state machine against the sandbox ----------------------------------------------------------
def run_definition(task_arn: str) -> dict:
    """Start a task, poll it every 30 s (a Wait state), record its status in DynamoDB."""
    sdk = "arn:aws:states:::aws-sdk:databasemigration:"
    return {"StartAt": "Start", "States": {
        "Start": {"Type": "Task", "Resource": f"{sdk}startReplicationTask", "ResultPath": None, "Next": "Wait",
                  "Parameters": {"ReplicationTaskArn": task_arn, "StartReplicationTaskType": "start-replication"}},
        "Wait": {"Type": "Wait", "Seconds": 30, "Next": "Describe"},
        "Describe": {"Type": "Task", "Resource": f"{sdk}describeReplicationTasks", "ResultPath": "$.task",
                     "Parameters": {"Filters": [{"Name": "replication-task-arn", "Values": [task_arn]}],
                                    "WithoutSettings": True},
                     "ResultSelector": {"Status.$": "$.ReplicationTasks[0].Status",
                                        "StopReason.$": "$.ReplicationTasks[0].StopReason"},
                     "Next": "Stopped?"},
        "Stopped?": {"Type": "Choice", "Default": "Wait",
                     "Choices": [{"Variable": "$.task.Status", "StringEquals": "stopped", "Next": "Record"}]},
        "Record": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem", "End": True,
                   "Parameters": {"TableName": "dmsctl-state", "Item": {
                       "pk": {"S": "run#orders-export"}, "stop_reason": {"S.$": "$.task.StopReason"}}}},
    }}


@pytest.fixture(params=["in_process", "server"])
def any_sandbox(request):
    return request.getfixturevalue("sandbox" if request.param == "in_process" else "sandbox_server")


def test_state_machine_drives_dms_and_dynamodb_on_sim_time(any_sandbox):
    """A30: Wait states wait on the sim clock; aws-sdk:databasemigration calls reach the sandbox's DMS."""
    sb = any_sandbox
    h.create_stack(sb, "dmsctl-base", t.body(t.base_template()))
    team = t.team_template({"orders-export": t.mappings("app.users")}, migration_type="full-load")
    h.create_stack(sb, "dmsctl-team-a", t.body(team))
    h.connect_all(sb)  # as apply does for a task it deploys but does not start
    task_arn = h.task(sb, "orders-export")["ReplicationTaskArn"]
    sfn = sb.client("stepfunctions")
    machine = sfn.create_state_machine(name="run", definition=json.dumps(run_definition(task_arn)),
                                       roleArn=ROLE_ARN)["stateMachineArn"]
    started = sb.clock.now()
    execution = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    deadline = time.monotonic() + 60
    while (status := sfn.describe_execution(executionArn=execution)["status"]) == "RUNNING":
        assert time.monotonic() < deadline, "the execution did not finish"
        time.sleep(0.05)
    assert status == "SUCCEEDED"
    assert (sb.clock.now() - started).total_seconds() == 30  # starting 10 s + full load 20 s: one Wait
    assert h.task(sb, "orders-export")["StopReason"] == "Stop Reason FULL_LOAD_ONLY_FINISHED"
    item = sb.client("dynamodb").get_item(TableName="dmsctl-state", Key={"pk": {"S": "run#orders-export"}})
    assert item["Item"]["stop_reason"] == {"S": "Stop Reason FULL_LOAD_ONLY_FINISHED"}
    assert [c.operation for c in sb.calls.find("dms", "StartReplicationTask")] == ["StartReplicationTask"]


def test_sns_deliveries_to_https_subscribers_are_recorded_not_sent(any_sandbox):
    """A31: the sandbox is offline; the filter policy still applies."""
    sb = any_sandbox
    assert h.create_stack(sb, "dmsctl-food-tasks", t.body(workflow_template())) == "CREATE_COMPLETE"
    sns = sb.client("sns")
    topic = sns.create_topic(Name="dmsctl-food-events")["TopicArn"]
    sns.publish(TopicArn=topic, Subject="DMS", Message="task failed",
                MessageAttributes={"category": {"DataType": "String", "StringValue": "failure"}})
    sns.publish(TopicArn=topic, Message="task started",
                MessageAttributes={"category": {"DataType": "String", "StringValue": "state change"}})
    assert [(d.protocol, d.endpoint, d.subject, d.message) for d in sb.sns_deliveries] == [
        ("https", "https://hooks.example.com/dms", "DMS", "task failed")]


def test_an_execution_outliving_its_sandbox_never_moves_a_later_clock(sandbox):
    from dmsctl.sandbox import world as world_mod
    from dmsctl.sandbox.sandbox import new_world

    forever = {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 30, "Next": "Again"},
                                            "Again": {"Type": "Pass", "Next": "Wait"}}}
    sfn = sandbox.client("stepfunctions")
    machine = sfn.create_state_machine(name="forever", definition=json.dumps(forever), roleArn=ROLE_ARN)
    execution = sfn.start_execution(stateMachineArn=machine["stateMachineArn"])["executionArn"]
    started = sandbox.clock.now()
    deadline = time.monotonic() + 10
    while sandbox.clock.now() == started:  # it runs on sim time
        assert time.monotonic() < deadline
        time.sleep(0.01)
    later = new_world()  # what the next test's sandbox does
    try:
        before = later.clock.now()
        time.sleep(0.3)
        assert later.clock.now() == before
    finally:
        world_mod.reset(sandbox.world)
        sfn.stop_execution(executionArn=execution)
