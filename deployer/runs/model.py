"""What a run is about (`RunTarget`), what it returns (`RunResult`), its errors, and time formats."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from dmsctl.compiler import naming
from dmsctl.compiler.build import CompiledTask, CompileResult
from dmsctl.compiler.model import Schedule
from dmsctl.deployer.errors import DmsctlError

OUTPUTS = ("dated", "timestamped")


# -- errors ------------------------------------------------------------------------------------------
class RunError(DmsctlError):
    """A scheduled run did not succeed."""


class RunRefused(RunError):
    """Refused before any change was made (nothing to undo)."""


class RunFailed(RunError):
    """The run changed something (endpoint folder, task started) and then failed. `result` says how far it got."""

    def __init__(self, message: str, result: RunResult | None = None):
        super().__init__(message)
        self.result = result


class UnknownTask(DmsctlError):
    """TEAM/TASK names nothing in the config."""


# -- what a run is about --------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunTarget:
    """One task of one environment, and every name a run of it uses. `schedule` and `cdc_start_time` are
    the compiled task's (from_compiled): a compiler model.Schedule, whose output is dated | timestamped
    for an export task and None for an incremental one."""

    env: str
    resource_prefix: str
    root_prefix: str
    bucket: str  # the data lake
    task: CompiledTask
    schedule: Schedule | None = None
    cdc_start_time: str | None = None

    @classmethod
    def from_compiled(cls, result: CompileResult, ref: str) -> RunTarget:
        tree, config = result.require_tree(), result.require_config()
        task = find_task(result, ref)
        return cls(env=tree.env, resource_prefix=tree.resource_prefix, root_prefix=config.base.root_prefix,
                   bucket=tree.datalake_bucket, task=task, schedule=task.schedule,
                   cdc_start_time=task.cdc_start_time)

    @property
    def ref(self) -> str:
        return f"{self.task.team}/{self.task.name}"

    @property
    def task_id(self) -> str:
        return self.task.identifier

    @property
    def kind(self) -> str:
        """export (full-load) or incremental (cdc, full-load-and-cdc)."""
        return "export" if self.task.migration_type == "full-load" else "incremental"

    @property
    def output(self) -> str:
        out = self.schedule.output if self.schedule else None
        return out if out in OUTPUTS else "dated"

    @property
    def state_table(self) -> str:
        return naming.lock_table(self.resource_prefix)

    @property
    def export_endpoint_id(self) -> str:
        return naming.export_endpoint_id(self.resource_prefix, self.task.team, self.task.name)

    def export_folder(self, at: datetime) -> str:
        return naming.export_folder(self.root_prefix, self.task.team, self.task.name, at, self.output)


def find_task(result: CompileResult, ref: str) -> CompiledTask:
    """The compiled task named TEAM/TASK; UnknownTask lists what exists."""
    tree = result.require_tree()
    team, sep, name = ref.partition("/")
    by_team: dict[str, dict[str, CompiledTask]] = {}
    for t in tree.tasks():
        by_team.setdefault(t.team, {})[t.name] = t
    known = ", ".join(f"{tm}/{n}" for tm in sorted(by_team) for n in sorted(by_team[tm])) or "none"
    if not sep or not team or not name:
        raise UnknownTask(f"{ref!r} is not TEAM/TASK; the tasks of {tree.env} are: {known}")
    if team not in by_team:
        teams = ", ".join(sorted(by_team)) or "none"
        raise UnknownTask(f"no team {team!r} in {tree.env} (teams: {teams})")
    if name not in by_team[team]:
        raise UnknownTask(f"team {team} has no task {name!r} in {tree.env} (its tasks: "
                          f"{', '.join(sorted(by_team[team]))})")
    return by_team[team][name]


# -- timing ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunTimeouts:
    """Seconds. `task`: the whole load or CDC window; `connection`: the endpoint's connection test."""

    connection: float = 900
    task: float = 24 * 3600


DEFAULT_TIMEOUTS = RunTimeouts()
CONNECTION_POLL = 15  # docs/WORKFLOWS.md: DescribeConnections at most every 15 s (backing off from 2 s)
TASK_POLL = 30  # DescribeReplicationTasks at most every 30 s (backing off from 2 s)


def parse_time(text: str, what: str = "--at") -> datetime:
    """ISO-8601 -> aware UTC datetime, whole seconds. A time without a zone is UTC."""
    raw = text.strip()
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        raise DmsctlError(f"{what}: {text!r} is not an ISO-8601 time (e.g. 2026-11-01T06:00:00Z)") from None
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return when.replace(microsecond=0)


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def iso(when: datetime) -> str:
    """2026-11-01T06:00:00Z: the form stored in the state table (sorts as text)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def server_time(when: datetime) -> str:
    """A DMS CdcStopPosition: server_time:2026-11-01T06:00:00 (UTC)."""
    return "server_time:" + when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


# -- results ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TableCount:
    schema: str
    table: str
    state: str
    full_load_rows: int
    inserts: int
    updates: int
    deletes: int

    @property
    def name(self) -> str:
        return f"{self.schema}.{self.table}"


@dataclass(frozen=True)
class RunResult:
    run_id: str
    task: str  # ReplicationTaskIdentifier
    kind: str  # export | incremental
    status: str  # succeeded | failed
    at: str  # the run time T, ISO-8601 UTC
    start_type: str = ""  # StartReplicationTaskType used ("" if the task was not started)
    folder: str | None = None  # export: s3://bucket/folder/
    window_start: str | None = None  # incremental: previous window end (or cdc_start_time; None: full load)
    window_end: str | None = None
    tables: tuple[TableCount, ...] = ()
    checkpoint_before: str | None = None
    checkpoint_after: str | None = None
    message: str = ""
    totals: dict[str, int] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "totals", {k: sum(getattr(t, k) for t in self.tables)
                                            for k in ("full_load_rows", "inserts", "updates", "deletes")})

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["tables"] = [asdict(t) for t in self.tables]
        return out
