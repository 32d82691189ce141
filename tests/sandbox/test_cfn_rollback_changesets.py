"""Rule 2: failed updates roll back, outputs/exports follow the template, change sets, TemplateURL.

Sources: CloudFormation user guide "Stack status codes" (UPDATE_ROLLBACK_COMPLETE, ROLLBACK_COMPLETE),
"Monitor stack progress" (DescribeStackEvents ResourceStatusReason), "Update stacks using change sets"
(Replacement True/False/Conditional), CloudFormation quotas (TemplateBody 51,200 bytes, TemplateURL),
"Fn::ImportValue" (an export in use cannot be modified or removed), DMS API ModifyReplicationTask
(task must be stopped: InvalidResourceStateFault). Latency: ASSUMPTIONS A13.
"""

from __future__ import annotations

import json

import botocore.exceptions
import pytest

from . import helpers as h
from . import templates as t


def _run(sandbox, task_id="team-a-app"):
    h.start(sandbox, task_id)
    return h.wait_status(sandbox, task_id, "running")


def test_updating_a_running_task_rolls_back_with_reason(sandbox, deployed):
    _run(sandbox)
    before = h.task(sandbox, "team-a-app")
    new = t.with_task_prop(deployed, "Task0", TableMappings=t.mappings("app.users"))
    new["Outputs"]["Extra"] = {"Value": "new-output"}
    assert h.update_stack(sandbox, "dmsctl-team-a", t.body(new)) == "UPDATE_ROLLBACK_COMPLETE"
    failed = [e for e in h.events(sandbox, "dmsctl-team-a") if e["ResourceStatus"] == "UPDATE_FAILED"]
    assert failed[0]["LogicalResourceId"] == "Task0"
    assert "InvalidResourceStateFault" in failed[0]["ResourceStatusReason"]
    after = h.task(sandbox, "team-a-app")
    assert after["TableMappings"] == before["TableMappings"]
    assert after["Status"] == "running"
    assert "Extra" not in h.outputs(sandbox, "dmsctl-team-a")
    body = sandbox.client("cloudformation").get_template(StackName="dmsctl-team-a")["TemplateBody"]
    assert "Extra" not in json.dumps(body)


def test_rollback_undoes_changes_already_made(sandbox, deployed):
    _run(sandbox)
    new = t.with_task_prop(deployed, "Task0", TableMappings=t.mappings("app.users"))
    new["Resources"]["NewTask"] = {
        "Type": "AWS::DMS::ReplicationTask",
        "Properties": dict(deployed["Resources"]["Task0"]["Properties"], ReplicationTaskIdentifier="team-a-new"),
        "DependsOn": "Events",
    }
    new["Resources"]["Task0"]["DependsOn"] = "NewTask"  # NewTask is created before Task0 fails
    assert h.update_stack(sandbox, "dmsctl-team-a", t.body(new)) == "UPDATE_ROLLBACK_COMPLETE"
    assert set(h.tasks(sandbox)) == {"team-a-app"}


def test_injected_update_failure_and_stack_event_reason(sandbox, deployed):
    sandbox.faults.fail_next_stack_update("dmsctl-team-a", "Rate exceeded for DMS (injected)")
    new = t.with_task_prop(deployed, "Task0", TableMappings=t.mappings("app.users"))
    assert h.update_stack(sandbox, "dmsctl-team-a", t.body(new)) == "UPDATE_ROLLBACK_COMPLETE"
    reasons = [e.get("ResourceStatusReason") for e in h.events(sandbox, "dmsctl-team-a")]
    assert "Rate exceeded for DMS (injected)" in reasons
    assert "orders" in h.task(sandbox, "team-a-app")["TableMappings"]


def test_failed_create_ends_rollback_complete(sandbox, deployed):
    bad = t.team_template({"team-a-app": t.mappings("app.users")})  # identifiers already taken
    assert h.create_stack(sandbox, "dmsctl-team-dup", t.body(bad)) == "ROLLBACK_COMPLETE"
    failed = [e for e in h.events(sandbox, "dmsctl-team-dup") if e["ResourceStatus"] == "CREATE_FAILED"]
    assert "ResourceAlreadyExistsFault" in failed[0]["ResourceStatusReason"]
    assert len(h.tasks(sandbox)) == 1


def test_outputs_and_exports_follow_each_update(sandbox, deployed):
    template = t.base_template()
    template["Outputs"]["Version"] = {"Value": "2", "Export": {"Name": "dmsctl-Version"}}
    assert h.update_stack(sandbox, "dmsctl-base", t.body(template)) == "UPDATE_COMPLETE"
    assert h.outputs(sandbox, "dmsctl-base")["Version"] == "2"
    exports = {e["Name"]: e["Value"] for e in sandbox.client("cloudformation").list_exports()["Exports"]}
    assert exports["dmsctl-Version"] == "2"
    del template["Outputs"]["Version"]
    assert h.update_stack(sandbox, "dmsctl-base", t.body(template)) == "UPDATE_COMPLETE"
    exports = {e["Name"] for e in sandbox.client("cloudformation").list_exports()["Exports"]}
    assert "dmsctl-Version" not in exports


