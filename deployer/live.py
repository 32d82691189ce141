"""Read the live state dmsctl manages, through the gateway, with as few calls as possible.

Core read (every plan): DescribeStacks (all pages; the account id comes from a stack ARN, STS
GetCallerIdentity only when the account has no stack), GetTemplate only for stacks whose template
hash output differs from the compiled one, DescribeReplicationTasks (all pages of 100: the status of
every task, P120/P121). Extra reads, once the diff knows what they are for (deployer/planner.py
`needs_statistics`): DescribeTableStatistics (pages of 500), and one ListObjectsV2 (MaxKeys=1) per
new S3 prefix.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from dmsctl.compiler.build import HASH_OUTPUT, CompiledTree
from dmsctl.deployer.errors import AwsError
from dmsctl.deployer.gateway import Gateway
from dmsctl.deployer.mappings_semantics import live_tables

TASK_PAGE = 100  # DescribeReplicationTasks maximum
STATS_PAGE = 500  # DescribeTableStatistics maximum
# Stacks that hold nothing: deleted, or created by a change set that was never executed (a first deploy
# interrupted before ExecuteChangeSet). Both are planned as absent, as stack_deploy.deploy treats them.
NOT_DEPLOYED = frozenset({"DELETE_COMPLETE", "REVIEW_IN_PROGRESS"})


@dataclass(frozen=True)
class LiveStack:
    name: str
    status: str
    outputs: tuple[tuple[str, str], ...]
    template: dict[str, Any] = field(compare=False, repr=False)
    tags: tuple[tuple[str, str], ...] = ()

    @property
    def template_sha256(self) -> str | None:
        return dict(self.outputs).get(HASH_OUTPUT)


@dataclass(frozen=True)
class LiveTask:
    """The one typed view of a DMS replication task (a DescribeReplicationTasks row).

    Read with `WithoutSettings=True` (the cheap form task control polls with), DMS leaves out
    TableMappings and ReplicationTaskSettings: then `described_fully` is False and `tables` refuses."""

    identifier: str
    arn: str
    status: str
    migration_type: str
    mappings: str
    settings: str | None
    instance_arn: str
    source_arn: str
    target_arn: str
    stop_reason: str | None = None
    ever_started: bool = False
    last_failure: str | None = None
    described_fully: bool = True
    # ReplicationTaskStats TablesLoading + TablesQueued (A75); None when DMS did not say
    tables_loading_or_queued: int | None = None
    # ReplicationTaskStats TablesErrored: tables DMS suspended after an error (A77); None when DMS did not say
    tables_errored: int | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any], with_settings: bool = True) -> LiveTask:
        return cls(identifier=row["ReplicationTaskIdentifier"], arn=row["ReplicationTaskArn"],
                   status=row.get("Status", "unknown"), migration_type=row.get("MigrationType", ""),
                   mappings=row.get("TableMappings", "{}") or "{}", settings=row.get("ReplicationTaskSettings"),
                   instance_arn=row.get("ReplicationInstanceArn", ""), source_arn=row.get("SourceEndpointArn", ""),
                   target_arn=row.get("TargetEndpointArn", ""), stop_reason=row.get("StopReason"),
                   ever_started="ReplicationTaskStartDate" in row, last_failure=row.get("LastFailureMessage"),
                   described_fully=with_settings,
                   tables_loading_or_queued=_task_stats(row, "TablesLoading", "TablesQueued"),
                   tables_errored=_task_stats(row, "TablesErrored"))

    @property
    def endpoints(self) -> tuple[str, ...]:
        return tuple(a for a in (self.source_arn, self.target_arn) if a)

    @property
    def tables(self) -> dict[tuple[str, str], str | None]:
        """(schema, table) -> version, read from the task's own TableMappings."""
        if not self.described_fully:
            raise ValueError(f"task {self.identifier} was described without its TableMappings")
        return live_tables(self.mappings)


def _task_stats(row: dict[str, Any], *counts: str) -> int | None:
    """The sum of these ReplicationTaskStats counts; None when DMS did not give every one of them."""
    stats = row.get("ReplicationTaskStats")
    if not isinstance(stats, dict) or any(c not in stats for c in counts):
        return None
    return sum(int(stats[c]) for c in counts)


@dataclass(frozen=True)
class TableStat:
    schema: str
    table: str
    state: str
    full_load_rows: int = 0
    inserts: int = 0  # CDC counts since the table loaded (for the plan's estimate of a reload's rows)
    deletes: int = 0


@dataclass(frozen=True)
class LiveState:
    account_id: str
    stacks: dict[str, LiveStack]  # name -> LiveStack
    tasks: dict[str, LiveTask]  # identifier -> LiveTask


def account_of(stack_id: str) -> str | None:
    """The account id in a stack ARN (arn:<partition>:cloudformation:<region>:<account>:stack/<name>/<id>)."""
    parts = stack_id.split(":")
    if len(parts) >= 6 and parts[0] == "arn" and parts[2] == "cloudformation" and parts[4].isdigit():
        return parts[4]
    return None


def _stack_pages(gw: Gateway) -> Iterator[list[dict[str, Any]]]:
    """DescribeStacks, one counted call per page, read only as far as the caller iterates."""
    params: dict[str, Any] = {}
    while True:
        page = gw.call("cloudformation", "describe_stacks", **params)
        yield list(page.get("Stacks", []))
        if not page.get("NextToken"):
            return
        params = {"NextToken": page["NextToken"]}


