"""The opt-in run against a real AWS account: options, the cost estimate, the source description, the
preconditions (credentials, dms-vpc-role) and the scratch infrastructure, deleted at the end of the session."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import pytest

from .account import Source

PREFIX_RE = re.compile(r"^[a-z][a-z0-9-]{2,38}[a-z0-9]$")  # fits bucket (<prefix>-lake), IAM and DMS names
# Estimate only: the on-demand list price of dms.t3.micro in us-east-1, rounded up (other regions cost a few
# cents more; https://aws.amazon.com/dms/pricing/). Its default storage is included in the instance price.
T3_MICRO_USD_PER_HOUR = 0.02
ESTIMATED_HOURS = 2.0  # creating the instance (~15 min), the checks (~1 h with full loads), deleting it
PLACEHOLDER_SOURCE = {"EngineName": "mysql", "ServerName": "placeholder.invalid", "Port": 3306,
                      "Username": "placeholder", "Password": "never-used-no-connection-test"}
SOURCE_FORMAT = """{
  "endpoint": {"EngineName": "mysql", "ServerName": "db.internal", "Port": 3306,
               "MySQLSettings": {"SecretsManagerSecretId": "arn:aws:secretsmanager:...",
                                 "SecretsManagerAccessRoleArn": "arn:aws:iam::...:role/..."}},
  "schema": "app",
  "tables": ["users", "orders"],
  "large_table": "events",
  "instance": {"ReplicationSubnetGroupIdentifier": "my-subnet-group", "VpcSecurityGroupIds": ["sg-..."]}
}"""


@dataclass(frozen=True)
class AwsOptions:
    region: str
    prefix: str
    source: Source
    instance_extra: dict[str, Any]


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance", "conformance checks against a real AWS account (tests/conformance)")
    group.addoption("--aws", action="store_true", default=False,
                    help="run tests/conformance against the AWS account of the current credentials, not the sandbox")
    group.addoption("--aws-region", default=None, help="region of the scratch resources (e.g. eu-west-1)")
    group.addoption("--aws-scratch-prefix", default=None,
                    help="name prefix of every resource created, e.g. dmsctl-conformance-$(openssl rand -hex 3)")
    group.addoption("--aws-i-accept-costs", action="store_true", default=False,
                    help="confirm the estimated cost printed by --aws (a dms.t3.micro for about two hours, S3)")
    group.addoption("--aws-source-endpoint-json", default=None,
                    help="a reachable MySQL/PostgreSQL source: a JSON file or inline JSON (see docs/ASSUMPTIONS.md); "
                         "without it the checks that run a task are skipped")


def cost_lines() -> list[str]:
    instance = T3_MICRO_USD_PER_HOUR * ESTIMATED_HOURS
    return [
        "conformance --aws: estimated cost (check https://aws.amazon.com/dms/pricing/ for your region):",
        f"  1 x dms.t3.micro replication instance, about {ESTIMATED_HOURS:.0f} instance-hours: "
        f"~US${instance:.2f}",
        "  S3: one scratch bucket, a few KB and a few hundred requests: < US$0.01",
        "  IAM role, endpoints, tasks, a CloudFormation stack of WaitConditionHandles: no charge",
        "  not counted: your source database, its network and Secrets Manager",
    ]


def _source(value: str | None) -> tuple[Source, dict[str, Any]]:
    if not value:
        return Source(endpoint=PLACEHOLDER_SOURCE, schema="dmsctl_conformance", tables=("t1", "t2"),
                      large_table=None, reachable=False), {}
    text = value if value.lstrip().startswith("{") else Path(value).read_text()
    try:
        spec = json.loads(text)
        tables = spec["tables"]
        source = Source(endpoint=dict(spec["endpoint"]), schema=str(spec["schema"]),
                        tables=(str(tables[0]), str(tables[1])), large_table=spec.get("large_table"), reachable=True)
    except (json.JSONDecodeError, KeyError, IndexError, TypeError) as exc:
        raise pytest.UsageError(f"--aws-source-endpoint-json: {type(exc).__name__}: {exc}; expected:\n"
                                f"{SOURCE_FORMAT}") from exc
    return source, dict(spec.get("instance") or {})


def options(config: pytest.Config) -> AwsOptions | None:
    """The validated --aws options, or None without --aws. Refuses (UsageError) what cannot run."""
    if not config.getoption("--aws"):
        return None
    region, prefix = config.getoption("--aws-region"), config.getoption("--aws-scratch-prefix")
    missing = [flag for flag, value in (("--aws-region", region), ("--aws-scratch-prefix", prefix),
                                        ("--aws-i-accept-costs", config.getoption("--aws-i-accept-costs")))
               if not value]
    if missing:
        raise pytest.UsageError("--aws needs " + ", ".join(missing) + " (it creates billed resources).\n"
                                + "\n".join(cost_lines()))
    if not PREFIX_RE.match(prefix):
        raise pytest.UsageError(f"--aws-scratch-prefix {prefix!r}: lower-case letters, digits and hyphens, "
                                "4-40 characters, starting with a letter (e.g. dmsctl-conformance-3f9a1c)")
    source, instance_extra = _source(config.getoption("--aws-source-endpoint-json"))
    return AwsOptions(region=region, prefix=prefix, source=source, instance_extra=instance_extra)


def session_or_exit(region: str) -> tuple[boto3.Session, str]:
    """A session with working credentials and the account id, or pytest.exit with what is missing."""
    session = boto3.Session(region_name=region)
    if session.get_credentials() is None:
        pytest.exit("conformance --aws: no AWS credentials found (environment, ~/.aws, SSO or instance role); "
                    "configure credentials for a scratch account and rerun", returncode=4)
    try:
        account_id = session.client("sts").get_caller_identity()["Account"]
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        pytest.exit(f"conformance --aws: the credentials do not work ({exc}); fix them and rerun", returncode=4)
    return session, account_id


def require_dms_vpc_role(session: boto3.Session) -> None:
    """DMS creates a replication instance in a VPC only with the service role dms-vpc-role."""
    try:
        session.client("iam").get_role(RoleName="dms-vpc-role")
    except botocore.exceptions.ClientError as exc:
        if exc.response["Error"].get("Code") != "NoSuchEntity":
            raise
        pytest.skip("the IAM role dms-vpc-role does not exist in this account: DMS needs it to create a "
                    "replication instance. Create it (trusted by dms.amazonaws.com, managed policy "
                    "AmazonDMSVPCManagementRole; DMS User Guide, 'Creating the IAM roles to use with AWS DMS') "
                    "and rerun")
