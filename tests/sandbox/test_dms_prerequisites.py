"""DMS's account prerequisite (docs/ASSUMPTIONS.md, documented rules): without a correctly configured dms-vpc-role,
CreateReplicationSubnetGroup / CreateReplicationInstance fail with AccessDeniedFault "The IAM Role
arn:aws:iam::<account>:role/dms-vpc-role is not configured properly." (CloudFormation User Guide,
AWS::DMS::ReplicationSubnetGroup; DMS User Guide, "Creating the IAM roles to use with AWS DMS").
A fresh sandbox account has both DMS service roles, the way an admin (the bootstrap stack) creates them."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from dmsctl.sandbox.account import TRUST, prepare_account

from . import helpers as h
from . import templates as t

VPC_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonDMSVPCManagementRole"
REFUSED = "The IAM Role arn:aws:iam::123456789012:role/dms-vpc-role is not configured properly."


def _subnet_group(sandbox, name="grp"):
    return sandbox.client("dms").create_replication_subnet_group(
        ReplicationSubnetGroupIdentifier=name, ReplicationSubnetGroupDescription="d",
        SubnetIds=["subnet-1", "subnet-2"])


def _instance(sandbox):
    return sandbox.client("dms").create_replication_instance(
        ReplicationInstanceIdentifier="inst", ReplicationInstanceClass="dms.t3.medium")


def test_a_fresh_account_has_the_dms_service_roles(sandbox):
    iam = sandbox.client("iam")
    for name, policy in (("dms-vpc-role", VPC_POLICY),
                         ("dms-cloudwatch-logs-role",
                          "arn:aws:iam::aws:policy/service-role/AmazonDMSCloudWatchLogsRole")):
        assert iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
            "Service": "dms.amazonaws.com"}
        assert [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]] == [policy]
    assert _subnet_group(sandbox)["ReplicationSubnetGroup"]["ReplicationSubnetGroupIdentifier"] == "grp"
    assert _instance(sandbox)["ReplicationInstance"]["ReplicationInstanceIdentifier"] == "inst"


@pytest.mark.parametrize("create", [_subnet_group, _instance])
def test_without_dms_vpc_role_the_api_refuses(sandbox, create):
    prepare_account(sandbox, dms_service_roles=False)
    with pytest.raises(ClientError) as exc:
        create(sandbox)
    assert exc.value.response["Error"] == {"Code": "AccessDeniedFault", "Message": REFUSED}


def test_a_role_without_the_managed_policy_is_not_configured_properly(sandbox):
    prepare_account(sandbox, dms_service_roles=False)
    iam = sandbox.client("iam")
    iam.create_role(RoleName="dms-vpc-role", AssumeRolePolicyDocument=TRUST)
    with pytest.raises(ClientError, match="not configured properly"):
        _subnet_group(sandbox)
    iam.attach_role_policy(RoleName="dms-vpc-role", PolicyArn=VPC_POLICY)  # AWS managed: attachable
    assert _subnet_group(sandbox)["ReplicationSubnetGroup"]["ReplicationSubnetGroupIdentifier"] == "grp"


def test_a_role_trusting_another_service_is_not_configured_properly(sandbox):
    prepare_account(sandbox, dms_service_roles=False)
    iam = sandbox.client("iam")
    iam.create_role(RoleName="dms-vpc-role", AssumeRolePolicyDocument=TRUST.replace("dms.", "ec2."))
    iam.attach_role_policy(RoleName="dms-vpc-role", PolicyArn=VPC_POLICY)
    with pytest.raises(ClientError, match="not configured properly"):
        _instance(sandbox)


def test_without_dms_vpc_role_a_stack_fails_with_the_dms_fault(sandbox):
    prepare_account(sandbox, dms_service_roles=False)
    assert h.create_stack(sandbox, "dmsctl-base", t.body(t.base_template())) == "ROLLBACK_COMPLETE"
    reasons = [e.get("ResourceStatusReason", "") for e in h.events(sandbox, "dmsctl-base")
               if e["ResourceStatus"] == "CREATE_FAILED"]
    assert reasons == [f'Resource handler returned message: "AccessDeniedFault: {REFUSED} (Service: '
                       'DatabaseMigration, Status Code: 400)" (HandlerErrorCode: InvalidRequest)']


def test_a_scenario_can_start_without_the_roles(sandbox):
    sandbox.load_scenario({"account": {"dms_service_roles": False}})
    names = {r["RoleName"] for r in sandbox.client("iam").list_roles()["Roles"]}
    assert not names & {"dms-vpc-role", "dms-cloudwatch-logs-role"}
    sandbox.load_scenario({})  # the default: present
    assert sandbox.client("iam").get_role(RoleName="dms-vpc-role")["Role"]["RoleName"] == "dms-vpc-role"
