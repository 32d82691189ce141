"""Render the CloudFormation templates from templates/*.j2 with Jinja2.

StrictUndefined: a missing value is an error naming the template and line, never an empty
string. Every value that lands in the YAML goes through the `json` filter, so no name or description
can change the template's structure. While a template renders, the filter writes a short placeholder
("@v17@") instead of the value's JSON and keeps a plain copy of the value; the rendered YAML is then
only the template's own skeleton, and each placeholder is replaced by its value after parsing. The
result is the data the JSON text would have parsed to, without encoding the values (TableMappings
run to megabytes) and parsing them back.
"""

from __future__ import annotations

import hashlib
import json
import re
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache, lru_cache

import jinja2
import yaml

from dmsctl.compiler import naming, workflows
from dmsctl.compiler.data import templates_dir
from dmsctl.compiler.mappings import build_mappings, mappings_json
from dmsctl.compiler.model import ConfigTree, Source, Task, Team
from dmsctl.compiler.settings import task_settings

TEMPLATE_DIR = templates_dir()
SETTINGS_KEYS = {"mysql": "MySqlSettings", "mariadb": "MySqlSettings", "aurora": "MySqlSettings",
                 "postgres": "PostgreSqlSettings", "aurora-postgresql": "PostgreSqlSettings",
                 "sqlserver": "MicrosoftSqlServerSettings", "oracle": "OracleSettings"}


class RenderError(Exception):
    def __init__(self, template: str, line: int, message: str):
        super().__init__(f"{template}:{line}: {message}")
        self.template, self.line, self.message = template, line, message


