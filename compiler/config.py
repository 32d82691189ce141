"""Read configs/ (base.yaml + teams/*.yaml), validate the schema, resolve one environment.

Returns the model plus every diagnostic found; never raises for bad input. Semantic checks that
need the whole tree live in dmsctl.compiler.checks.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from dmsctl.compiler import acknowledgements
from dmsctl.compiler.acknowledgements import FileAcknowledgement
from dmsctl.compiler.cache import CompileCache
from dmsctl.compiler.diagnostics import Diagnostic, Severity, has_errors
from dmsctl.compiler.model import (
    BaseConfig,
    ConfigTree,
    Environment,
    Instance,
    Notifications,
    Schedule,
    Source,
    Table,
    Target,
    Task,
    Team,
)
from dmsctl.compiler.schema_check import check_schema
from dmsctl.compiler.yamlsource import SourceDoc, YamlError, load_yaml_file

DEFAULT_PORTS = {"mysql": 3306, "mariadb": 3306, "aurora": 3306, "postgres": 5432,
                 "aurora-postgresql": 5432, "sqlserver": 1433, "oracle": 1521}
NEEDS_DATABASE = {"postgres", "aurora-postgresql", "sqlserver", "oracle"}
DEFAULT_EVENTS = ("failure", "state change")  # docs/CONFIG.md "Schedules and notifications"


@dataclass(frozen=True)
class RawTree:
    """The parsed (not yet resolved) files of a config tree."""

    base: SourceDoc | None
    teams: tuple[SourceDoc, ...]
    diagnostics: tuple[Diagnostic, ...]
    acknowledgements: tuple[FileAcknowledgement, ...] = ()  # configs/acknowledgements.yaml, every environment

    @property
    def environments(self) -> tuple[str, ...]:
        if self.base is None or not isinstance(self.base.data, dict):
            return ()
        envs = self.base.data.get("environments")
        return tuple(sorted(envs)) if isinstance(envs, dict) else ()

    def default_environment(self) -> str | None:
        if self.base is None or not isinstance(self.base.data, dict):
            return None
        return self.base.data.get("default_environment") or (self.environments or (None,))[0]


def display_path(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def read_tree(config_dir: Path, cache: CompileCache | None = None) -> RawTree:
    """Parse and schema-check every file. Files with schema errors are kept out of `teams`. With a
    `cache`, a file whose bytes were parsed before is not parsed nor schema-checked again."""
    diags: list[Diagnostic] = []
    base_file = config_dir / "base.yaml"
    base: SourceDoc | None = None
    if not base_file.is_file():
        diags.append(Diagnostic("E106", f"no base.yaml in {display_path(config_dir)}", display_path(base_file)))
    else:
        base = _parse(base_file, "base", diags, cache)
    teams_dir = config_dir / "teams"
    team_files = sorted(teams_dir.glob("*.yaml")) + sorted(teams_dir.glob("*.yml")) if teams_dir.is_dir() else []
    if not team_files:
        diags.append(Diagnostic("W106", "no team files (teams/<team>.yaml): only the base stack is compiled",
                                display_path(teams_dir), severity=Severity.WARNING))
    teams = []
    for f in team_files:
        doc = _parse(f, "team", diags, cache)
        if doc is not None:
            teams.append(doc)
    ack_file = config_dir / acknowledgements.FILE
    acks = _acknowledgements(ack_file, base, diags) if ack_file.is_file() else ()
    return RawTree(base=base, teams=_one_file_per_team(teams, diags), diagnostics=tuple(diags), acknowledgements=acks)


def _acknowledgements(file: Path, base: SourceDoc | None, diags: list[Diagnostic]) -> tuple[FileAcknowledgement, ...]:
    """configs/acknowledgements.yaml's entries; every error of the file reported, schema and environments."""
    try:
        doc = load_yaml_file(file, display_path(file))
    except YamlError as exc:
        diags.extend(exc.diagnostics)
        return ()
    found = check_schema(doc, "acknowledgements")
    envs = base.data.get("environments") if base is not None and isinstance(base.data, dict) else None
    acks, more = acknowledgements.entries(doc, tuple(sorted(envs)) if isinstance(envs, dict) else (),
                                          valid=not has_errors(found))
    diags += found + more
    return acks


def _stem(doc: SourceDoc) -> str:
    return doc.path.replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0]


