"""DMS's account prerequisite: a correctly configured `dms-vpc-role` (docs/ASSUMPTIONS.md, documented rules).

Without it CreateReplicationSubnetGroup and CreateReplicationInstance (API or CloudFormation) fail with
AccessDeniedFault "The IAM Role arn:aws:iam::<account>:role/dms-vpc-role is not configured properly.".
"Correctly configured" here: the role exists, trusts dms.amazonaws.com (sts:AssumeRole) and has the AWS
managed policy AmazonDMSVPCManagementRole attached. The AWS managed policies the DMS roles use are
registered in every account (moto loads none by default), so an admin can attach them.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from .errors import DmsError

# AWS's fixed names (DMS User Guide, "Creating the IAM roles to use with AWS DMS").
DMS_VPC_ROLE = "dms-vpc-role"
DMS_SERVICE_ROLES = {DMS_VPC_ROLE: "arn:aws:iam::aws:policy/service-role/AmazonDMSVPCManagementRole",
                     "dms-cloudwatch-logs-role": "arn:aws:iam::aws:policy/service-role/AmazonDMSCloudWatchLogsRole"}


class AccessDeniedFault(DmsError):
    error_type = "AccessDeniedFault"


def _iam(account_id: str, region: str) -> Any:
    from moto.iam.models import iam_backends
    from moto.utilities.utils import get_partition

    return iam_backends[account_id][get_partition(region)]


def register_managed_policies(account_id: str, region: str) -> None:
    """The AWS managed policies of the DMS service roles, as every real account has them."""
    from moto.iam.aws_managed_policies import aws_managed_policies_data
    from moto.iam.models import AWSManagedPolicy

    backend = _iam(account_id, region)
    data = json.loads(aws_managed_policies_data)
    for arn in DMS_SERVICE_ROLES.values():
        if arn not in backend.managed_policies:
            policy = AWSManagedPolicy.from_data(arn.rsplit("/", 1)[1], account_id, region, data[arn.rsplit("/", 1)[1]])
            backend.managed_policies[policy.arn] = policy


def _trusts_dms(document: str) -> bool:
    doc = json.loads(unquote(document)) if document else {}
    statements = doc.get("Statement", [])
    for s in statements if isinstance(statements, list) else [statements]:
        actions = s.get("Action", [])
        services = (s.get("Principal") or {}).get("Service", []) if isinstance(s.get("Principal"), dict) else []
        actions = [actions] if isinstance(actions, str) else actions
        services = [services] if isinstance(services, str) else services
        if s.get("Effect") == "Allow" and "sts:AssumeRole" in actions and "dms.amazonaws.com" in services:
            return True
    return False


def require_vpc_role(account_id: str, region: str) -> None:
    """AccessDeniedFault unless dms-vpc-role is configured the way DMS needs it."""
    role = next((r for r in _iam(account_id, region).roles.values() if r.name == DMS_VPC_ROLE), None)
    if (role is None or not _trusts_dms(role.assume_role_policy_document)
            or DMS_SERVICE_ROLES[DMS_VPC_ROLE] not in role.managed_policies):
        raise AccessDeniedFault(f"The IAM Role arn:aws:iam::{account_id}:role/{DMS_VPC_ROLE} is not configured "
                                "properly.")
