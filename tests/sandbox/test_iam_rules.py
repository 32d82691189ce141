"""The role CloudFormation acts with must be assumable; a permissions boundary must exist (A61, A62, A63).

Sources: CloudFormation API CreateStack / UpdateStack / CreateChangeSet / DeleteStack (RoleARN); the
ValidationError "Role <arn> is invalid or cannot be assumed" as public trackers report it (e.g.
hashicorp/terraform-provider-aws retries CreateStack on it); IAM API CreateRole / PutRolePermissionsBoundary
(NoSuchEntity), with the wording "Scope ARN: <arn> does not exist or is not attachable." users report.
"""

from __future__ import annotations

import json

import botocore.exceptions
import pytest

from . import helpers as h

ACCOUNT = "123456789012"
CFN_ROLE = f"arn:aws:iam::{ACCOUNT}:role/dmsctl-cfn-staging"  # the bootstrap stack's, in every fresh account
BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/dmsctl-boundary-staging"
HANDLE = json.dumps({"Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}})
TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def _error(err) -> tuple[str, str]:
    return err.value.response["Error"]["Code"], err.value.response["Error"]["Message"]


def _stacks(sb) -> list[str]:
    return [s["StackName"] for s in sb.client("cloudformation").describe_stacks()["Stacks"]]


def test_a_fresh_account_has_the_bootstrap_role_and_boundary(sandbox):
    iam = sandbox.client("iam")
    role = iam.get_role(RoleName="dmsctl-cfn-staging")["Role"]
    assert "cloudformation.amazonaws.com" in json.dumps(role["AssumeRolePolicyDocument"])
    assert iam.get_policy(PolicyArn=BOUNDARY)["Policy"]["PolicyName"] == "dmsctl-boundary-staging"


@pytest.mark.parametrize("role", [f"arn:aws:iam::{ACCOUNT}:role/nobody", f"arn:aws:iam::{ACCOUNT}:user/someone",
                                  "lambda-role"])
def test_create_stack_with_a_role_cloudformation_cannot_assume_is_refused(sandbox, role):
    if role == "lambda-role":
        sandbox.client("iam").create_role(RoleName="lambda-role", AssumeRolePolicyDocument=json.dumps(TRUST))
        role = f"arn:aws:iam::{ACCOUNT}:role/lambda-role"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        sandbox.client("cloudformation").create_stack(StackName="s", TemplateBody=HANDLE, RoleARN=role)
    assert _error(err) == ("ValidationError", f"Role {role} is invalid or cannot be assumed")
    assert _stacks(sandbox) == []


def test_a_change_set_and_an_update_with_a_missing_role_are_refused(sandbox):
    cfn = sandbox.client("cloudformation")
    assert h.create_stack(sandbox, "s", HANDLE, RoleARN=CFN_ROLE) == "CREATE_COMPLETE"
    assert cfn.describe_stacks(StackName="s")["Stacks"][0]["RoleARN"] == CFN_ROLE
    missing = f"arn:aws:iam::{ACCOUNT}:role/dmsctl-cfn-other"
    for call in (lambda: cfn.create_change_set(StackName="s", ChangeSetName="c", TemplateBody=HANDLE,
                                               RoleARN=missing),
                 lambda: cfn.update_stack(StackName="s", TemplateBody=HANDLE, RoleARN=missing)):
        with pytest.raises(botocore.exceptions.ClientError) as err:
            call()
        assert _error(err) == ("ValidationError", f"Role {missing} is invalid or cannot be assumed")
    assert cfn.list_change_sets(StackName="s")["Summaries"] == []


def test_deleting_a_stack_whose_role_is_gone_is_refused_unless_a_role_is_given(sandbox):
    iam, cfn = sandbox.client("iam"), sandbox.client("cloudformation")
    assert h.create_stack(sandbox, "s", HANDLE, RoleARN=CFN_ROLE) == "CREATE_COMPLETE"
    iam.delete_role(RoleName="dmsctl-cfn-staging")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        cfn.delete_stack(StackName="s")
    assert _error(err) == ("ValidationError", f"Role {CFN_ROLE} is invalid or cannot be assumed")
    assert "s" in _stacks(sandbox)
    iam.create_role(RoleName="dmsctl-cfn-again", AssumeRolePolicyDocument=json.dumps(
        {"Statement": [{"Effect": "Allow", "Principal": {"Service": "cloudformation.amazonaws.com"},
                        "Action": "sts:AssumeRole"}]}))
    cfn.delete_stack(StackName="s", RoleARN=f"arn:aws:iam::{ACCOUNT}:role/dmsctl-cfn-again")
    assert "s" not in _stacks(sandbox)


def test_create_role_with_a_boundary_that_does_not_exist_is_refused(sandbox):
    iam = sandbox.client("iam")
    missing = f"arn:aws:iam::{ACCOUNT}:policy/no-such-boundary"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        iam.create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps(TRUST), PermissionsBoundary=missing)
    assert _error(err) == ("NoSuchEntity", f"Scope ARN: {missing} does not exist or is not attachable.")
    assert "r" not in {r["RoleName"] for r in iam.list_roles()["Roles"]}
    iam.create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps(TRUST), PermissionsBoundary=BOUNDARY)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        iam.put_role_permissions_boundary(RoleName="r", PermissionsBoundary=missing)
    assert _error(err)[0] == "NoSuchEntity"
    assert iam.get_role(RoleName="r")["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == BOUNDARY


def test_a_stack_role_with_a_missing_boundary_rolls_the_stack_back(sandbox):
    missing = f"arn:aws:iam::{ACCOUNT}:policy/dmsctl-boundary-prod-typo"
    body = json.dumps({"Resources": {"Role": {"Type": "AWS::IAM::Role", "Properties": {
        "RoleName": "dmsctl-x", "AssumeRolePolicyDocument": TRUST, "PermissionsBoundary": missing}}}})
    assert h.create_stack(sandbox, "s", body, RoleARN=CFN_ROLE) == "ROLLBACK_COMPLETE"
    reasons = [e.get("ResourceStatusReason", "") for e in h.events(sandbox, "s")]
    assert any("NoSuchEntity" in r and f"Scope ARN: {missing} does not exist" in r for r in reasons), reasons


# --- what a role may do (role_allows, A77) ---------------------------------------------------------------

DMS_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "dms.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
OBJECT = "arn:aws:s3:::lake/raw/app/users/"


def _role(sb, name: str, *statements: dict, boundary: dict | None = None) -> str:
    iam = sb.client("iam")
    extra = {}
    if boundary is not None:
        extra["PermissionsBoundary"] = iam.create_policy(
            PolicyName=f"{name}-boundary", PolicyDocument=json.dumps(boundary))["Policy"]["Arn"]
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(DMS_TRUST), **extra)["Role"]["Arn"]
    if statements:
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": list(statements)}))
    return arn


