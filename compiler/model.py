"""The validated configuration, resolved for one environment: frozen dataclasses, no I/O.

Positions (`pos`) point back into the YAML so later checks can name file:line. They are excluded
from equality so two models built from differently formatted files compare equal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dmsctl.compiler.diagnostics import Position

NO_POS = Position("")


@dataclass(frozen=True)
class Environment:
    name: str
    account_id: str
    region: str
    datalake_bucket: str
    artifacts_bucket: str
    vpc_id: str
    subnet_ids: tuple[str, ...]
    egress_cidrs: tuple[str, ...]
    tags: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Target:
    """A shared S3 target endpoint profile (in the base stack)."""

    name: str
    flush_interval_seconds: int
    min_file_size_kb: int
    description: str = ""


@dataclass(frozen=True)
class BaseConfig:
    resource_prefix: str
    platform_owners: tuple[str, ...]
    default_environment: str
    environments: tuple[str, ...]
    env: Environment
    root_prefix: str
    data_format: str
    compression: str
    targets: tuple[Target, ...]
    file: str = ""
    github_repository: str | None = None  # owner/name (base.yaml github.repository), for the CI roles

    def target(self, name: str) -> Target | None:
        return next((t for t in self.targets if t.name == name), None)


@dataclass(frozen=True)
class Source:
    name: str
    engine: str
    server: str
    port: int
    database: str | None
    secret_id: str
    ssl_mode: str
    slot_name: str | None = None  # postgres sources: PostgreSQLSettings SlotName (a replication slot at the source)
    pos: Position = field(default=NO_POS, compare=False)


@dataclass(frozen=True)
class Instance:
    name: str
    instance_class: str
    storage_gb: int
    multi_az: bool
    engine_version: str | None
    pos: Position = field(default=NO_POS, compare=False)


@dataclass(frozen=True)
class Table:
    schema: str
    table: str
    version: str
    paused: bool = False
    pos: Position = field(default=NO_POS, compare=False)

    @property
    def key(self) -> tuple[str, str]:
        """The source table's identity inside a task."""
        return (self.schema, self.table)

    @property
    def name(self) -> str:
        return f"{self.schema}.{self.table}"


@dataclass(frozen=True)
class Schedule:
    """A task's `schedule` (docs/WORKFLOWS.md): an EventBridge expression and, for full-load exports,
    where each run writes: "dated" (YYYY/MM/DD) or "timestamped" (YYYY/MM/DD/HHMMSS)."""

    expression: str
    output: str | None = None


@dataclass(frozen=True)
class Notifications:
    """A team's `notifications`: SNS subscribers of its events topic and the DMS event categories sent."""

    email: tuple[str, ...] = ()
    https: tuple[str, ...] = ()
    events: tuple[str, ...] = ()
    pos: Position = field(default=NO_POS, compare=False)


@dataclass(frozen=True)
class Task:
    name: str
    source: str
    instance: str
    target: str
    migration_type: str
    paused: bool
    settings_overrides: str  # canonical JSON of the team's overrides ("{}" when none)
    tables: tuple[Table, ...]
    description: str = ""
    pos: Position = field(default=NO_POS, compare=False)
    stack: str | None = None  # task stack group (None: the team stack)
    schedule: Schedule | None = None
    cdc_start_time: str | None = None  # ISO-8601 UTC (YYYY-MM-DDTHH:MM:SSZ); scheduled cdc tasks only
    # Where the workflow keys are, for diagnostics (NO_POS when absent).
    schedule_pos: Position = field(default=NO_POS, compare=False)  # the `schedule` key
    expression_pos: Position = field(default=NO_POS, compare=False)  # the schedule.expression value
    output_pos: Position = field(default=NO_POS, compare=False)  # the schedule.output key
    cdc_start_time_pos: Position = field(default=NO_POS, compare=False)  # the cdc_start_time key
    stack_pos: Position = field(default=NO_POS, compare=False)  # the `stack` key
    source_pos: Position = field(default=NO_POS, compare=False)  # the `source` value
    instance_pos: Position = field(default=NO_POS, compare=False)  # the `instance` value
    target_pos: Position = field(default=NO_POS, compare=False)  # the `target` value

    @property
    def active_tables(self) -> tuple[Table, ...]:
        return tuple(t for t in self.tables if not t.paused)

    @property
    def is_export(self) -> bool:
        """A scheduled full-load task: every run exports the whole task into a new dated folder."""
        return self.schedule is not None and self.migration_type == "full-load"

    @property
    def is_incremental(self) -> bool:
        """A scheduled cdc / full-load-and-cdc task: every run captures one window of changes."""
        return self.schedule is not None and self.migration_type != "full-load"


@dataclass(frozen=True)
class Team:
    name: str
    file: str
    owners: tuple[str, ...]
    description: str
    environments: tuple[str, ...]
    sources: tuple[Source, ...]
    instances: tuple[Instance, ...]
    tasks: tuple[Task, ...]
    pos: Position = field(default=NO_POS, compare=False)
    # A deploy's step 1 (intermediate templates): task stack groups rendered even with no task left, and
    # team-stack exports kept for the tasks step 2 creates in a task stack: (kind, name) pairs.
    keep_stacks: tuple[str, ...] = ()
    keep_exports: tuple[tuple[str, str], ...] = ()
    notifications: Notifications | None = None

    def source(self, name: str) -> Source | None:
        return next((s for s in self.sources if s.name == name), None)

    def instance(self, name: str) -> Instance | None:
        return next((i for i in self.instances if i.name == name), None)


@dataclass(frozen=True)
class ConfigTree:
    """Everything under configs/, resolved for one environment."""

    base: BaseConfig
    teams: tuple[Team, ...]  # only the teams deployed to base.env, sorted by name
    all_teams: tuple[str, ...] = ()  # every team file's team name, whatever its environments

    @property
    def env(self) -> Environment:
        return self.base.env
