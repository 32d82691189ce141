"""The compiler's entry point: config tree in, compiled stacks (or diagnostics) out. Pure: no AWS.

    result = compile_tree(Path("configs"), env="staging")
    if result.ok: result.require_tree().stacks  # base first, then one per team

`CompileResult.tree` is None when the config did not get as far as rendering (see its diagnostics);
code that needs the compiled tree takes it with `require_tree()`, which raises `NotCompiled` then.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path
from typing import Any

from dmsctl.compiler import limits, naming
from dmsctl.compiler.acknowledgements import FileAcknowledgement
from dmsctl.compiler.cache import CompileCache
from dmsctl.compiler.checks import check_tree, output_prefix
from dmsctl.compiler.config import RawTree, read_tree, resolve
from dmsctl.compiler.diagnostics import Diagnostic, has_errors, sort_diagnostics
from dmsctl.compiler.lint import Linter
from dmsctl.compiler.model import ConfigTree, Schedule, Team
from dmsctl.compiler.render import (
    RenderError,
    base_context,
    render_template,
    task_groups,
    task_payload,
    tasks_context,
    team_context,
)


@dataclass(frozen=True)
class CompiledTable:
    schema: str
    table: str
    version: str
    paused: bool
    # Key prefix inside the data-lake bucket, trailing slash. For an export task (scheduled full-load) the
    # pattern of every run's prefix, with naming.DATE_PLACEHOLDER ("{date}") where the run's YYYY/MM/DD
    # (output dated) or YYYY/MM/DD/HHMMSS (timestamped) goes.
    s3_prefix: str

    @property
    def name(self) -> str:
        return f"{self.schema}.{self.table}"


@dataclass(frozen=True)
class CompiledTask:
    team: str
    name: str
    identifier: str  # ReplicationTaskIdentifier
    logical_id: str
    migration_type: str
    paused: bool
    source: str
    instance: str
    target: str
    tables: tuple[CompiledTable, ...]
    mappings: str  # TableMappings JSON as deployed
    settings: str  # ReplicationTaskSettings JSON as deployed
    schedule: Schedule | None = None  # docs/WORKFLOWS.md; None: continuous or one-time, started by apply
    cdc_start_time: str | None = None  # scheduled cdc tasks: where the first window starts (ISO-8601 UTC)
    source_engine: str = ""  # the source's engine (postgres sources start CDC differently)
    slot_name: str | None = None  # postgres sources: the replication slot the source endpoint names


@dataclass(frozen=True)
class CompiledResource:
    """A config object behind a template resource, so a plan names it as the config does
    ("instance growth-main", not InstanceGrowthMain). `record`: config values the template does not
    carry, shown for a new resource (a source's server and port: the endpoint connects with the secret)."""

    logical_id: str
    kind: str  # instance | source | target | export endpoint | state machine | schedule
    name: str
    record: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}"