def _json_default(value: object) -> object:
    if isinstance(value, jinja2.Undefined):
        value._fail_with_undefined_error()  # raises UndefinedError naming the missing value
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def to_json(value: object) -> str:
    """The only way a value enters a template: canonical JSON, safe as a YAML flow scalar."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=True, default=_json_default)
    return text.replace("\x7f", "\\u007f")


# The values of the template being rendered (placeholder n -> value); None outside render_template.
_VALUES: ContextVar[list[object] | None] = ContextVar("dmsctl_template_values", default=None)
_PLACEHOLDER = re.compile(r"@v(\d+)@")


def _key(key: object) -> str:
    """A mapping key as JSON writes it (json.dumps turns 1, true, null into "1", "true", "null")."""
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, (bool, int, float)):
        return json.dumps(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


def plain(value: object) -> object:
    """A fresh copy of `value` as JSON data (tuples as lists), or the error to_json would raise: a missing
    value names itself (StrictUndefined), anything else that JSON cannot hold is a TypeError."""
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, dict):
        return {_key(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return plain(_json_default(value))


def _json_filter(value: object) -> str:
    values = _VALUES.get()
    if values is None:
        return to_json(value)
    values.append(plain(value))
    return f'"@v{len(values) - 1}@"'


_STR = "tag:yaml.org,2002:str"
_SCALARS = yaml.constructor.SafeConstructor()  # the other scalar types, exactly as safe_load builds them


def _filled(node: yaml.Node, values: list[object]) -> object:
    """The data of a composed skeleton (what safe_load builds: the templates use no merge keys), with
    every placeholder replaced by its value."""
    if isinstance(node, yaml.ScalarNode):
        if node.tag != _STR:
            return _SCALARS.construct_object(node)
        text = node.value
        found = _PLACEHOLDER.fullmatch(text) if text.startswith("@v") else None
        return values[int(found.group(1))] if found else text
    if isinstance(node, yaml.SequenceNode):
        return [_filled(item, values) for item in node.value]
    return {_filled(k, values): _filled(v, values) for k, v in node.value}


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)), undefined=jinja2.StrictUndefined,
                             autoescape=False, keep_trailing_newline=True)
    env.filters["json"] = _json_filter
    return env


def _template_line(exc: BaseException, name: str) -> int:
    tb, line = exc.__traceback__, 0
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(name):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def render_template(name: str, context: dict) -> dict:
    """Render templates/<name> and parse the result; errors are RenderError with template:line."""
    values: list[object] = []
    token = _VALUES.set(values)
    try:
        text = _environment().get_template(name).render(**context)
    except jinja2.TemplateSyntaxError as exc:
        raise RenderError(name, exc.lineno or 0, exc.message or str(exc)) from None
    except jinja2.TemplateError as exc:
        raise RenderError(name, _template_line(exc, name), str(exc)) from None
    finally:
        _VALUES.reset(token)
    # libyaml when present (the same nodes as the pure-Python composer, several times faster)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        skeleton = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 0
        raise RenderError(name, line, f"rendered output is not valid YAML: {exc.problem}") from None
    finally:
        loader.dispose()
    filled = _filled(skeleton, values) if skeleton is not None else None
    if not isinstance(filled, dict):
        raise RenderError(name, 0, "rendered output is not a mapping")
    return filled


def _tags(tree: ConfigTree, **extra: str) -> list[dict]:
    tags = dict(tree.env.tags)
    tags.update({"dmsctl:managed-by": "dmsctl", "dmsctl:environment": tree.env.name})
    tags.update(extra)
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


@dataclass(frozen=True)
class _Named:
    logical_id: str
    identifier: str
    model: object


def permissions_boundary(tree: ConfigTree) -> str:
    """Every role of the base, team and task stacks carries it (compiler/permissions.py, bootstrap stack)."""
    return naming.policy_arn(tree.env.account_id, naming.permissions_boundary(tree.base.resource_prefix,
                                                                              tree.env.name))


def base_context(tree: ConfigTree) -> dict:
    prefix = tree.base.resource_prefix
    targets = [{"name": t.name, "profile": t, "logical_id": naming.logical_id("Target", t.name),
                "identifier": naming.target_endpoint_id(prefix, t.name),
                "export": naming.target_export(prefix, t.name)} for t in tree.base.targets]
    return {"env": tree.env, "base": tree.base, "targets": targets, "tags": _tags(tree),
            "subnet_group": naming.subnet_group_id(prefix), "state_table": naming.lock_table(prefix),
            "exports": base_exports(prefix), "permissions_boundary": permissions_boundary(tree)}


def base_exports(prefix: str) -> dict:
    return {"role": naming.export(prefix, "datalake-role-arn"),
            "security_group": naming.export(prefix, "security-group-id"),
            "subnet_group": naming.export(prefix, "subnet-group"),
            "state_table": naming.export(prefix, "state-table")}


def _secret_arn(tree: ConfigTree, source: Source) -> str:
    if source.secret_id.startswith("arn:"):
        return source.secret_id
    return f"arn:aws:secretsmanager:{tree.env.region}:{tree.env.account_id}:secret:{source.secret_id}-*"


@lru_cache(maxsize=4096)
def settings_json(overrides_json: str) -> str:
    """ReplicationTaskSettings JSON for a task's overrides (most tasks share the defaults: built once)."""
    return json.dumps(task_settings(overrides_json), sort_keys=True, separators=(",", ":"))


def task_payload(team: Team, task: Task) -> tuple[str, str]:
    """(TableMappings JSON, ReplicationTaskSettings JSON) exactly as they go into the template."""
    return mappings_json(build_mappings(team.name, task)), settings_json(task.settings_overrides)


def _task_entries(tree: ConfigTree, team: Team, tasks, imported: bool) -> list[dict]:
    """Template entries of `tasks`. In a task stack (`imported`) the instance and source endpoint are
    the team stack's, imported through its exports; in the team stack they are plain Refs."""
    prefix = tree.base.resource_prefix
    out = []
    for t in tasks:
        mappings, settings = task_payload(team, t)
        if imported:
            instance_ref = {"Fn::ImportValue": naming.team_export(prefix, team.name, "instance", t.instance)}
            source_ref = {"Fn::ImportValue": naming.team_export(prefix, team.name, "source", t.source)}
        else:
            instance_ref = {"Ref": naming.logical_id("Instance", t.instance)}
            source_ref = {"Ref": naming.logical_id("Source", t.source)}
        # An export task writes through its own endpoint (team stack), every other task through a base target.
        target_ref = ({"Ref": naming.logical_id("ExportEndpoint", t.name)} if t.is_export
                      else {"Fn::ImportValue": naming.target_export(prefix, t.target)})
        out.append(dict(
            logical_id=naming.logical_id("Task", t.name), model=t,
            identifier=naming.task_id(prefix, team.name, t.name), instance_ref=instance_ref, source_ref=source_ref,
            target_ref=target_ref, mappings=mappings, settings=settings,
            tags=_tags(tree, **{"dmsctl:team": team.name, "dmsctl:task": t.name})))
    return out


