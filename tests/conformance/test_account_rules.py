"""What CloudFormation, IAM and DMS answer about roles and names the deployer relies on: apply passes the
bootstrap stack's CloudFormation role as RoleARN, every role of the stacks carries the bootstrap's permissions
boundary, and step 2 of a replacement reuses a deleted task's name. The role checks are free on AWS (refused,
nothing created; what was created anyway is deleted afterwards)."""

from __future__ import annotations

import json

import botocore.exceptions
import pytest

TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
HANDLE = json.dumps({"Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}})


def _account_id(account) -> str:
    return account.client("sts").get_caller_identity()["Account"]


@pytest.mark.conformance("A61")
def test_a_role_arn_that_does_not_exist_is_refused(account):
    cfn = account.client("cloudformation")
    name, role = account.name("role-arn"), f"arn:aws:iam::{_account_id(account)}:role/{account.name('missing')}"

    def delete():
        cfn.delete_stack(StackName=name)

    with pytest.raises(botocore.exceptions.ClientError) as err:
        cfn.create_stack(StackName=name, TemplateBody=HANDLE, RoleARN=role)
        account.cleanup.push(f"CloudFormation stack {name}", delete)  # reached only if it was accepted
    error = err.value.response["Error"]
    assert error["Code"] == "ValidationError"
    assert f"Role {role} is invalid or cannot be assumed" in error["Message"]


@pytest.mark.conformance("A62")
def test_a_permissions_boundary_that_does_not_exist_is_refused(account):
    iam = account.client("iam")
    name = account.name("boundary")
    boundary = f"arn:aws:iam::{_account_id(account)}:policy/{account.name('missing')}"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST), PermissionsBoundary=boundary)
        account.cleanup.push(f"IAM role {name}", lambda: iam.delete_role(RoleName=name))  # only if accepted
    error = err.value.response["Error"]
    assert error["Code"] == "NoSuchEntity"
    assert f"Scope ARN: {boundary} does not exist or is not attachable" in error["Message"]


@pytest.mark.conformance("A66")
def test_a_deleted_task_is_deleting_and_its_identifier_is_not_free_yet(account):
    """What step 2 of a two-step replacement meets if it creates the task again right after a DMS API delete."""
    from . import dms as d

    dms = account.client("dms")
    arn = d.create_task(account, "deleting", "full-load", d.mappings(account.source.schema, account.source.tables[0]))
    row = d.describe_task(account, arn)
    assert dms.delete_replication_task(ReplicationTaskArn=arn)["ReplicationTask"]["Status"] == "deleting"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        again = dms.create_replication_task(
            ReplicationTaskIdentifier=row["ReplicationTaskIdentifier"], SourceEndpointArn=row["SourceEndpointArn"],
            TargetEndpointArn=row["TargetEndpointArn"], ReplicationInstanceArn=row["ReplicationInstanceArn"],
            MigrationType="full-load", TableMappings=row["TableMappings"])["ReplicationTask"]["ReplicationTaskArn"]
        account.cleanup.push(f"replication task {again}", lambda: dms.delete_replication_task(ReplicationTaskArn=again))
    assert d.error_of(err)[0] == "ResourceAlreadyExistsFault"