@dataclass(frozen=True)
class CompiledStack:
    name: str
    kind: str  # "base" | "team" | "tasks" (a team's task stack, see Task.stack)
    team: str | None
    body: str  # template as deployed: canonical compact JSON
    tasks: tuple[CompiledTask, ...] = ()
    template_sha256: str = ""  # of the template before the hash output was added; deployed as an output
    resources: tuple[CompiledResource, ...] = ()  # the config names of its non-task resources

    def resource(self, logical_id: str) -> CompiledResource | None:
        return next((r for r in self.resources if r.logical_id == logical_id), None)

    @cached_property
    def template(self) -> dict:
        """The body parsed, once per stack (a plan asks for it about 7 times). Shared: read it, never
        change it (work on a copy). A frozen dataclass without slots keeps the parse in its __dict__."""
        return json.loads(self.body)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body.encode()).hexdigest()

    def pretty(self) -> str:
        return json.dumps(self.template, sort_keys=True, indent=2) + "\n"

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (the compile cache) without the parsed template: it is the body, parsed on first use."""
        state = dict(self.__dict__)
        state.pop("template", None)
        return state


@dataclass(frozen=True)
class CompiledTree:
    env: str
    account_id: str
    region: str
    resource_prefix: str
    datalake_bucket: str
    artifacts_bucket: str
    stacks: tuple[CompiledStack, ...]  # base first, then per team (by name): its team stack, its task stacks
    all_teams: tuple[str, ...] = ()

    @property
    def base(self) -> CompiledStack:
        return self.stacks[0]

    @property
    def team_stacks(self) -> tuple[CompiledStack, ...]:
        return self.stacks[1:]

    def tasks(self) -> tuple[CompiledTask, ...]:
        return tuple(t for s in self.stacks for t in s.tasks)


class NotCompiled(ValueError):
    """A compile result without a compiled tree was used as compiled: report its diagnostics instead."""


@dataclass(frozen=True)
class CompileResult:
    diagnostics: tuple[Diagnostic, ...]
    tree: CompiledTree | None = None  # None: errors stopped the compile before rendering (see diagnostics)
    stats: tuple[limits.StackStats, ...] = field(default=())
    config: ConfigTree | None = field(default=None, compare=False, repr=False)
    # configs/acknowledgements.yaml's entries for this environment (deployer/acknowledgements.py applies them)
    acknowledgements: tuple[FileAcknowledgement, ...] = ()

    @property
    def ok(self) -> bool:
        return self.tree is not None and not has_errors(self.diagnostics)

    def require_tree(self) -> CompiledTree:
        """The compiled tree; NotCompiled when there is none (`ok` is then False)."""
        if self.tree is None:
            raise NotCompiled(f"the config did not compile ({_error_count(self.diagnostics)}): report the "
                              "compile diagnostics instead")
        return self.tree

    def require_config(self) -> ConfigTree:
        """The resolved config the tree was compiled from; NotCompiled when there is none."""
        if self.config is None:
            raise NotCompiled(f"the config did not resolve ({_error_count(self.diagnostics)}): report the "
                              "compile diagnostics instead")
        return self.config


def _error_count(diagnostics: tuple[Diagnostic, ...]) -> str:
    errors = sum(1 for d in diagnostics if d.is_error)
    return f"{errors} error" + ("" if errors == 1 else "s")


def _compiled_tasks(config: ConfigTree, team: Team, payloads: dict | None = None,
                    group: str | None = None) -> tuple[CompiledTask, ...]:
    """The tasks of one stack: the team stack (`group` None) or one task stack. `payloads`: task name ->
    (mappings, settings) when the template's context already built them."""
    prefix, root = config.base.resource_prefix, config.base.root_prefix
    sources = {s.name: s for s in team.sources}
    out = []
    for task in team.tasks:
        if task.stack != group:
            continue
        mappings, settings = payloads[task.name] if payloads else task_payload(team, task)
        tables = tuple(CompiledTable(t.schema, t.table, t.version, t.paused, output_prefix(root, team.name, task, t))
                       for t in sorted(task.tables, key=lambda t: t.key))
        out.append(CompiledTask(team=team.name, name=task.name, identifier=naming.task_id(prefix, team.name, task.name),
                                logical_id=naming.logical_id("Task", task.name), migration_type=task.migration_type,
                                paused=task.paused, source=task.source, instance=task.instance, target=task.target,
                                tables=tables, mappings=mappings, settings=settings, schedule=task.schedule,
                                cdc_start_time=task.cdc_start_time, source_engine=sources[task.source].engine
                                if task.source in sources else "", slot_name=sources[task.source].slot_name
                                if task.source in sources else None))
    return tuple(out)


HASH_OUTPUT = "DmsctlTemplateSha256"