def _paused_tables(tasks) -> dict:
    return {t.name: [f"{tb.schema}.{tb.table}@{tb.version}" for tb in sorted(t.tables, key=lambda x: x.key)
                     if tb.paused] for t in tasks if any(tb.paused for tb in t.tables)}


def task_stack_imports(team: Team) -> set[tuple[str, str]]:
    """What the team's task stacks import from the team stack, as (kind, name): the instances and sources of
    their tasks, and the events topic when the team has notifications (task stacks subscribe their tasks to
    it). The team stack exports exactly these; a team without task stacks exports nothing."""
    grouped = [t for t in team.tasks if t.stack]
    imports = {("instance", t.instance) for t in grouped} | {("source", t.source) for t in grouped}
    if grouped and team.notifications is not None:
        imports.add(("topic", "events"))
    return imports


def task_groups(team: Team) -> list[str]:
    """The team's task stack groups (`stack:` values), sorted."""
    return sorted({t.stack for t in team.tasks if t.stack} | set(team.keep_stacks))


def export_s3_settings(tree: ConfigTree, target_name: str, role_arn: object) -> dict:
    """The S3Settings of a task's export endpoint: its target profile's (base.yaml.j2), minus BucketFolder."""
    profile = tree.base.target(target_name)
    assert profile is not None
    return {"BucketName": tree.env.datalake_bucket, "ServiceAccessRoleArn": role_arn,
            "DataFormat": tree.base.data_format,
            "CompressionType": "GZIP" if tree.base.compression == "gzip" else "NONE",
            "CdcMaxBatchInterval": profile.flush_interval_seconds, "CdcMinFileSize": profile.min_file_size_kb,
            "IncludeOpForFullLoad": True, "TimestampColumnName": "_dms_ts"}


def _subscription_id(protocol: str, endpoint: str) -> str:
    """Logical id of one SNS subscription: stable whatever the order of the list (a replaced e-mail
    subscription has to be confirmed again)."""
    return f"Events{protocol.capitalize()}{hashlib.sha256(endpoint.encode()).hexdigest()[:8].upper()}"


def workflow_context(tree: ConfigTree, team: Team, task_entries: list[dict], in_task_stack: bool = False) -> dict:
    """Scheduled tasks and notifications of one stack (templates/_workflows.yaml.j2): export endpoints,
    state machines, schedule rules, their IAM roles, and (team stack only) the events topic with its DMS
    event subscription. In a task stack, failed runs publish to the team stack's topic, imported."""
    prefix, env = tree.base.resource_prefix, tree.env
    exports = base_exports(prefix)
    role_import = {"Fn::ImportValue": exports["role"]}
    notify = team.notifications is not None
    topic = ({"Fn::ImportValue": naming.team_export(prefix, team.name, "topic", "events")} if in_task_stack
             else {"Ref": "EventsTopic"})
    endpoints, machines = [], []
    by_name = {t["model"].name: t for t in task_entries}
    for task in (t["model"] for t in task_entries):
        if task.schedule is None:
            continue
        entry = by_name[task.name]
        subs = {"TaskArn": {"Ref": entry["logical_id"]}}
        if task.is_export:
            endpoint_id = naming.logical_id("ExportEndpoint", task.name)
            settings = export_s3_settings(tree, task.target, role_import)
            endpoints.append({"logical_id": endpoint_id, "model": task, "tags": entry["tags"],
                              "identifier": naming.export_endpoint_id(prefix, team.name, task.name),
                              "s3_settings": {**settings, "BucketFolder": naming.export_root(
                                  tree.base.root_prefix, team.name, task.name)}})
            spec = workflows.WorkflowSpec(
                kind="export", task_id=entry["identifier"], migration_type=task.migration_type, notify=notify,
                bucket=env.datalake_bucket, export_root=naming.export_root(tree.base.root_prefix, team.name, task.name),
                output=task.schedule.output, s3_settings={**settings, "ServiceAccessRoleArn": "${DatalakeRoleArn}"})
            subs.update({"ExportEndpointArn": {"Ref": endpoint_id}, "DatalakeRoleArn": role_import,
                         "InstanceArn": entry["instance_ref"]})
        else:
            spec = workflows.WorkflowSpec(kind="incremental", task_id=entry["identifier"],
                                          migration_type=task.migration_type, notify=notify,
                                          cdc_start_time=task.cdc_start_time,
                                          source_engine=next((src.engine for src in team.sources
                                                              if src.name == task.source), ""))
            subs["StateTable"] = {"Fn::ImportValue": exports["state_table"]}
        if notify:
            subs["TopicArn"] = topic
        definition = workflows.definition(spec)
        used = workflows.placeholders(definition)
        machines.append({
            "logical_id": naming.logical_id("StateMachine", task.name), "model": task, "kind": spec.kind,
            "name": naming.state_machine_name(prefix, team.name, task.name), "task": entry,
            "definition": workflows.definition_json(spec),
            "substitutions": {k: v for k, v in sorted(subs.items()) if k in used},
            "rule_logical_id": naming.logical_id("Schedule", task.name),
            "rule_name": naming.schedule_rule_name(prefix, team.name, task.name),
            "state": "DISABLED" if task.paused else "ENABLED"})
    own_topic = notify and not in_task_stack
    if not machines and not own_topic:
        return {"machines": [], "endpoints": [], "notifications": None}
    return {"machines": machines, "endpoints": endpoints, "permissions_boundary": permissions_boundary(tree),
            "role_policy": _workflow_policy(tree, team, machines, endpoints, topic if notify else None)
            if machines else None,
            "notifications": _notifications(tree, team, task_entries) if own_topic else None}


