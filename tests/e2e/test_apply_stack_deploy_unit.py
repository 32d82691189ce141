"""stack_deploy on a scripted CloudFormation: states the sandbox never produces (UPDATE_ROLLBACK_FAILED)."""

from __future__ import annotations

import pytest

from dmsctl.deployer import stack_deploy
from dmsctl.deployer.stack_deploy import StackFailure

STACK = "dmsctl-team-food"


def _event(n: int, status: str, reason: str = "", logical_id: str = STACK,
           resource_type: str = "AWS::CloudFormation::Stack") -> dict:
    return {"EventId": f"e{n}", "LogicalResourceId": logical_id, "ResourceType": resource_type,
            "ResourceStatus": status, "ResourceStatusReason": reason}


TASK = "AWS::DMS::ReplicationTask"
HISTORY = [  # oldest first; an earlier, unrelated failure is part of it
    _event(1, "CREATE_IN_PROGRESS", "User Initiated"),
    _event(2, "CREATE_COMPLETE"),
    _event(3, "UPDATE_IN_PROGRESS", "User Initiated"),
    _event(4, "UPDATE_FAILED", "last week's failure", "OldTask", TASK),
    _event(5, "UPDATE_ROLLBACK_COMPLETE"),
]
THIS_DEPLOY = [
    _event(6, "UPDATE_IN_PROGRESS", "User Initiated"),
    _event(7, "UPDATE_FAILED", 'Resource handler returned message: "InvalidResourceStateFault: Replication '
           'task dmsctl-food-foodsearch is in running state" (HandlerErrorCode: InvalidRequest)',
           "FoodsearchTask", TASK),
    _event(8, "UPDATE_ROLLBACK_IN_PROGRESS", "The following resource(s) failed to update: [FoodsearchTask]."),
    _event(9, "UPDATE_FAILED", "Resource handler returned message: endpoint could not be restored",
           "TargetEndpoint", "AWS::DMS::Endpoint"),
    _event(10, "UPDATE_ROLLBACK_FAILED", "The following resource(s) failed to update: [TargetEndpoint]."),
]


class ScriptedCloudFormation:
    """Just enough of the Gateway for stack_deploy: the update rolls back and the rollback fails."""

    def __init__(self, final_status: str, new_events: list[dict]):
        self.final_status, self.new_events = final_status, new_events
        self.executed = False
        self.operations: list[str] = []

    def call(self, service, method, *, resource="", **params):
        assert service == "cloudformation"
        self.operations.append(method)
        if method == "describe_stacks":
            return {"Stacks": [{"StackName": STACK,
                                "StackStatus": self.final_status if self.executed else "UPDATE_COMPLETE"}]}
        if method == "describe_stack_events":
            events = HISTORY + (self.new_events if self.executed else [])
            return {"StackEvents": list(reversed(events))}  # the API answers newest first
        if method == "create_change_set":
            name = params["ChangeSetName"]
            return {"Id": f"arn:aws:cloudformation:eu-west-1:123456789012:changeSet/{name}/1"}
        if method == "describe_change_set":
            return {"Status": "CREATE_COMPLETE"}
        if method == "execute_change_set":
            self.executed = True
            return {}
        raise AssertionError(f"unexpected {method}")

    def poll(self, describe, done, *, what, timeout, first_delay=2.0, max_delay=30.0, failed=lambda _: None,
             **_pace):
        for _ in range(10):
            result = describe()
            if done(result):
                return result
        raise AssertionError(f"{what} never finished")


def _deploy(gw) -> tuple[list[str], pytest.ExceptionInfo]:
    seen: list[str] = []
    with pytest.raises(StackFailure) as err:
        stack_deploy.deploy(gw, STACK, {"TemplateBody": "{}"}, [], "run-1", 600,
                            lambda e: seen.append(f"{e.logical_id} {e.status}"))
    return seen, err


def test_update_rollback_failed_names_the_exact_next_action():
    gw = ScriptedCloudFormation("UPDATE_ROLLBACK_FAILED", THIS_DEPLOY)
    seen, err = _deploy(gw)
    failure = err.value
    assert failure.stack == STACK and failure.status == "UPDATE_ROLLBACK_FAILED"
    message = str(failure)
    assert message.startswith(f"stack {STACK} is UPDATE_ROLLBACK_FAILED (")
    # the first resource of *this* deploy that failed, with CloudFormation's reason, not older history
    assert "FoodsearchTask (AWS::DMS::ReplicationTask): Resource handler returned message" in message
    assert "InvalidResourceStateFault" in message and "last week's failure" not in message
    assert f"`aws cloudformation continue-update-rollback --stack-name {STACK}`" in message
    assert "`dmsctl apply` again" in message and "fix the resource named" in message
    # every event of this deploy reported once, in order
    assert seen == [f"{e['LogicalResourceId']} {e['ResourceStatus']}" for e in THIS_DEPLOY]
    assert gw.operations.count("execute_change_set") == 1


def test_rolled_back_update_without_a_failed_resource_reports_the_rollback_reason():
    """A stack-level failure (no resource event): the reason is the rollback's, never "User Initiated"."""
    events = [_event(6, "UPDATE_IN_PROGRESS", "User Initiated"),
              _event(7, "UPDATE_ROLLBACK_IN_PROGRESS", "Export dmsctl-base-S3Target cannot be updated as it "
                     "is in use by dmsctl-team-growth"),
              _event(8, "UPDATE_ROLLBACK_COMPLETE")]
    _, err = _deploy(ScriptedCloudFormation("UPDATE_ROLLBACK_COMPLETE", events))
    assert err.value.status == "UPDATE_ROLLBACK_COMPLETE"
    assert str(err.value) == (
        f"stack {STACK} update failed and rolled back to its previous state (UPDATE_ROLLBACK_COMPLETE): "
        "Export dmsctl-base-S3Target cannot be updated as it is in use by dmsctl-team-growth")
