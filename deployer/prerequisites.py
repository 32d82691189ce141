"""Account prerequisites no stack of dmsctl's creates: the DMS service roles (P123).

DMS requires two account-wide roles with fixed names (DMS User Guide, "Creating the IAM roles to use with
AWS DMS"): without `dms-vpc-role`, CreateReplicationSubnetGroup and CreateReplicationInstance fail with
AccessDeniedFault "The IAM Role arn:aws:iam::<account>:role/dms-vpc-role is not configured properly.";
`dms-cloudwatch-logs-role` lets tasks write their logs to CloudWatch. The bootstrap stack creates them when
the account has none. Read-only: one iam:GetRole per role (the plan role may call it on these two ARNs).
"""

from __future__ import annotations

from dmsctl.compiler import naming
from dmsctl.deployer import plan as P
from dmsctl.deployer.errors import AwsError
from dmsctl.deployer.gateway import Gateway

CODE = "P123"
MISSING = ("NoSuchEntity",)


def role_exists(gw: Gateway, name: str) -> bool:
    """Does the account have the IAM role? AwsError for anything but "no such role" (e.g. AccessDenied)."""
    try:
        gw.call("iam", "get_role", resource=f"role {name}", RoleName=name)
    except AwsError as exc:
        if exc.code in MISSING:
            return False
        raise
    return True


def service_role_checks(gw: Gateway, account_id: str, env: str) -> list[P.Check]:
    """P123: an error per missing DMS service role; a warning when the credentials may not look."""
    checks = []
    for name, policy in naming.DMS_SERVICE_ROLES.items():
        arn = naming.role_arn(account_id, name)
        try:
            present = role_exists(gw, name)
        except AwsError as exc:
            checks.append(P.check(CODE, "warning", f"could not check that the IAM role {arn} exists ({exc}): "
                                  "redeploy the bootstrap stack, whose plan and deploy roles may read it"))
            continue
        if not present:
            checks.append(P.check(CODE, "error", f"the account has no IAM role {name}, which DMS requires "
                                  f"(trusting dms.amazonaws.com, with {policy.rsplit('/', 1)[1]}): deploy the "
                                  f"bootstrap stack (`dmsctl bootstrap-template --env {env}` creates it when it "
                                  "is absent), then plan again"))
    return checks
