"""Rule 1: AWS::DMS::* resource types in CloudFormation stacks.

Sources: CloudFormation user guide, AWS::DMS::ReplicationTask / Endpoint / ReplicationInstance /
ReplicationSubnetGroup / EventSubscription "Return values" (Ref of task/endpoint/instance = ARN,
subnet group and subscription Ref = name); registry schemas (createOnlyProperties) as bundled with
cfn-lint; "Update behaviors of stack resources" (Replacement); "Name type" (custom-named resources
cannot be replaced).
"""

from __future__ import annotations

from . import helpers as h
from . import templates as t


def test_stacks_create_dms_objects_and_outputs_reference_them(sandbox, deployed):
    dms = sandbox.client("dms")
    base_out = h.outputs(sandbox, "dmsctl-base")
    endpoints = {e["EndpointIdentifier"]: e for e in dms.describe_endpoints()["Endpoints"]}
    assert base_out["LakeEndpointArn"] == endpoints["datalake-10min"]["EndpointArn"]
    assert endpoints["datalake-10min"]["S3Settings"]["BucketName"] == t.BUCKET
    assert endpoints["team-a-source"]["MySQLSettings"]["SecretsManagerSecretId"].endswith(":secret:team-a-db")
    assert base_out["SubnetGroupName"] == "dms-subnets"
    task = h.task(sandbox, "team-a-app")
    assert h.outputs(sandbox, "dmsctl-team-a")["Task0Arn"] == task["ReplicationTaskArn"]
    assert task["Status"] == "ready"
    assert task["TargetEndpointArn"] == base_out["LakeEndpointArn"]
    instance = dms.describe_replication_instances()["ReplicationInstances"][0]
    assert instance["ReplicationInstanceArn"] == task["ReplicationInstanceArn"]
    assert instance["ReplicationSubnetGroup"]["ReplicationSubnetGroupIdentifier"] == "dms-subnets"
    subs = dms.describe_event_subscriptions()["EventSubscriptionsList"]
    assert [s["CustSubscriptionId"] for s in subs] == ["team-a-events"]


def test_resources_of_other_types_work_inside_the_stacks(sandbox, deployed):
    assert t.BUCKET in [b["Name"] for b in sandbox.client("s3").list_buckets()["Buckets"]]
    assert sandbox.client("iam").get_role(RoleName="dms-datalake-access")["Role"]["Arn"]
    assert sandbox.client("dynamodb").describe_table(TableName="dmsctl-state")["Table"]["TableName"]
    topics = [x["TopicArn"] for x in sandbox.client("sns").list_topics()["Topics"]]
    assert h.outputs(sandbox, "dmsctl-base")["AlertsTopic"] in topics
    groups = sandbox.client("ec2").describe_security_groups(GroupNames=["dms-sg"])["SecurityGroups"]
    assert h.outputs(sandbox, "dmsctl-base")["SecurityGroupId"] == groups[0]["GroupId"]


def test_getatt_returns_documented_attributes(sandbox, deployed):
    template = t.base_template()
    template["Outputs"]["EndpointId"] = {"Value": {"Fn::GetAtt": ["LakeEndpoint", "Id"]}}
    template["Outputs"]["EndpointExternalId"] = {"Value": {"Fn::GetAtt": ["LakeEndpoint", "ExternalId"]}}
    assert h.update_stack(sandbox, "dmsctl-base", t.body(template)) == "UPDATE_COMPLETE"
    out = h.outputs(sandbox, "dmsctl-base")
    assert out["EndpointId"] == out["LakeEndpointArn"]
    assert out["EndpointExternalId"]


def test_update_in_place_keeps_the_task(sandbox, deployed):
    before = h.task(sandbox, "team-a-app")
    new = t.with_task_prop(deployed, "Task0", TableMappings=t.mappings("app.users"))
    assert h.update_stack(sandbox, "dmsctl-team-a", t.body(new)) == "UPDATE_COMPLETE"
    after = h.task(sandbox, "team-a-app")
    assert after["ReplicationTaskArn"] == before["ReplicationTaskArn"]
    assert '"table-name":"orders"' not in after["TableMappings"]


def test_create_only_change_replaces_the_task(sandbox, deployed):
    """createOnlyProperties of AWS::DMS::ReplicationTask include ReplicationInstanceArn."""
    old = h.task(sandbox, "team-a-app")
    h.start(sandbox, "team-a-app")
    h.wait_status(sandbox, "team-a-app", "running")
    h.stop(sandbox, "team-a-app")
    h.wait_status(sandbox, "team-a-app", "stopped")
    new = t.team_template({"team-a-app-v2": t.mappings(*("app.users", "app.orders"))})
    new["Resources"]["Instance2"] = {
        "Type": "AWS::DMS::ReplicationInstance",
        "Properties": {"ReplicationInstanceIdentifier": "team-a-instance-2",
                       "ReplicationInstanceClass": "dms.t3.large"},
    }
    new["Resources"]["Task0"]["Properties"]["ReplicationInstanceArn"] = {"Ref": "Instance2"}
    assert h.update_stack(sandbox, "dmsctl-team-a", t.body(new)) == "UPDATE_COMPLETE"
    current = h.tasks(sandbox)
    assert "team-a-app" not in current  # old task deleted in cleanup
    replacement = current["team-a-app-v2"]
    assert replacement["ReplicationTaskArn"] != old["ReplicationTaskArn"]
    assert replacement["Status"] == "ready"
    assert "ReplicationTaskStartDate" not in replacement
    stats = h.table_stats(sandbox, "team-a-app-v2")
    assert {s["TableState"] for s in stats.values()} == {"Before load"}


def test_custom_named_task_cannot_be_replaced(sandbox, deployed):
    """Name type: if you specify a name, you cannot perform updates that require replacement."""
    new = t.with_task_prop(deployed, "Task0", SourceEndpointArn="arn:aws:dms:eu-west-1:123456789012:endpoint:OTHER")
    assert h.update_stack(sandbox, "dmsctl-team-a", t.body(new)) == "UPDATE_ROLLBACK_COMPLETE"
    failed = [e for e in h.events(sandbox, "dmsctl-team-a") if e["ResourceStatus"] == "UPDATE_FAILED"]
    assert "custom-named resource requires replacing" in failed[0]["ResourceStatusReason"]


def test_delete_stack_deletes_dms_objects(sandbox, deployed):
    sandbox.client("cloudformation").delete_stack(StackName="dmsctl-team-a")
    assert h.tasks(sandbox) == {}
    assert [e["EndpointIdentifier"] for e in sandbox.client("dms").describe_endpoints()["Endpoints"]] == [
        "datalake-10min"
    ]
    summaries = sandbox.client("cloudformation").list_stacks(StackStatusFilter=["DELETE_COMPLETE"])
    assert [s["StackName"] for s in summaries["StackSummaries"]] == ["dmsctl-team-a"]