def _one_file_per_team(docs: list[SourceDoc], diags: list[Diagnostic]) -> tuple[SourceDoc, ...]:
    """Keep one file per `team:` (the one named after the team, else the first); each other file of that
    team is one E221 and is left out, so its copies of the team's names do not collide a second time."""
    by_team: dict[str, list[SourceDoc]] = {}
    for doc in docs:
        by_team.setdefault(doc.mapping()["team"], []).append(doc)
    kept = []
    for team, files in by_team.items():
        keep = next((d for d in files if _stem(d) == team), files[0])
        kept.append(keep)
        for other in (d for d in files if d is not keep):
            diags.append(Diagnostic.at("E221", f"team '{team}' is also defined in {keep.path}: a team has exactly "
                                       f"one file, teams/{team}.yaml; merge this file into it or delete it",
                                       other.pos(("team",))))
    kept_ids = {id(d) for d in kept}
    return tuple(d for d in docs if id(d) in kept_ids)


def _parse(file: Path, kind: str, diags: list[Diagnostic], cache: CompileCache | None = None) -> SourceDoc | None:
    shown = display_path(file)
    if cache is None:
        doc, found = _parse_uncached(file, kind, shown)
    else:
        try:
            data = file.read_bytes()
        except OSError:
            data = None  # _parse_uncached words the error
        key = cache.key("parse", kind, shown, data) if data is not None else ""
        hit = cache.get("parse", key) if key else None
        if hit is None:
            doc, found = _parse_uncached(file, kind, shown, data)
            if key:
                cache.put("parse", key, (doc, found))
        else:
            doc, found = hit
    diags.extend(found)
    return None if doc is None or has_errors(found) else doc


def _parse_uncached(file: Path, kind: str, shown: str,
                    data: bytes | None = None) -> tuple[SourceDoc | None, list[Diagnostic]]:
    """(the file parsed, or None when it is not YAML; its findings: YAML errors or schema findings)."""
    try:
        doc = load_yaml_file(file, shown, data)
    except YamlError as exc:
        return None, list(exc.diagnostics)
    return doc, check_schema(doc, kind)


class _Resolver:
    """Turns per-environment values into plain values for one environment, collecting errors."""

    def __init__(self, doc: SourceDoc, env: str, known_envs: tuple[str, ...], diags: list[Diagnostic]):
        self.doc, self.env, self.known_envs, self.diags = doc, env, known_envs, diags

    def value(self, obj: dict, key: str, path: tuple, default=None):
        if key not in obj:
            return default
        raw = obj[key]
        if not isinstance(raw, dict):
            return raw
        for env_name in raw:
            if env_name not in self.known_envs:
                self.diags.append(Diagnostic.at(
                    "E202", f"'{env_name}' is not an environment in base.yaml (known: {', '.join(self.known_envs)})",
                    self.doc.key_pos(path + (key, env_name))))
        if self.env not in raw:
            self.diags.append(Diagnostic.at(
                "E203", f"{'.'.join(map(str, path + (key,)))} has no value for environment '{self.env}'",
                self.doc.pos(path + (key,))))
            return default
        return raw[self.env]


def resolve_base(doc: SourceDoc, env: str) -> BaseConfig:
    d = doc.mapping()
    e = d["environments"][env]
    net = e["network"]
    environment = Environment(
        name=env, account_id=e["account_id"], region=e["region"], datalake_bucket=e["datalake_bucket"],
        artifacts_bucket=e.get("artifacts_bucket", e["datalake_bucket"]), vpc_id=net["vpc_id"],
        subnet_ids=tuple(net["subnet_ids"]), egress_cidrs=tuple(net.get("egress_cidrs", ["0.0.0.0/0"])),
        tags=tuple(sorted(e.get("tags", {}).items())))
    lake = d["datalake"]
    targets = tuple(Target(name=n, flush_interval_seconds=t["flush_interval_seconds"],
                           min_file_size_kb=t.get("min_file_size_kb", 32000), description=t.get("description", ""))
                    for n, t in sorted(d["targets"].items()))
    envs = tuple(sorted(d["environments"]))
    return BaseConfig(
        resource_prefix=d.get("resource_prefix", "dmsctl"), platform_owners=tuple(d["platform_owners"]),
        default_environment=d.get("default_environment", envs[0]), environments=envs, env=environment,
        root_prefix=lake["root_prefix"], data_format=lake.get("data_format", "parquet"),
        compression=lake.get("compression", "gzip"), targets=targets, file=doc.path,
        github_repository=d.get("github", {}).get("repository"))