def _allow(action, resource="arn:aws:s3:::lake/*", **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def test_role_allows_reads_the_roles_policies(sandbox):
    from dmsctl.sandbox.iam_rules import role_allows

    assert role_allows(_role(sandbox, "writes", _allow(["s3:PutObject"])), "s3:PutObject", OBJECT)
    assert not role_allows(_role(sandbox, "no-delete", _allow(["s3:PutObject"])), "s3:DeleteObject", OBJECT)
    assert role_allows(_role(sandbox, "wildcard", _allow("s3:*Object")), "s3:DeleteObject", OBJECT)
    assert not role_allows(_role(sandbox, "other-bucket", _allow("s3:*", "arn:aws:s3:::other/*")),
                           "s3:DeleteObject", OBJECT)
    denied = _role(sandbox, "denied", _allow("s3:*"), {"Effect": "Deny", "Action": "s3:DeleteObject",
                                                        "Resource": "*"})
    assert not role_allows(denied, "s3:DeleteObject", OBJECT) and role_allows(denied, "s3:PutObject", OBJECT)
    assert not role_allows(_role(sandbox, "conditional", _allow("s3:*", Condition={"Bool": {
        "aws:SecureTransport": "true"}})), "s3:DeleteObject", OBJECT)  # not evaluated: grants nothing here
    assert not role_allows(f"arn:aws:iam::{ACCOUNT}:role/absent", "s3:PutObject", OBJECT)
    assert not role_allows(None, "s3:PutObject", OBJECT)


def test_role_allows_is_limited_by_the_permissions_boundary(sandbox):
    from dmsctl.sandbox.iam_rules import role_allows

    bounded = _role(sandbox, "bounded", _allow("s3:*"), boundary={"Version": "2012-10-17", "Statement": [
        _allow("s3:PutObject", "*")]})
    assert role_allows(bounded, "s3:PutObject", OBJECT) and not role_allows(bounded, "s3:DeleteObject", OBJECT)
