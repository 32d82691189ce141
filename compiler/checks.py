"""Semantic checks over a resolved config tree. Each check has a stable code (docs/CODES.md)."""

from __future__ import annotations

import datetime as dt
import difflib
import json
from collections import defaultdict
from collections.abc import Iterator
from functools import lru_cache

from dmsctl.compiler import naming, schedules
from dmsctl.compiler.diagnostics import Diagnostic, Position, Severity
from dmsctl.compiler.model import ConfigTree, Table, Task, Team
from dmsctl.compiler.settings import forbidden_overrides, non_finite_values
from dmsctl.compiler.workflows import POSTGRES_ENGINES


def _did_you_mean(name: str, options) -> str:
    options = sorted(options)
    close = difflib.get_close_matches(name, options, n=1)
    if close:
        return f"; did you mean '{close[0]}'?"
    return f" (defined: {', '.join(options)})" if options else " (none defined)"


def check_tree(tree: ConfigTree) -> list[Diagnostic]:
    diags: list[Diagnostic] = []
    for team in tree.teams:
        diags.extend(check_team_file_name(team))
        diags.extend(check_references(tree, team))
        diags.extend(check_tables(team))
        diags.extend(check_unused(team))
        diags.extend(check_settings(team))
        diags.extend(check_schedules(team))
        diags.extend(check_notifications(team))
    diags.extend(check_physical_names(tree))
    diags.extend(check_output_paths(tree))
    return diags


def check_team_file_name(team: Team) -> Iterator[Diagnostic]:
    stem = team.file.replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
    if stem != team.name:
        yield Diagnostic.at("E201", f"team '{team.name}' must live in teams/{team.name}.yaml (file is {stem}.yaml)",
                            team.pos)


def check_references(tree: ConfigTree, team: Team) -> Iterator[Diagnostic]:
    for task in team.tasks:
        where = f"task '{task.name}'"
        if team.source(task.source) is None:
            yield Diagnostic.at("E205", f"{where}: unknown source '{task.source}'"
                                + _did_you_mean(task.source, (s.name for s in team.sources)), task.source_pos)
        if team.instance(task.instance) is None:
            yield Diagnostic.at("E205", f"{where}: unknown instance '{task.instance}'"
                                + _did_you_mean(task.instance, (i.name for i in team.instances)), task.instance_pos)
        if tree.base.target(task.target) is None:
            yield Diagnostic.at("E205", f"{where}: unknown target '{task.target}' (targets live in base.yaml)"
                                + _did_you_mean(task.target, (t.name for t in tree.base.targets)), task.target_pos)


@lru_cache(maxsize=65536)
def _real_version(digits: str) -> bool:
    """Whether vYYYYMMDDHHMM's digits are a real date and time (strptime's answer, once per distinct value:
    a tree repeats a few thousand versions over its tables)."""
    try:
        dt.datetime.strptime(digits, "%Y%m%d%H%M")
    except ValueError:
        return False
    return True


def check_tables(team: Team) -> Iterator[Diagnostic]:
    for task in team.tasks:
        seen: dict[tuple[str, str], Position] = {}
        for table in task.tables:
            key = (table.schema.lower(), table.table.lower())
            if key in seen:
                yield Diagnostic.at("E206", f"task '{task.name}': table {table.name} is listed twice (first at line "
                                    f"{seen[key].line}); to reload it while the old version keeps running, put "
                                    "the new version in a second task", table.pos)
            else:
                seen[key] = table.pos
            if not _real_version(table.version[1:]):
                yield Diagnostic.at("E208", f"table {table.name}: version '{table.version}' is not a real "
                                    "date and time (vYYYYMMDDHHMM)", table.pos)
        if not task.active_tables:
            yield Diagnostic.at("E209", f"task '{task.name}' has no active table (every table is paused); DMS "
                                "needs at least one: pause the task instead, or remove it", task.pos)


def check_unused(team: Team) -> Iterator[Diagnostic]:
    used_sources = {t.source for t in team.tasks}
    used_instances = {t.instance for t in team.tasks}
    for s in team.sources:
        if s.name not in used_sources:
            yield Diagnostic.at("W210", f"source '{s.name}' is not used by any task", s.pos, Severity.WARNING)
    for i in team.instances:
        if i.name not in used_instances:
            yield Diagnostic.at("W210", f"instance '{i.name}' is not used by any task (it still costs money)",
                                i.pos, Severity.WARNING)


def check_settings(team: Team) -> Iterator[Diagnostic]:
    for task in team.tasks:
        overrides = json.loads(task.settings_overrides)
        for path, number in non_finite_values(overrides):
            yield Diagnostic.at("E104", f"task '{task.name}': setting {path} is {number}: task settings are "
                                "JSON, which has no NaN or infinity", task.pos)
        for path, value in forbidden_overrides(overrides):
            why = ("it would let DMS delete or rewrite data already in S3 (dmsctl never does)"
                   if path.startswith(("FullLoadSettings", "ChangeProcessingDdlHandlingPolicy"))
                   else "DMS manages it; it cannot be set")
            yield Diagnostic.at("E213", f"task '{task.name}': setting {path}={json.dumps(value)} is not allowed: "
                                f"{why}", task.pos)


