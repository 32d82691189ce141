"""What an admin did to the sandbox account before dmsctl ran: the DMS service roles (docs/SANDBOX.md).

A fresh sandbox account has `dms-vpc-role` and `dms-cloudwatch-logs-role`, created through the IAM API the way
the bootstrap stack (or an admin) creates them: trusting dms.amazonaws.com, with their AWS managed policies.
A scenario's `account: {dms_service_roles: false}` removes them, to see what DMS does without them.
"""

from __future__ import annotations

import json
from typing import Any

from .dms.prerequisites import DMS_SERVICE_ROLES, register_managed_policies

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "dms.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def prepare_account(sandbox: Any, dms_service_roles: bool = True) -> None:
    """Create (or, with False, delete) the DMS service roles of the sandbox's account, through IAM's API.
    In-process only (the HTTP server calls it on its own sandbox)."""
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