def account_id(gw: Gateway, stacks: list[dict[str, Any]] | None = None) -> str:
    """The account these credentials are for: read from the ARN of a stack of DescribeStacks' first page
    (`stacks`, or read here: one call), so STS GetCallerIdentity is asked only when the account has no stack.
    Plan and apply (before it takes the lock) both ask here."""
    if stacks is None:
        stacks = next(_stack_pages(gw))
    for s in stacks:
        account = account_of(s.get("StackId", ""))
        if account:
            return account
    found: str = gw.call("sts", "get_caller_identity", resource="the credentials")["Account"]
    return found


def read_live(gw: Gateway, compiled: CompiledTree) -> LiveState:
    pages = _stack_pages(gw)
    first = next(pages)
    account = account_id(gw, first)
    if account != compiled.account_id:
        return LiveState(account_id=account, stacks={}, tasks={})  # another account: read no further (P114)
    prefix = compiled.resource_prefix + "-"
    compiled_by_name = {s.name: s for s in compiled.stacks}
    stacks: dict[str, LiveStack] = {}
    for page in (first, *pages):
        for s in page:
            name = s["StackName"]
            if not name.startswith(prefix) or s["StackStatus"] in NOT_DEPLOYED:
                continue
            outputs = tuple(sorted((o["OutputKey"], o.get("OutputValue", "")) for o in s.get("Outputs", [])))
            tags = tuple(sorted((t["Key"], t["Value"]) for t in s.get("Tags", [])))
            mine = compiled_by_name.get(name)
            if mine is not None and dict(outputs).get(HASH_OUTPUT) == mine.template_sha256:
                template = mine.template  # the deployed template is exactly the compiled one
            else:
                template = _get_template(gw, name)
            stacks[name] = LiveStack(name=name, status=s["StackStatus"], outputs=outputs, template=template,
                                     tags=tags)
    tasks: dict[str, LiveTask] = {}
    for t in gw.paginate("dms", "describe_replication_tasks", "ReplicationTasks",
                         PaginationConfig={"PageSize": TASK_PAGE}, WithoutSettings=False):
        ident = t["ReplicationTaskIdentifier"]
        if not ident.startswith(prefix):
            continue
        tasks[ident] = LiveTask.from_row(t)
    return LiveState(account_id=account, stacks=stacks, tasks=tasks)


def _get_template(gw: Gateway, stack: str) -> dict[str, Any]:
    body = gw.call("cloudformation", "get_template", resource=f"stack {stack}", StackName=stack,
                   TemplateStage="Original")["TemplateBody"]
    if isinstance(body, dict):
        return body
    template: dict[str, Any]
    try:
        template = json.loads(body)
    except ValueError:
        import yaml  # a stack deployed by hand in YAML: read it anyway

        template = yaml.safe_load(body) or {}
    return template


def read_table_stats(gw: Gateway, task: LiveTask) -> tuple[TableStat, ...]:
    rows = gw.paginate("dms", "describe_table_statistics", "TableStatistics", resource=f"task {task.identifier}",
                       ReplicationTaskArn=task.arn, PaginationConfig={"PageSize": STATS_PAGE})
    return tuple(TableStat(schema=r["SchemaName"], table=r["TableName"], state=r.get("TableState", ""),
                           full_load_rows=r.get("FullLoadRows", 0), inserts=r.get("Inserts", 0),
                           deletes=r.get("Deletes", 0)) for r in rows)


def prefix_has_objects(gw: Gateway, bucket: str, prefix: str) -> bool | None:
    """True/False; None when the bucket does not exist (a check reports it)."""
    try:
        resp = gw.call("s3", "list_objects_v2", resource=f"s3://{bucket}/{prefix}", Bucket=bucket, Prefix=prefix,
                       MaxKeys=1)
    except AwsError as exc:
        if exc.code == "NoSuchBucket":
            return None
        raise
    return bool(resp.get("KeyCount", len(resp.get("Contents", []))) > 0)


def _parent(prefix: str) -> str:
    """`<root>/<team>/<source>/` of a table prefix `<root>/<team>/<source>/<schema>/<table>/<version>/`."""
    parts = prefix.rstrip("/").split("/")
    return "/".join(parts[:-3]) + "/" if len(parts) > 3 else ""


def prefixes_with_objects(gw: Gateway, bucket: str, prefixes: list[str]) -> dict[str, bool | None]:
    """prefix -> holds objects (None: no bucket). Prefixes that share a parent are answered together
    when the parent is empty (a new team or source: one call for all its tables); otherwise one
    ListObjectsV2 (MaxKeys=1) per prefix."""
    groups: dict[str, list[str]] = {}
    for p in prefixes:
        groups.setdefault(_parent(p), []).append(p)
    out: dict[str, bool | None] = {}
    for parent, members in sorted(groups.items()):
        if None in out.values():  # no bucket (P115): asking again for other prefixes would tell nothing
            out.update({p: None for p in members})
            continue
        if len(members) > 1 and parent:
            has = prefix_has_objects(gw, bucket, parent)
            if not has:
                out.update({p: has for p in members})
                continue
        for p in members:
            out[p] = None if None in out.values() else prefix_has_objects(gw, bucket, p)
    return out