def test_export_in_use_cannot_be_removed(sandbox, deployed):
    template = t.base_template()
    del template["Outputs"]["SubnetGroupName"]
    assert h.update_stack(sandbox, "dmsctl-base", t.body(template)) == "UPDATE_ROLLBACK_COMPLETE"
    reasons = " ".join(e.get("ResourceStatusReason") or "" for e in h.events(sandbox, "dmsctl-base"))
    assert "dmsctl-SubnetGroup" in reasons and "in use by dmsctl-team-a" in reasons


def test_no_op_update_is_refused(sandbox, deployed):
    with pytest.raises(botocore.exceptions.ClientError, match="No updates are to be performed"):
        h.update_stack(sandbox, "dmsctl-team-a", t.body(deployed))


def test_change_set_reports_replacement_and_executes(sandbox, deployed):
    cfn = sandbox.client("cloudformation")
    new = t.with_task_prop(deployed, "Task0", TableMappings=t.mappings("app.users"),
                           ResourceIdentifier="team-a-app-res")
    cfn.create_change_set(StackName="dmsctl-team-a", ChangeSetName="cs1", TemplateBody=t.body(new),
                          ChangeSetType="UPDATE")
    cs = cfn.describe_change_set(StackName="dmsctl-team-a", ChangeSetName="cs1")
    assert cs["Status"] == "CREATE_COMPLETE"
    change = {c["ResourceChange"]["LogicalResourceId"]: c["ResourceChange"] for c in cs["Changes"]}
    assert change["Task0"]["Action"] == "Modify"
    assert change["Task0"]["Replacement"] == "True"
    in_place = t.with_task_prop(deployed, "Task0", TableMappings=t.mappings("app.users"))
    cfn.create_change_set(StackName="dmsctl-team-a", ChangeSetName="cs2", TemplateBody=t.body(in_place),
                          ChangeSetType="UPDATE")
    cs2 = cfn.describe_change_set(StackName="dmsctl-team-a", ChangeSetName="cs2")
    assert cs2["Changes"][0]["ResourceChange"]["Replacement"] == "False"
    cfn.execute_change_set(StackName="dmsctl-team-a", ChangeSetName="cs2")
    assert h.stack_status(sandbox, "dmsctl-team-a") == "UPDATE_COMPLETE"
    assert "orders" not in h.task(sandbox, "team-a-app")["TableMappings"]


def test_change_set_without_changes_fails_like_aws(sandbox, deployed):
    cfn = sandbox.client("cloudformation")
    cfn.create_change_set(StackName="dmsctl-team-a", ChangeSetName="same", TemplateBody=t.body(deployed),
                          ChangeSetType="UPDATE")
    cs = cfn.describe_change_set(StackName="dmsctl-team-a", ChangeSetName="same")
    assert cs["Status"] == "FAILED"
    assert cs["StatusReason"] == (
        "The submitted information didn't contain changes. Submit different information to create a change set."
    )


def test_create_type_change_set(sandbox, deployed):
    cfn = sandbox.client("cloudformation")
    team_b = t.team_template({"team-b-app": t.mappings("shop.items")})
    for res in ("SourceEndpoint", "Instance", "Events"):
        props = team_b["Resources"][res]["Properties"]
        for key in ("EndpointIdentifier", "ReplicationInstanceIdentifier", "SubscriptionName"):
            if key in props:
                props[key] = props[key].replace("team-a", "team-b")
    cfn.create_change_set(StackName="dmsctl-team-b", ChangeSetName="create", TemplateBody=t.body(team_b),
                          ChangeSetType="CREATE")
    actions = {c["ResourceChange"]["Action"] for c in
               cfn.describe_change_set(StackName="dmsctl-team-b", ChangeSetName="create")["Changes"]}
    assert actions == {"Add"}
    cfn.execute_change_set(StackName="dmsctl-team-b", ChangeSetName="create")
    assert h.stack_status(sandbox, "dmsctl-team-b") == "CREATE_COMPLETE"
    assert "team-b-app" in h.tasks(sandbox)