def _body(template: object) -> str:
    return json.dumps(template, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _with_hash_output(template: dict) -> tuple[str, str]:
    """(body, sha): the body with an output carrying the template's own hash (of the body without it), so
    a planner can tell from DescribeStacks alone whether a deployed stack still has this exact template
    (no GetTemplate needed). Each top-level section is encoded once: canonical compact JSON of a mapping
    is its sorted `"key":value` pairs joined by commas, so only Outputs is encoded twice."""
    parts = {key: _body(value) for key, value in template.items()}
    sha = hashlib.sha256(_join(parts).encode()).hexdigest()
    outputs = dict(template.get("Outputs") or {})
    outputs[HASH_OUTPUT] = {
        "Description": "sha256 of this template without this output (written by dmsctl compile)", "Value": sha}
    template["Outputs"] = outputs
    parts["Outputs"] = _body(outputs)
    return _join(parts), sha


def _join(parts: dict[str, str]) -> str:
    return "{" + ",".join(f"{_body(key)}:{parts[key]}" for key in sorted(parts)) + "}"


def _config_names(ctx: dict[str, Any]) -> tuple[CompiledResource, ...]:
    """Logical id -> config object of a stack's resources, from the context its template was rendered with."""
    out = [CompiledResource(t["logical_id"], "target", t["name"]) for t in ctx.get("targets", ())]
    out += [CompiledResource(s["logical_id"], "source", s["model"].name,
                             (("server", s["model"].server), ("port", str(s["model"].port))))
            for s in ctx.get("sources", ())]
    out += [CompiledResource(i["logical_id"], "instance", i["model"].name) for i in ctx.get("instances", ())]
    flows = ctx.get("workflows") or {}
    out += [CompiledResource(e["logical_id"], "export endpoint", e["model"].name) for e in flows.get("endpoints", ())]
    for m in flows.get("machines", ()):
        out += [CompiledResource(m["logical_id"], "state machine", m["model"].name),
                CompiledResource(m["rule_logical_id"], "schedule", m["model"].name)]
    return tuple(sorted(out, key=lambda r: r.logical_id))


Job = tuple[str, str, "Team | None", str, Callable[[], dict[str, Any]]]  # name, kind, team, template, context


def _render(config: ConfigTree, jobs: list[Job]) -> tuple[list[CompiledStack], list[Diagnostic]]:
    diags: list[Diagnostic] = []
    stacks: list[CompiledStack] = []
    for name, kind, owner, template_name, context in jobs:
        try:
            ctx = context()
            template = render_template(template_name, ctx)
        except RenderError as exc:
            diags.append(Diagnostic("E301", f"stack {name}: {exc.message}", file=f"templates/{exc.template}",
                                    line=exc.line))
            continue
        payloads = {t["model"].name: (t["mappings"], t["settings"]) for t in ctx.get("tasks", ())}
        tasks = _compiled_tasks(config, owner, payloads, ctx.get("group")) if owner is not None else ()
        body, sha = _with_hash_output(template)
        stacks.append(CompiledStack(name=name, kind=kind, team=owner.name if owner else None, body=body,
                                    tasks=tasks, template_sha256=sha, resources=_config_names(ctx)))
    return stacks, diags


def render_stacks(config: ConfigTree, cache: CompileCache | None = None,
                  keys: dict[str, str] | None = None) -> tuple[list[CompiledStack], list[Diagnostic],
                                                              list[limits.StackStats]]:
    """Every stack (base first, then per team its team stack and task stacks), its size statistics.
    `keys`: team -> its compile-cache key (compile_tree makes them from the files: a config changed in
    memory, as the planner's intermediate steps are, has none and is always rendered)."""
    prefix = config.base.resource_prefix
    stacks, diags = _render(config, [(naming.base_stack(prefix), "base", None, "base.yaml.j2",
                                      partial(base_context, config))])
    stats = [limits.stack_stats(s) for s in stacks]
    for team in config.teams:
        key = (keys or {}).get(team.name) if cache is not None else None
        hit = cache.get("stacks", key) if cache is not None and key else None
        if hit is not None:
            team_stacks, team_stats = hit
        else:
            jobs: list[Job] = [(naming.team_stack(prefix, team.name), "team", team, "team.yaml.j2",
                                partial(team_context, config, team))]
            jobs += [(naming.task_stack(prefix, team.name, group), "tasks", team, "tasks.yaml.j2",
                      partial(tasks_context, config, team, group)) for group in task_groups(team)]
            team_stacks, team_diags = _render(config, jobs)
            team_stats = [limits.stack_stats(s) for s in team_stacks]
            diags += team_diags
            if cache is not None and key and not team_diags:
                cache.put("stacks", key, (team_stacks, team_stats))
        stacks += team_stacks
        stats += team_stats
    return stacks, diags, stats


def compile_config(config: ConfigTree, linter: Linter | None = None, cache: CompileCache | None = None,
                   keys: dict[str, str] | None = None) -> CompileResult:
    diags = check_tree(config)
    if has_errors(diags):
        return CompileResult(diagnostics=tuple(sort_diagnostics(diags)))
    stacks, render_diags, stack_stats = render_stacks(config, cache, keys)
    diags += render_diags
    stats = tuple(stack_stats)
    for s in stats:
        diags += limits.check(s)
    if linter is not None:
        diags += linter.lint_all([(stack.name, stack.body) for stack in stacks], config.env.region)
    env = config.env
    tree = CompiledTree(env=env.name, account_id=env.account_id, region=env.region,
                        resource_prefix=config.base.resource_prefix, datalake_bucket=env.datalake_bucket,
                        artifacts_bucket=env.artifacts_bucket, stacks=tuple(stacks), all_teams=config.all_teams)
    return CompileResult(diagnostics=tuple(sort_diagnostics(diags)), tree=tree, stats=stats, config=config)


def compile_tree(config_dir: Path, env: str | None = None, linter: Linter | None = None,
                 raw: RawTree | None = None, cache: CompileCache | None = None) -> CompileResult:
    """Read, validate and compile `config_dir` for `env` (default: base.yaml's default_environment).
    With a `cache` (compiler/cache.py), unchanged files are not parsed again and unchanged teams not
    rendered again; the result is the same (tests/compiler/test_compile_cache.py)."""
    raw = raw or read_tree(Path(config_dir), cache)
    diags = list(raw.diagnostics)
    env = env or raw.default_environment()
    if env is None:
        return CompileResult(diagnostics=tuple(sort_diagnostics(diags)))
    config, resolve_diags = resolve(raw, env)
    diags += resolve_diags
    if config is None:
        return CompileResult(diagnostics=tuple(sort_diagnostics(diags)))
    if has_errors(diags):
        # Still check the files that did parse, so one run reports every error of the tree.
        return CompileResult(diagnostics=tuple(sort_diagnostics(diags + check_tree(config))))
    keys = _stack_keys(raw, env, cache) if cache is not None else None
    result = compile_config(config, linter, cache, keys)
    if cache is not None:
        cache.prune()
    return CompileResult(diagnostics=tuple(sort_diagnostics(diags + list(result.diagnostics))), tree=result.tree,
                         stats=result.stats, config=config,
                         acknowledgements=tuple(a for a in raw.acknowledgements if a.env == env))


def _stack_keys(raw: RawTree, env: str, cache: CompileCache) -> dict[str, str]:
    """team -> the cache key of its rendered stacks: the environment, the base file and the team file
    (a team's stacks are a function of those: config.resolve_team, render.team_context)."""
    base = raw.base
    if base is None or not base.sha256:
        return {}
    return {doc.mapping()["team"]: cache.key("stacks", env, base.path, base.sha256, doc.path, doc.sha256)
            for doc in raw.teams if doc.sha256}


def validate_all(config_dir: Path, linter: Linter | None = None, cache: CompileCache | None = None) -> list[Diagnostic]:
    """Every diagnostic for every environment of the tree, deduplicated."""
    raw = read_tree(Path(config_dir), cache)
    envs = raw.environments or (None,)
    found: list[Diagnostic] = list(raw.diagnostics)
    for env in envs:
        if env is None:
            break
        found += compile_tree(config_dir, env, linter, raw=raw, cache=cache).diagnostics
    return sort_diagnostics(found)
