"""Semantic checks over a resolved config tree. Each check has a stable code (docs/CODES.md)."""

from __future__ import annotations

import datetime as dt
import difflib
import json
from collections import defaultdict
from collections.abc import Iterator

from compiler import naming
from compiler.diagnostics import Diagnostic, Position, Severity
from compiler.model import ConfigTree, Team
from compiler.settings import forbidden_overrides, non_finite_values, unknown_setting_paths


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
                                + _did_you_mean(task.source, (s.name for s in team.sources)), task.pos)
        if team.instance(task.instance) is None:
            yield Diagnostic.at("E205", f"{where}: unknown instance '{task.instance}'"
                                + _did_you_mean(task.instance, (i.name for i in team.instances)), task.pos)
        if tree.base.target(task.target) is None:
            yield Diagnostic.at("E205", f"{where}: unknown target '{task.target}' (targets live in base.yaml)"
                                + _did_you_mean(task.target, (t.name for t in tree.base.targets)), task.pos)


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
            try:
                dt.datetime.strptime(table.version[1:], "%Y%m%d%H%M")
            except ValueError:
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
        for path, suggestion in unknown_setting_paths(overrides):
            hint = f"; did you mean '{suggestion}'?" if suggestion else ""
            yield Diagnostic.at("E211", f"task '{task.name}': unknown task setting '{path}'{hint}", task.pos)
        for path, value in non_finite_values(overrides):
            yield Diagnostic.at("E104", f"task '{task.name}': setting {path} is {value}: task settings are "
                                "JSON, which has no NaN or infinity", task.pos)
        for path, value in forbidden_overrides(overrides):
            why = ("it would let DMS delete or rewrite data already in S3 (dmsctl never does)"
                   if path.startswith("FullLoadSettings") else "DMS manages it; it cannot be set")
            yield Diagnostic.at("E213", f"task '{task.name}': setting {path}={json.dumps(value)} is not allowed: "
                                f"{why}", task.pos)


def check_physical_names(tree: ConfigTree) -> Iterator[Diagnostic]:
    """Physical DMS names must be valid identifiers and must not collide across teams."""
    prefix = tree.base.resource_prefix
    owners: dict[tuple[str, str], tuple[str, Position]] = {
        ("endpoint", naming.target_endpoint_id(prefix, t.name).lower()): ("", Position(tree.base.file))
        for t in tree.base.targets}
    for team in tree.teams:
        named = [("task", naming.task_id(prefix, team.name, t.name), naming.MAX_TASK_ID, t.pos) for t in team.tasks]
        named += [("instance", naming.instance_id(prefix, team.name, i.name), naming.MAX_INSTANCE_ID, i.pos)
                  for i in team.instances]
        named += [("endpoint", naming.source_endpoint_id(prefix, team.name, s.name), naming.MAX_ENDPOINT_ID, s.pos)
                  for s in team.sources]
        for kind, physical, limit, pos in named:
            if not naming.is_dms_identifier(physical, limit):
                yield Diagnostic.at("E207", f"{kind} name '{physical}' is not a valid DMS identifier (letters, digits "
                                    f"and single hyphens, at most {limit} characters): shorten the name", pos)
            key = (kind, physical.lower())
            if key in owners and owners[key][0] != team.name:
                other = f"one of team '{owners[key][0]}'" if owners[key][0] else "a target endpoint of base.yaml"
                yield Diagnostic.at("E207", f"{kind} name '{physical}' collides with {other} ({owners[key][1]}): "
                                    "rename one", pos)
            owners.setdefault(key, (team.name, pos))
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


def check_output_paths(tree: ConfigTree) -> Iterator[Diagnostic]:
    """Every (team, source, schema, table, version) output prefix is written by exactly one task.

    Compared case-insensitively: downstream catalogs (Glue, Athena) fold names to lower case.
    """
    writers: dict[str, list[tuple[str, str, Position]]] = defaultdict(list)
    for team in tree.teams:
        for task in team.tasks:
            for table in task.tables:
                prefix = naming.table_prefix(tree.base.root_prefix, team.name, task.source, table.schema,
                                             table.table, table.version)
                writers[prefix.lower()].append((team.name, task.name, table.pos))
    for prefix, users in sorted(writers.items()):
        if len(users) < 2:
            continue
        first_team, first_task, first_pos = users[0]
        for team, task, pos in users[1:]:
            yield Diagnostic.at("E212", f"output path {prefix} is also written by {first_team}/{first_task} "
                                f"({first_pos}): give one of them a new version", pos)