def resolve_team(doc: SourceDoc, env: str, known_envs: tuple[str, ...], diags: list[Diagnostic]) -> Team:
    d = doc.mapping()
    r = _Resolver(doc, env, known_envs, diags)
    sources = []
    for name, s in sorted(d["sources"].items()):
        p = ("sources", name)
        port = r.value(s, "port", p) or DEFAULT_PORTS[s["engine"]]
        database = r.value(s, "database", p)
        if s["engine"] in NEEDS_DATABASE and database is None:
            diags.append(Diagnostic.at("E105", f"sources.{name}: engine {s['engine']} needs 'database'",
                                       doc.pos(p)))
        sources.append(Source(name=name, engine=s["engine"], server=r.value(s, "server", p, ""), port=port,
                              database=database, secret_id=r.value(s, "secret_id", p, ""),
                              ssl_mode=s.get("ssl_mode", "require"), slot_name=r.value(s, "slot_name", p),
                              pos=doc.key_pos(p)))
    instances = []
    for name, i in sorted(d["instances"].items()):
        p = ("instances", name)
        instances.append(Instance(name=name, instance_class=r.value(i, "class", p, ""),
                                  storage_gb=r.value(i, "storage_gb", p, 0),
                                  multi_az=bool(r.value(i, "multi_az", p, False)),
                                  engine_version=i.get("engine_version"), pos=doc.key_pos(p)))
    tasks = []
    for name, t in d["tasks"].items():
        p = ("tasks", name)
        tables = tuple(Table(schema=tb["schema"], table=tb["table"], version=tb["version"],
                             paused=tb.get("paused", False), pos=doc.pos(p + ("tables", i)))
                       for i, tb in enumerate(t["tables"]))
        sched = t.get("schedule")
        schedule = Schedule(expression=sched["expression"], output=sched.get("output")) if sched else None
        tasks.append(Task(name=name, source=t["source"], instance=t["instance"], target=t["target"],
                          migration_type=t["migration_type"], paused=t.get("paused", False),
                          settings_overrides=json.dumps(t.get("settings", {}), sort_keys=True),
                          tables=tables, description=t.get("description", ""), pos=doc.key_pos(p),
                          stack=t.get("stack"), schedule=schedule, cdc_start_time=t.get("cdc_start_time"),
                          schedule_pos=doc.key_pos(p + ("schedule",)),
                          expression_pos=doc.pos(p + ("schedule", "expression")),
                          output_pos=doc.key_pos(p + ("schedule", "output")),
                          cdc_start_time_pos=doc.key_pos(p + ("cdc_start_time",)),
                          stack_pos=doc.key_pos(p + ("stack",)), source_pos=doc.pos(p + ("source",)),
                          instance_pos=doc.pos(p + ("instance",)), target_pos=doc.pos(p + ("target",))))
    envs = tuple(d.get("environments", known_envs))
    for i, e in enumerate(envs):
        if e not in known_envs:
            diags.append(Diagnostic.at("E202", f"'{e}' is not an environment in base.yaml",
                                       doc.pos(("environments", i))))
    notifications = None
    if "notifications" in d:
        n = d["notifications"]
        notifications = Notifications(email=tuple(n.get("email", ())), https=tuple(n.get("https", ())),
                                      events=tuple(n.get("events", DEFAULT_EVENTS)),
                                      pos=doc.key_pos(("notifications",)))
    return Team(name=d["team"], file=doc.path, owners=tuple(d["owners"]), description=d.get("description", ""),
                environments=envs, sources=tuple(sources), instances=tuple(instances),
                tasks=tuple(sorted(tasks, key=lambda t: t.name)), pos=doc.pos(("team",)),
                notifications=notifications)


def resolve(raw: RawTree, env: str) -> tuple[ConfigTree | None, list[Diagnostic]]:
    """Resolve the tree for `env`. Returns (None, diags) when the base config is unusable."""
    diags: list[Diagnostic] = []
    if raw.base is None:
        return None, diags
    if env not in raw.environments:
        diags.append(Diagnostic.at("E204", f"unknown environment '{env}' (known: {', '.join(raw.environments)})",
                                   raw.base.pos(("environments",))))
        return None, diags
    base = resolve_base(raw.base, env)
    teams = [resolve_team(doc, env, raw.environments, diags) for doc in raw.teams]
    deployed = tuple(sorted((t for t in teams if env in t.environments), key=lambda t: t.name))
    return ConfigTree(base=base, teams=deployed, all_teams=tuple(sorted(t.name for t in teams))), diags