def _workflow_policy(tree: ConfigTree, team: Team, machines: list[dict], endpoints: list[dict],
                     topic: dict | None) -> list[dict]:
    """Least privilege for the team's state machines: exactly the calls of docs/WORKFLOWS.md's run sequences."""
    prefix, env = tree.base.resource_prefix, tree.env
    exports = base_exports(prefix)
    tasks = [{"Ref": m["task"]["logical_id"]} for m in machines]
    incremental = [m for m in machines if m["kind"] == "incremental"]
    statements: list[dict] = [
        {"Sid": "StartScheduledTasks", "Effect": "Allow", "Action": ["dms:StartReplicationTask"], "Resource": tasks},
        {"Sid": "DescribeTasks", "Effect": "Allow", "Action": ["dms:DescribeReplicationTasks"], "Resource": "*"},
    ]
    if endpoints:
        statements += [
            {"Sid": "PointExportEndpoints", "Effect": "Allow", "Action": ["dms:ModifyEndpoint"],
             "Resource": [{"Ref": e["logical_id"]} for e in endpoints]},
            {"Sid": "PassDatalakeRoleToDms", "Effect": "Allow", "Action": ["iam:PassRole"],
             "Resource": {"Fn::ImportValue": exports["role"]},
             "Condition": {"StringEquals": {"iam:PassedToService": "dms.amazonaws.com"}}},
            {"Sid": "DescribeConnections", "Effect": "Allow", "Action": ["dms:DescribeConnections"], "Resource": "*"},
            {"Sid": "ListExportFolders", "Effect": "Allow", "Action": ["s3:ListBucket"],
             "Resource": f"arn:aws:s3:::{env.datalake_bucket}",
             "Condition": {"StringLike": {"s3:prefix": [
                 f"{naming.export_root(tree.base.root_prefix, team.name, e['model'].name)}/*" for e in endpoints]}}},
        ]
    if incremental:
        keys = sorted(key(m["task"]["identifier"]) for m in incremental
                      for key in (naming.checkpoint_key, naming.metrics_key))
        statements += [
            {"Sid": "IncrementalTableStatistics", "Effect": "Allow", "Action": ["dms:DescribeTableStatistics"],
             "Resource": [{"Ref": m["task"]["logical_id"]} for m in incremental]},
            {"Sid": "CheckpointsAndMetrics", "Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem"],
             "Resource": {"Fn::Sub": ["arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${Table}",
                                      {"Table": {"Fn::ImportValue": exports["state_table"]}}]},
             "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": keys}}},
        ]
    if topic is not None:
        statements.append({"Sid": "PublishRunFailures", "Effect": "Allow", "Action": ["sns:Publish"],
                           "Resource": topic})
    return statements


