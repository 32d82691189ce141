"""A deleted task is `deleting` for a while, and its identifier is not free until it is gone (A66).

Sources: DMS API DeleteReplicationTask (the task comes back in status "deleting"), ReplicationTask.Status,
CreateReplicationTask (ResourceAlreadyExistsFault); CloudFormation registry schema of
AWS::DMS::ReplicationTask (the delete handler's permissions include dms:DescribeReplicationTasks: it waits
for the task to be gone before the resource is DELETE_COMPLETE).
"""

from __future__ import annotations

import botocore.exceptions
import pytest

from . import helpers as h
from . import templates as t

TASK = "team-a-app"


def _again(sb, row: dict) -> dict:
    return sb.client("dms").create_replication_task(
        ReplicationTaskIdentifier=TASK, SourceEndpointArn=row["SourceEndpointArn"],
        TargetEndpointArn=row["TargetEndpointArn"], ReplicationInstanceArn=row["ReplicationInstanceArn"],
        MigrationType=row["MigrationType"], TableMappings=t.mappings("app.users"))["ReplicationTask"]


def test_an_api_deleted_task_is_deleting_and_its_identifier_taken_until_it_is_gone(sandbox, deployed):
    dms = sandbox.client("dms")
    row = h.task(sandbox, TASK)
    assert dms.delete_replication_task(ReplicationTaskArn=row["ReplicationTaskArn"])["ReplicationTask"][
        "Status"] == "deleting"
    assert h.task(sandbox, TASK)["Status"] == "deleting"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        _again(sandbox, row)
    assert err.value.response["Error"]["Code"] == "ResourceAlreadyExistsFault"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        h.start(sandbox, TASK)
    assert err.value.response["Error"]["Code"] == "InvalidResourceStateFault"
    sandbox.advance(sandbox.world.config.task_delete_seconds)
    assert TASK not in h.tasks(sandbox)
    assert _again(sandbox, row)["ReplicationTaskArn"] != row["ReplicationTaskArn"]


def test_a_two_step_replacement_through_cloudformation_reuses_the_name_at_once(sandbox, deployed):
    """Step 1 removes the custom-named task, step 2 creates it again: the handler waited for the delete."""
    old = h.task(sandbox, TASK)["ReplicationTaskArn"]
    without = t.team_template({})
    with_task = t.team_template({TASK: t.mappings("app.users")})
    assert h.update_stack(sandbox, "dmsctl-team-a", t.body(without)) == "UPDATE_COMPLETE"
    assert TASK not in h.tasks(sandbox)
    assert h.update_stack(sandbox, "dmsctl-team-a", t.body(with_task)) == "UPDATE_COMPLETE"
    assert h.task(sandbox, TASK)["ReplicationTaskArn"] != old
