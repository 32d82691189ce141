"""Every physical name, logical id, export name and S3 path dmsctl derives, in one place.

Output layout (see docs/CONFIG.md):

    s3://<bucket>/<root_prefix>/<team>/<source>/<schema>/<table>/<version>/

DMS writes a table to <BucketFolder>/<schema>/<table>/. The base target endpoints set BucketFolder
to <root_prefix>; each task renames the schema to "<team>/<source>/<schema>" and the table to
"<table>/<version>", so two versions of one table always land in different prefixes.
"""

from __future__ import annotations

import hashlib
import re

# DMS identifier rules (ReplicationTaskIdentifier, EndpointIdentifier, ReplicationInstanceIdentifier):
# letters, digits, hyphens; first a letter; no trailing hyphen; no two consecutive hyphens.
DMS_ID = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|-(?!-))*(?<!-)\Z")
MAX_TASK_ID = 255
MAX_ENDPOINT_ID = 255
MAX_INSTANCE_ID = 63
MAX_STACK_NAME = 128
MAX_STATE_MACHINE_NAME = 80  # Step Functions
MAX_RULE_NAME = 64  # EventBridge
DATE_PLACEHOLDER = "{date}"  # in an export table's s3_prefix: where a run's YYYY/MM/DD[/HHMMSS] goes


def base_stack(prefix: str) -> str:
    return f"{prefix}-base"


def team_stack(prefix: str, team: str) -> str:
    return f"{prefix}-team-{team}"


def task_stack(prefix: str, team: str, group: str) -> str:
    """A team's extra stack for the tasks configured with `stack: <group>`. Team and group names never
    contain "--", so these names cannot collide with a team stack or another team's groups."""
    return f"{team_stack(prefix, team)}--{group}"


def team_export(prefix: str, team: str, kind: str, name: str) -> str:
    """Exports of a team stack that its task stacks import: kind "instance" or "source"."""
    return f"{team_stack(prefix, team)}-{kind}-{name}-arn"


def task_id(prefix: str, team: str, task: str) -> str:
    return f"{prefix}-{team}-{task}"


def instance_id(prefix: str, team: str, instance: str) -> str:
    return f"{prefix}-{team}-{instance}"


def source_endpoint_id(prefix: str, team: str, source: str) -> str:
    return f"{prefix}-{team}-src-{source}"


def target_endpoint_id(prefix: str, target: str) -> str:
    return f"{prefix}-target-{target}"


def export_endpoint_id(prefix: str, team: str, task: str) -> str:
    """The S3 target endpoint of one dated-export task: each run points its BucketFolder at the run's date."""
    return f"{prefix}-{team}-{task}-export"


def export_root(root_prefix: str, team: str, task: str) -> str:
    return f"{root_prefix}/{team}/export/{task}"


def export_folder(root_prefix: str, team: str, task: str, when, output: str) -> str:
    """The BucketFolder of one export run at `when` (a datetime, UTC): dated -> YYYY/MM/DD,
    timestamped -> YYYY/MM/DD/HHMMSS. No trailing slash (DMS appends /<schema>/<table>/)."""
    stamp = when.strftime("%Y/%m/%d") if output == "dated" else when.strftime("%Y/%m/%d/%H%M%S")
    return f"{export_root(root_prefix, team, task)}/{stamp}"


def export_renamed_schema(source: str, schema: str) -> str:
    """An export task's schema rename: its endpoint's BucketFolder already names team, task and date."""
    return f"{source}/{schema}"


def export_table_prefix(root_prefix: str, team: str, task: str, source: str, schema: str, table: str,
                        version: str) -> str:
    """The key prefix of one table in every export run, with DATE_PLACEHOLDER where the run's
    YYYY/MM/DD (dated) or YYYY/MM/DD/HHMMSS (timestamped) goes; trailing slash."""
    return (f"{export_root(root_prefix, team, task)}/{DATE_PLACEHOLDER}/{export_renamed_schema(source, schema)}/"
            f"{renamed_table(table, version)}/")


def state_machine_name(prefix: str, team: str, task: str) -> str:
    return f"{prefix}-{team}-{task}"