def check_schedules(team: Team) -> Iterator[Diagnostic]:
    """`schedule` and `cdc_start_time` (docs/CONFIG.md "Schedules and notifications")."""
    for task in team.tasks:
        where = f"task '{task.name}'"
        sched = task.schedule
        source = team.source(task.source)
        postgres = source is not None and source.engine in POSTGRES_ENGINES
        if sched is not None:
            try:
                per_day = schedules.runs_per_day(sched.expression)
            except schedules.ExpressionError as exc:
                per_day = None
                yield Diagnostic.at("E214", f"{where}: schedule expression '{sched.expression}' is not valid: {exc}",
                                    task.expression_pos)
            if task.migration_type == "full-load" and sched.output is None:
                yield Diagnostic.at("E215", f"{where}: a scheduled full-load task exports into a new folder every run: "
                                    "say which with `output: dated` (YYYY/MM/DD) or `output: timestamped` "
                                    "(YYYY/MM/DD/HHMMSS)", task.schedule_pos)
            if task.migration_type != "full-load" and sched.output is not None:
                yield Diagnostic.at("E215", f"{where}: `output` is for scheduled full-load (export) tasks; a "
                                    f"scheduled {task.migration_type} task writes each window to its tables' "
                                    "versioned paths: remove `output`", task.output_pos)
            if sched.output == "dated" and task.migration_type == "full-load" and per_day is not None \
                    and per_day > 1:
                yield Diagnostic.at("E218", f"{where}: schedule '{sched.expression}' can run more than once a day, "
                                    "and two runs of one day would export into the same dated folder (the second "
                                    "is refused): use `output: timestamped`, or a schedule that runs at most "
                                    "daily", task.output_pos)
            if task.migration_type == "cdc" and postgres and source is not None and not source.slot_name:
                yield Diagnostic.at("W222", f"{where}: source '{source.name}' ({source.engine}) has no `slot_name`: "
                                    "the first window starts when the task first runs and DMS creates a "
                                    "replication slot of its own, which outlives the task and holds WAL at the "
                                    "source until someone drops it. Create a logical replication slot and name it "
                                    "with `slot_name`", task.schedule_pos, Severity.WARNING)
            if task.migration_type == "cdc" and task.cdc_start_time is None and not postgres:
                yield Diagnostic.at("E217", f"{where}: a scheduled cdc task needs `cdc_start_time` (ISO-8601 UTC, "
                                    "e.g. \"2026-11-01T00:00:00Z\"): where its first window starts. Without it the "
                                    "first run would start from the time it runs and silently skip the changes "
                                    "before", task.schedule_pos)
        if task.cdc_start_time is not None:
            if task.migration_type != "cdc":
                yield Diagnostic.at("E216", f"{where}: `cdc_start_time` is for scheduled cdc tasks only (a "
                                    f"{task.migration_type} task starts with its full load): remove it",
                                    task.cdc_start_time_pos)
            elif sched is None:
                yield Diagnostic.at("E216", f"{where}: `cdc_start_time` is for scheduled cdc tasks only: a "
                                    "continuous cdc task starts capturing when apply starts it. Add a `schedule` "
                                    "or remove `cdc_start_time`", task.cdc_start_time_pos)
            elif postgres and source is not None:
                yield Diagnostic.at("E219", f"{where}: source '{source.name}' is {source.engine}, and PostgreSQL as "
                                    "a source doesn't support a custom CDC start time: remove `cdc_start_time`. "
                                    "The first window starts where the task first runs (from the replication slot "
                                    "`slot_name` names), later windows from the task's checkpoint",
                                    task.cdc_start_time_pos)
            try:
                dt.datetime.strptime(task.cdc_start_time, "%Y-%m-%dT%H:%M:%SZ")
            except ValueError:
                yield Diagnostic.at("E216", f"{where}: cdc_start_time '{task.cdc_start_time}' is not a real date and "
                                    "time (YYYY-MM-DDTHH:MM:SSZ, UTC)", task.cdc_start_time_pos)


def check_notifications(team: Team) -> Iterator[Diagnostic]:
    n = team.notifications
    if n is None:
        return
    if not n.email and not n.https:
        yield Diagnostic.at("W220", "notifications has no `email` or `https` subscriber: the team's events go to a "
                            "topic nobody receives", n.pos, Severity.WARNING)