def _notifications(tree: ConfigTree, team: Team, task_entries: list[dict]) -> dict:
    n = team.notifications
    assert n is not None
    prefix = tree.base.resource_prefix
    identifiers = sorted(t["identifier"] for t in task_entries)
    subscriptions = sorted(([{"logical_id": _subscription_id("email", e), "protocol": "email", "endpoint": e}
                             for e in n.email] +
                            [{"logical_id": _subscription_id("https", u), "protocol": "https", "endpoint": u}
                             for u in n.https]), key=lambda s: s["logical_id"])
    return {"topic_name": naming.events_topic(prefix, team.name), "subscriptions": subscriptions,
            "subscription_name": naming.event_subscription_name(prefix, team.name, identifiers),
            "source_ids": identifiers, "events": list(n.events),
            "depends_on": sorted(t["logical_id"] for t in task_entries) + ["EventsTopicPolicy"]}


def team_context(tree: ConfigTree, team: Team) -> dict:
    prefix = tree.base.resource_prefix
    # `server` and `port` are not deployed (DMS reads them from the secret), but they are the record of which
    # database the source is: tagged on the endpoint, so a plan shows server a -> b from the deployed stack.
    sources = [dict(logical_id=naming.logical_id("Source", s.name), model=s,
                    identifier=naming.source_endpoint_id(prefix, team.name, s.name),
                    settings_key=SETTINGS_KEYS[s.engine],
                    tags=_tags(tree, **{"dmsctl:team": team.name, "dmsctl:server": s.server,
                                        "dmsctl:port": str(s.port)})) for s in team.sources]
    instances = [dict(logical_id=naming.logical_id("Instance", i.name), model=i,
                      identifier=naming.instance_id(prefix, team.name, i.name)) for i in team.instances]
    own = [t for t in team.tasks if not t.stack]
    # Exported only when a task stack imports them, so a team without task stacks exports nothing.
    team_exports = [{"logical_id": "EventsTopic" if kind == "topic" else naming.logical_id(kind.capitalize(), name),
                     "name": naming.team_export(prefix, team.name, kind, name)}
                    for kind, name in sorted(task_stack_imports(team) | set(team.keep_exports))]
    task_entries = _task_entries(tree, team, own, imported=False)
    return {"env": tree.env, "team": team, "sources": sources, "instances": instances,
            "tasks": task_entries, "team_exports": team_exports,
            "workflows": workflow_context(tree, team, task_entries),
            "tags": _tags(tree, **{"dmsctl:team": team.name}), "exports": base_exports(prefix),
            "secret_arns": sorted({_secret_arn(tree, s) for s in team.sources}), "paused_tables": _paused_tables(own),
            "permissions_boundary": permissions_boundary(tree)}


def tasks_context(tree: ConfigTree, team: Team, group: str) -> dict:
    tasks = [t for t in team.tasks if t.stack == group]
    entries = _task_entries(tree, team, tasks, imported=True)
    events = None
    if team.notifications is not None and entries:
        # One subscription per stack (SourceIds can only name tasks that exist when it is created), to the
        # team stack's topic; its name carries a hash of its tasks, so it never collides with the team's.
        identifiers = sorted(t["identifier"] for t in entries)
        events = {"subscription_name": naming.event_subscription_name(tree.base.resource_prefix, team.name,
                                                                      identifiers),
                  "topic_export": naming.team_export(tree.base.resource_prefix, team.name, "topic", "events"),
                  "source_ids": identifiers, "events": list(team.notifications.events),
                  "depends_on": sorted(t["logical_id"] for t in entries)}
    return {"env": tree.env, "team": team, "group": group, "tasks": entries, "events": events,
            "workflows": workflow_context(tree, team, entries, in_task_stack=True),
            "tags": _tags(tree, **{"dmsctl:team": team.name}), "paused_tables": _paused_tables(tasks)}


def template_body(template: dict) -> str:
    """The deployed template text: canonical JSON, byte-identical for identical input."""
    return json.dumps(template, sort_keys=True, indent=1, ensure_ascii=True) + "\n"
