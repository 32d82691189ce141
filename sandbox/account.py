"""What an admin did to the sandbox account before dmsctl ran: the DMS service roles (docs/SANDBOX.md).

A fresh sandbox account has `dms-vpc-role` and `dms-cloudwatch-logs-role`, created through the IAM API the way
the bootstrap stack (or an admin) creates them: trusting dms.amazonaws.com, with their AWS managed policies.
A scenario's `account: {dms_service_roles: false}` removes them, to see what DMS does without them.

It also has what the bootstrap stack of each environment of BOOTSTRAPPED creates for CloudFormation (A63): the
service role `<prefix>-cfn-<env>` trusting cloudformation.amazonaws.com (apply's RoleARN) and the managed
policy `<prefix>-boundary-<env>` (the PermissionsBoundary of the stacks' roles), since the sandbox refuses a
RoleARN CloudFormation cannot assume and a boundary that does not exist (A61, A62). `account: {bootstrap: []}`
leaves them out, `bootstrap: [[prefix, env], ...]` names others.
"""

from __future__ import annotations

import json
from typing import Any

from .dms.prerequisites import DMS_SERVICE_ROLES, register_managed_policies

# (resource_prefix, env) of the example configs and the tests' (names: compiler/naming.py cfn_service_role,
# permissions_boundary)
BOOTSTRAPPED: tuple[tuple[str, str], ...] = (("dmsctl", "staging"), ("dmsctl", "prod"))
CFN_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "cloudformation.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
BOUNDARY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "dms.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def prepare_account(sandbox: Any, dms_service_roles: bool = True,
                    bootstrap: tuple[tuple[str, str], ...] | list = BOOTSTRAPPED) -> None:
    """Create (or, with False, delete) the DMS service roles of the sandbox's account, and create the
    bootstrap stacks' CloudFormation role and boundary of `bootstrap`, through IAM's API.
    In-process only (the HTTP server calls it on its own sandbox)."""
    _bootstrap(sandbox.client("iam"), [(str(p), str(e)) for p, e in bootstrap])
    register_managed_policies(sandbox.account_id, sandbox.region)
    iam = sandbox.client("iam")
    existing = {r["RoleName"] for page in iam.get_paginator("list_roles").paginate() for r in page["Roles"]}
    for name, policy in DMS_SERVICE_ROLES.items():
        if dms_service_roles and name not in existing:
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)
            iam.attach_role_policy(RoleName=name, PolicyArn=policy)
        elif not dms_service_roles and name in existing:
            for attached in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
                iam.detach_role_policy(RoleName=name, PolicyArn=attached["PolicyArn"])
            iam.delete_role(RoleName=name)


def _bootstrap(iam: Any, environments: list[tuple[str, str]]) -> None:
    from dmsctl.compiler import naming

    roles = {r["RoleName"] for page in iam.get_paginator("list_roles").paginate() for r in page["Roles"]}
    policies = {p["PolicyName"] for page in iam.get_paginator("list_policies").paginate(Scope="Local")
                for p in page["Policies"]}
    for prefix, env in environments:
        if naming.permissions_boundary(prefix, env) not in policies:
            iam.create_policy(PolicyName=naming.permissions_boundary(prefix, env), PolicyDocument=BOUNDARY)
        if naming.cfn_service_role(prefix, env) not in roles:
            iam.create_role(RoleName=naming.cfn_service_role(prefix, env), AssumeRolePolicyDocument=CFN_TRUST)