def check_physical_names(tree: ConfigTree) -> Iterator[Diagnostic]:
    """Physical DMS names must be valid identifiers and must not collide (across teams, or between a
    team's source endpoints and its export endpoints)."""
    prefix = tree.base.resource_prefix
    owners: dict[tuple[str, str], tuple[str, Position, str]] = {
        ("endpoint", naming.target_endpoint_id(prefix, t.name).lower()): ("", Position(tree.base.file), "")
        for t in tree.base.targets}
    for team in tree.teams:
        named = [("task", naming.task_id(prefix, team.name, t.name), naming.MAX_TASK_ID, t.pos) for t in team.tasks]
        named += [("instance", naming.instance_id(prefix, team.name, i.name), naming.MAX_INSTANCE_ID, i.pos)
                  for i in team.instances]
        named += [("endpoint", naming.source_endpoint_id(prefix, team.name, s.name), naming.MAX_ENDPOINT_ID, s.pos)
                  for s in team.sources]
        named += [("endpoint", naming.export_endpoint_id(prefix, team.name, t.name), naming.MAX_ENDPOINT_ID,
                   t.schedule_pos) for t in team.tasks if t.is_export]
        for kind, physical, limit, pos in named:
            if not naming.is_dms_identifier(physical, limit):
                yield Diagnostic.at("E207", f"{kind} name '{physical}' is not a valid DMS identifier (letters, digits "
                                    f"and single hyphens, at most {limit} characters): shorten the name", pos)
            key = (kind, physical.lower())
            if key in owners and (owners[key][0] != team.name or owners[key][2] != str(pos)):
                if owners[key][0] == team.name:
                    other = f"another {kind} of this file"
                else:
                    other = f"one of team '{owners[key][0]}'" if owners[key][0] else "a target endpoint of base.yaml"
                yield Diagnostic.at("E207", f"{kind} name '{physical}' collides with {other} ({owners[key][1]}): "
                                    "rename one", pos)
            owners.setdefault(key, (team.name, pos, str(pos)))
        logical: dict[str, str] = {}
        for kind, items in (("Task", team.tasks), ("Instance", team.instances), ("Source", team.sources)):
            for item in items:
                lid = naming.logical_id(kind, item.name)
                if lid in logical:
                    yield Diagnostic.at("E207", f"{kind.lower()} names '{logical[lid]}' and '{item.name}' map to the "
                                        f"same CloudFormation id {lid}: rename one", item.pos)
                logical[lid] = item.name
        stack = naming.team_stack(prefix, team.name)
        if len(stack) > naming.MAX_STACK_NAME:
            yield Diagnostic.at("E207", f"stack name '{stack}' is longer than {naming.MAX_STACK_NAME}", team.pos)
        for task in team.tasks:
            group = naming.task_stack(prefix, team.name, task.stack) if task.stack else None
            if group and len(group) > naming.MAX_STACK_NAME:
                yield Diagnostic.at("E207", f"task '{task.name}': stack name '{group}' is longer than "
                                    f"{naming.MAX_STACK_NAME}: choose a shorter `stack`", task.pos)
            if task.schedule is None:
                continue
            for what, name, limit in (
                    ("state machine", naming.state_machine_name(prefix, team.name, task.name),
                     naming.MAX_STATE_MACHINE_NAME),
                    ("schedule rule", naming.schedule_rule_name(prefix, team.name, task.name), naming.MAX_RULE_NAME)):
                if len(name) > limit:
                    yield Diagnostic.at("E207", f"task '{task.name}': {what} name '{name}' is longer than {limit} "
                                        "characters: shorten the task name", task.schedule_pos)


def output_prefix(root_prefix: str, team: str, task: Task, table: Table) -> str:
    """Where `table` of `task` is written: its versioned prefix, or for an export task the pattern of its
    dated export folders (naming.DATE_PLACEHOLDER where the run's date goes)."""
    if task.is_export:
        return naming.export_table_prefix(root_prefix, team, task.name, task.source, table.schema, table.table,
                                          table.version)
    return naming.table_prefix(root_prefix, team, task.source, table.schema, table.table, table.version)


def check_output_paths(tree: ConfigTree) -> Iterator[Diagnostic]:
    """Every (team, source, schema, table, version) output prefix is written by exactly one task.

    Compared case-insensitively: downstream catalogs (Glue, Athena) fold names to lower case. Export
    tasks write under <root>/<team>/export/<task>/<date>/, a namespace of their own: they never collide
    with a versioned prefix, nor with another task's exports.
    """
    writers: dict[str, list[tuple[str, str, Position]]] = defaultdict(list)
    for team in tree.teams:
        for task in team.tasks:
            for table in task.tables:
                prefix = output_prefix(tree.base.root_prefix, team.name, task, table)
                writers[prefix.lower()].append((team.name, task.name, table.pos))
    for prefix, users in sorted(writers.items()):
        if len(users) < 2:
            continue
        first_team, first_task, first_pos = users[0]
        for _team, _task, pos in users[1:]:
            yield Diagnostic.at("E212", f"output path {prefix} is also written by {first_team}/{first_task} "
                                f"({first_pos}): give one of them a new version", pos)
