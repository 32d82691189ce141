"""The sandbox refuses the values `dmsctl validate` refuses, as DMS does (A56-A58): a wrongly typed or
ranged task setting fails CreateReplicationTask / ModifyReplicationTask with
InvalidParameterValueException instead of wedging the task; an unknown instance class or storage out
of range fails CreateReplicationInstance / ModifyReplicationInstance."""

from __future__ import annotations

import json

import botocore.exceptions
import pytest

from . import helpers as h
from . import templates as t

LOTS = json.dumps({"FullLoadSettings": {"MaxFullLoadSubTasks": "lots"}})
LOTS_MESSAGE = 'Task Settings FullLoadSettings.MaxFullLoadSubTasks has an invalid value "lots": it must be an ' \
               "integer from 1 to 49"


def _refused(call, **kwargs) -> str:
    with pytest.raises(botocore.exceptions.ClientError) as err:
        call(**kwargs)
    assert err.value.response["Error"]["Code"] == "InvalidParameterValueException"
    return err.value.response["Error"]["Message"]


def _task_params(sandbox, identifier: str, settings: str) -> dict:
    base = h.task(sandbox, "team-a-app")
    return {"ReplicationTaskIdentifier": identifier, "SourceEndpointArn": base["SourceEndpointArn"],
            "TargetEndpointArn": base["TargetEndpointArn"], "ReplicationInstanceArn": base["ReplicationInstanceArn"],
            "MigrationType": "full-load", "TableMappings": t.mappings("app.users"), "ReplicationTaskSettings": settings}


@pytest.mark.parametrize("settings, message", [
    (LOTS, LOTS_MESSAGE),
    (json.dumps({"FullLoadSettings": {"CommitRate": 50001}}),
     "Task Settings FullLoadSettings.CommitRate has an invalid value 50001: it must be an integer from 1 to 50000"),
    (json.dumps({"ErrorBehavior": {"DataErrorPolicy": "LOG"}}),
     'Task Settings ErrorBehavior.DataErrorPolicy has an invalid value "LOG": it must be one of "IGNORE_RECORD"'),
], ids=["type", "range", "enum"])
def test_create_task_with_an_invalid_setting_is_refused(sandbox, deployed, settings, message):
    dms = sandbox.client("dms")
    assert message in _refused(dms.create_replication_task, **_task_params(sandbox, "bad-task", settings))
    assert "bad-task" not in h.tasks(sandbox)


def test_unknown_setting_keys_are_ignored_as_dms_ignores_them(sandbox, deployed):
    dms = sandbox.client("dms")
    settings = json.dumps({"FullLoadSettings": {"MaxFullLoadSubTask": "lots"}})
    created = dms.create_replication_task(**_task_params(sandbox, "typo-task", settings))["ReplicationTask"]
    assert created["ReplicationTaskIdentifier"] == "typo-task"


def test_modify_with_an_invalid_setting_is_refused_and_the_task_still_runs(sandbox, deployed):
    dms = sandbox.client("dms")
    before = h.task(sandbox, "team-a-app")
    message = _refused(dms.modify_replication_task, ReplicationTaskArn=before["ReplicationTaskArn"],
                       ReplicationTaskSettings=LOTS)
    assert LOTS_MESSAGE in message
    after = h.task(sandbox, "team-a-app")
    assert (after["Status"], after["ReplicationTaskSettings"]) == (before["Status"], before["ReplicationTaskSettings"])
    h.start(sandbox, "team-a-app")
    h.wait_status(sandbox, "team-a-app", "running")


def test_a_stack_with_an_invalid_setting_rolls_back_with_dms_reason(sandbox, deployed):
    new = t.with_task_prop(deployed, "Task0", ReplicationTaskSettings=LOTS)
    assert h.update_stack(sandbox, "dmsctl-team-a", t.body(new)) == "UPDATE_ROLLBACK_COMPLETE"
    failed = [e for e in h.events(sandbox, "dmsctl-team-a") if e["ResourceStatus"] == "UPDATE_FAILED"]
    assert failed[0]["LogicalResourceId"] == "Task0"
    assert f"InvalidParameterValueException: {LOTS_MESSAGE}" in failed[0]["ResourceStatusReason"]


@pytest.mark.parametrize("params, message", [
    ({"ReplicationInstanceClass": "dms.t3.mediun"}, "Invalid ReplicationInstanceClass: dms.t3.mediun"),
    ({"ReplicationInstanceClass": "dms.t3.medium", "AllocatedStorage": 4},
     "Invalid AllocatedStorage: 4; it must be from 5 to 6144 GiB"),
    ({"ReplicationInstanceClass": "dms.t3.medium", "AllocatedStorage": 6145},
     "Invalid AllocatedStorage: 6145; it must be from 5 to 6144 GiB"),
], ids=["class", "storage-low", "storage-high"])
def test_create_instance_with_an_unknown_class_or_storage_is_refused(sandbox, params, message):
    dms = sandbox.client("dms")
    assert message in _refused(dms.create_replication_instance, ReplicationInstanceIdentifier="ri-bad", **params)
    assert dms.describe_replication_instances()["ReplicationInstances"] == []


def test_modify_instance_to_an_unknown_class_is_refused(sandbox):
    dms = sandbox.client("dms")
    created = dms.create_replication_instance(ReplicationInstanceIdentifier="ri-ok",
                                              ReplicationInstanceClass="dms.r6i.large", AllocatedStorage=100)
    arn = created["ReplicationInstance"]["ReplicationInstanceArn"]
    assert "dms.r6i.huge" in _refused(dms.modify_replication_instance, ReplicationInstanceArn=arn,
                                      ReplicationInstanceClass="dms.r6i.huge")
    instance = dms.describe_replication_instances()["ReplicationInstances"][0]
    assert instance["ReplicationInstanceClass"] == "dms.r6i.large"