@pytest.mark.parametrize("url_form", ["https://{b}.s3.amazonaws.com/{k}", "https://s3.eu-west-1.amazonaws.com/{b}/{k}"])
def test_big_templates_go_through_s3(sandbox, deployed, url_form):
    big = t.with_task_prop(deployed, "Task0", TableMappings=t.mappings("app.users"))
    big["Description"] = "x" * 60_000
    body = t.body(big)
    with pytest.raises(botocore.exceptions.ClientError, match="51200"):
        h.update_stack(sandbox, "dmsctl-team-a", body)
    sandbox.put_s3_object("cfn-templates", "team-a.json", body)
    sandbox.client("cloudformation").update_stack(
        StackName="dmsctl-team-a", TemplateURL=url_form.format(b="cfn-templates", k="team-a.json"))
    assert h.stack_status(sandbox, "dmsctl-team-a") == "UPDATE_COMPLETE"


def test_simulated_latency_keeps_stack_in_progress(sandbox, deployed):
    """ASSUMPTIONS A13."""
    sandbox.configure(cfn_latency_seconds=120)
    new = t.with_task_prop(deployed, "Task0", TableMappings=t.mappings("app.users"))
    assert h.update_stack(sandbox, "dmsctl-team-a", t.body(new)) == "UPDATE_IN_PROGRESS"
    with pytest.raises(botocore.exceptions.ClientError, match="UPDATE_IN_PROGRESS"):
        h.update_stack(sandbox, "dmsctl-team-a", t.body(deployed))
    sandbox.clock.sleep(121)
    assert h.stack_status(sandbox, "dmsctl-team-a") == "UPDATE_COMPLETE"
    assert h.events(sandbox, "dmsctl-team-a")[0]["ResourceStatus"] == "UPDATE_COMPLETE"


def test_a_reference_to_a_replaced_resource_is_a_dynamic_detail_and_a_conditional_replacement(sandbox, deployed):
    """API Reference, ResourceChange.Replacement / ResourceChangeDetail: RequiresRecreation Always with a Dynamic
    evaluation (a Ref to a resource being replaced) is Replacement Conditional; the referring resource is listed
    even though its own text did not change."""
    cfn = sandbox.client("cloudformation")
    new = t.with_task_prop(deployed, "SourceEndpoint", ResourceIdentifier="team-a-source-res")
    cfn.create_change_set(StackName="dmsctl-team-a", ChangeSetName="dyn", TemplateBody=t.body(new),
                          ChangeSetType="UPDATE")
    changes = {c["ResourceChange"]["LogicalResourceId"]: c["ResourceChange"]
               for c in cfn.describe_change_set(StackName="dmsctl-team-a", ChangeSetName="dyn")["Changes"]}
    assert changes["SourceEndpoint"]["Replacement"] == "True"
    assert changes["SourceEndpoint"]["Details"] == [{
        "Target": {"Attribute": "Properties", "Name": "ResourceIdentifier", "RequiresRecreation": "Always"},
        "Evaluation": "Static", "ChangeSource": "DirectModification"}]
    task = changes["Task0"]
    assert task["Action"] == "Modify" and task["Replacement"] == "Conditional"
    assert task["Details"] == [{
        "Target": {"Attribute": "Properties", "Name": "SourceEndpointArn", "RequiresRecreation": "Always"},
        "Evaluation": "Dynamic", "ChangeSource": "ResourceReference", "CausingEntity": "SourceEndpoint"}]
    assert "Instance" not in changes and "Events" not in changes  # nothing of theirs refers to it


def test_a_change_set_is_computed_for_a_while_before_it_can_be_executed(sandbox, deployed):
    """A70: with cfn_change_set_seconds a change set reports CREATE_IN_PROGRESS (ExecutionStatus UNAVAILABLE)
    that long; executing it before is refused."""
    sandbox.configure(cfn_change_set_seconds=20)
    cfn = sandbox.client("cloudformation")
    new = t.with_task_prop(deployed, "Task0", TableMappings=t.mappings("app.users"))
    cfn.create_change_set(StackName="dmsctl-team-a", ChangeSetName="slow", TemplateBody=t.body(new),
                          ChangeSetType="UPDATE")
    cs = cfn.describe_change_set(StackName="dmsctl-team-a", ChangeSetName="slow")
    assert (cs["Status"], cs["ExecutionStatus"]) == ("CREATE_IN_PROGRESS", "UNAVAILABLE")
    with pytest.raises(botocore.exceptions.ClientError, match="cannot be executed"):
        cfn.execute_change_set(StackName="dmsctl-team-a", ChangeSetName="slow")
    sandbox.advance(20)
    cs = cfn.describe_change_set(StackName="dmsctl-team-a", ChangeSetName="slow")
    assert (cs["Status"], cs["ExecutionStatus"]) == ("CREATE_COMPLETE", "AVAILABLE")
    cfn.execute_change_set(StackName="dmsctl-team-a", ChangeSetName="slow")
    assert h.stack_status(sandbox, "dmsctl-team-a") == "UPDATE_COMPLETE"