def schedule_rule_name(prefix: str, team: str, task: str) -> str:
    return f"{prefix}-{team}-{task}-schedule"


def events_topic(prefix: str, team: str) -> str:
    """The team's SNS topic and DMS event subscription."""
    return f"{prefix}-{team}-events"


def event_subscription_name(prefix: str, team: str, task_identifiers) -> str:
    """The team's DMS event subscription: the topic's name plus a hash of the tasks it covers. CloudFormation
    replaces a subscription whose SourceIds change (they are create-only), and a replacement needs a new name."""
    digest = hashlib.sha256("\n".join(sorted(task_identifiers)).encode()).hexdigest()[:8]
    return f"{events_topic(prefix, team)}-{digest}"


def checkpoint_key(task_identifier: str) -> str:
    return f"checkpoint#{task_identifier}"


def metrics_key(task_identifier: str) -> str:
    return f"metrics#{task_identifier}"


def handover_key(task_identifier: str) -> str:
    return f"handover#{task_identifier}"


def bootstrap_stack(prefix: str) -> str:
    """Deployed once by an admin, never by apply. Deliberately not `<prefix>-…`: plan treats every
    `<prefix>-` stack as its own and would propose deleting one it did not compile."""
    return f"bootstrap-{prefix}"


def github_role(prefix: str, kind: str, env: str) -> str:
    """The CI role of one environment: kind "plan" or "deploy" (≤ 63 characters with the schema's limits)."""
    return f"{prefix}-gh-{kind}-{env}"


def cfn_service_role(prefix: str, env: str) -> str:
    """The role CloudFormation acts with when apply deploys a stack (bootstrap stack; RoleARN of each change set)."""
    return f"{prefix}-cfn-{env}"


def permissions_boundary(prefix: str, env: str) -> str:
    """The managed policy (bootstrap stack) every role of the base, team and task stacks carries as its boundary."""
    return f"{prefix}-boundary-{env}"


def role_arn(account_id: str, name: str) -> str:
    return f"arn:aws:iam::{account_id}:role/{name}"


def policy_arn(account_id: str, name: str) -> str:
    return f"arn:aws:iam::{account_id}:policy/{name}"


# The account-wide roles DMS itself requires, with these fixed names (DMS User Guide, "Creating the IAM roles
# to use with AWS DMS"): without dms-vpc-role no subnet group or replication instance can be created.
DMS_VPC_ROLE = "dms-vpc-role"
DMS_CLOUDWATCH_LOGS_ROLE = "dms-cloudwatch-logs-role"
DMS_SERVICE_ROLES = {DMS_VPC_ROLE: "arn:aws:iam::aws:policy/service-role/AmazonDMSVPCManagementRole",
                     DMS_CLOUDWATCH_LOGS_ROLE: "arn:aws:iam::aws:policy/service-role/AmazonDMSCloudWatchLogsRole"}


def subnet_group_id(prefix: str) -> str:
    return f"{prefix}-subnets"


def lock_table(prefix: str) -> str:
    return f"{prefix}-state"


def export(prefix: str, what: str) -> str:
    """Export names of the base stack, imported by team stacks with Fn::ImportValue."""
    return f"{base_stack(prefix)}-{what}"


def target_export(prefix: str, target: str) -> str:
    return export(prefix, f"target-{target}-arn")


def logical_id(kind: str, name: str) -> str:
    """CloudFormation logical id: alphanumeric, e.g. ('Task', 'users-cdc') -> 'TaskUsersCdc'."""
    return kind + "".join(part[:1].upper() + part[1:] for part in name.split("-"))


def renamed_schema(team: str, source: str, schema: str) -> str:
    return f"{team}/{source}/{schema}"


def renamed_table(table: str, version: str) -> str:
    return f"{table}/{version}"


def table_prefix(root_prefix: str, team: str, source: str, schema: str, table: str, version: str) -> str:
    """The S3 key prefix (within the data-lake bucket) one table version writes to, with a trailing slash."""
    return f"{root_prefix}/{renamed_schema(team, source, schema)}/{renamed_table(table, version)}/"


def is_dms_identifier(name: str, max_length: int) -> bool:
    return len(name) <= max_length and bool(DMS_ID.match(name))
