"""The plan: frozen data with one canonical JSON form and a checksum over it.

The differ and the checks produce a Plan; every renderer (text, Markdown, JSON) is a pure function
of it, and `dmsctl apply --plan plan.json` refuses to run when a fresh plan's checksum differs.
Nothing here talks to AWS.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field, fields, is_dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeVar

from dmsctl.compiler.findings import Finding, Severity

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

# The plan file's format (schemas/plan.schema.json). 3: values (old -> new), config names, impact labels,
# checks as findings (resource, hint, file/line/column); `format` was renamed `format_version`.
PLAN_FORMAT_VERSION = 3

# Table change kinds. "reload" = same source table, same task, version bumped (two steps).
ADD, REMOVE, RELOAD, PAUSE, RESUME = "add", "remove", "reload", "pause", "resume"
# Task / stack actions.
CREATE, UPDATE, DELETE, REPLACE, NONE = "create", "update", "delete", "replace", "none"
# Task run-state changes.
PAUSE_TASK, RESUME_TASK = "pause", "resume"
# How a task is started after a deploy.
START_REPLICATION, RESUME_PROCESSING = "start-replication", "resume-processing"


@dataclass(frozen=True)
class ValueChange:
    """One changed value, in the config's vocabulary: `path` is dotted (`class`, `settings.Logging.EnableLogging`,
    `S3Settings.CdcMaxBatchInterval`), values are display text (JSON for non-strings; None: absent). A new
    resource's attributes are ValueChanges without an old value. Secret values never appear (only ids, ARNs)."""

    path: str
    old: str | None = None
    new: str | None = None


# Impact kinds of a task change (Impact.kind).
IMPACT_NONE, IMPACT_NEW, IMPACT_STOP, IMPACT_RELOAD = "no-stop", "new", "stop", "reload"
IMPACT_REPLACE_RELOAD, IMPACT_REPLACE_CHECKPOINT, IMPACT_REPLACE_AFRESH = (
    "replace-reload", "replace-checkpoint", "replace-afresh")
IMPACT_REMOVAL, IMPACT_PAUSE, IMPACT_RESUME = "removal", "pause", "resume"


@dataclass(frozen=True)
class Impact:
    """What a task change does to replication, for the reviewer: `label` ("no stop", "stopped for the
    deploy", "reload of 2 tables", "replacement (full reload of 3 tables)", ...), then `estimate` when
    tables load again ("1,200 rows", "rows unknown: no table statistics"). `rows`: rows of the table
    versions that load again (their FullLoadRows + Inserts - Deletes in DMS's table statistics; DMS
    reports no sizes in bytes), None when DMS has no statistics for them. `rows` and `estimate` grow with
    every replicated change, so the checksum leaves them out (see VOLATILE)."""

    kind: str
    label: str
    tables: int = 0  # tables that load again (a reload, or every table of a replaced task)
    rows: int | None = None
    estimate: str = ""


@dataclass(frozen=True)
class TableChange:
    schema: str
    table: str
    kind: str  # add | remove | reload | pause | resume
    old_version: str | None = None
    new_version: str | None = None
    s3_prefix: str | None = None  # the prefix the new version writes to (add, reload, resume)
    # A reload whose step 1 ran but whose task never ran without the table (an apply stopped in between):
    # the old version is gone from the config and the task; DMS still holds its progress.
    interrupted: bool = False

    @property
    def name(self) -> str:
        return f"{self.schema}.{self.table}"


@dataclass(frozen=True)
class TaskChange:
    team: str
    task: str
    identifier: str
    action: str  # create | update | delete | replace | none
    reasons: tuple[str, ...] = ()
    tables: tuple[TableChange, ...] = ()
    run_change: str | None = None  # pause | resume (task-level `paused` flipped)
    live_status: str | None = None
    table_count: int = 0  # active tables after the change
    restart_reloads_all: bool = False  # replacement: every table of the task loads again
    keeps_checkpoint: bool = False  # replacement of a CDC task: the new task continues from the old one's checkpoint
    held: str | None = None  # the task's dmsctl:hold tag: stopped on purpose, apply never starts it
    cdc_gap: bool = False  # replacement of a CDC task that cannot continue (PostgreSQL without slot): it starts afresh
    values: tuple[ValueChange, ...] = ()  # changed settings and properties, old -> new (config vocabulary)
    impact: Impact | None = None  # set by the planner once the steps and statistics are known

    @property
    def changed(self) -> bool:
        return self.action != NONE or bool(self.tables) or self.run_change is not None


@dataclass(frozen=True)
class ResourceChange:
    """A non-task resource of a stack that changes (instance, endpoint, role, ...)."""

    logical_id: str
    resource_type: str
    action: str  # create | update | delete | replace
    name: str = ""  # in the config's vocabulary: "instance growth-main", "source fooddb", "target s3-1min"
    values: tuple[ValueChange, ...] = ()  # update / replace: what changes; create: the new resource's attributes


@dataclass(frozen=True)
class StackChange:
    stack: str
    kind: str  # base | team
    team: str | None
    action: str  # create | update | delete | none
    status: str | None = None  # live stack status
    tasks: tuple[TaskChange, ...] = ()
    resources: tuple[ResourceChange, ...] = ()


@dataclass(frozen=True)
class TaskStart:
    identifier: str
    start_type: str  # start-replication | resume-processing
    from_checkpoint: bool = False  # CdcStartPosition = the checkpoint step 1 captured from the replaced task


@dataclass(frozen=True)
class StackStep:
    stack: str
    action: str  # create | update | delete
    template_sha256: str | None  # the template this step deploys (None for delete)
    stop: tuple[str, ...] = ()  # task identifiers to stop before deploying
    start: tuple[TaskStart, ...] = ()  # tasks to start or resume after deploying
    wait_dropped: tuple[str, ...] = ()  # "task-id/schema.table" that must leave the statistics before the next step
    wave: int = 0  # deploy order within the step: all stacks of a wave (in parallel) before the next wave
    capture_checkpoint: tuple[str, ...] = ()  # replaced CDC tasks: store their RecoveryCheckpoint before the deploy
    # Tasks this deploy changes that were not running when the plan was made: apply looks again when the
    # step starts and stops (then resumes) any that runs by then (started by hand, or by an earlier step).
    recheck: tuple[str, ...] = ()
    # Tasks this step creates that it does not start (scheduled, or paused in config): their connections
    # are tested after the deploy, so a schedule's first run can start them (DMS starts a task only
    # after its connections tested successfully) and a failing endpoint fails the deploy, not 2 a.m.
    test_connections: tuple[str, ...] = ()
    # Acknowledged drift (--allow-drift) the deploy would leave in place: after the deploy, while the task
    # is stopped, apply sets its TableMappings and settings back to the config's (ModifyReplicationTask).
    repair: tuple[str, ...] = ()


@dataclass(frozen=True)
class Step:
    number: int
    description: str
    stacks: tuple[StackStep, ...]


# A plan check is a Finding (the compiler's type): code, severity ("error" blocks: no-go), message, the
# resource it is about (team/task/schema.table), a hint (the flag that acknowledges it) and, once
# acknowledged, the flag that turned it into a warning.
Check = Finding


def check(code: str, severity: str, message: str, team: str | None = None, task: str | None = None,
          table: str | None = None, *, hint: str = "", acknowledged_by: str = "") -> Check:
    """A plan check about team[/task[/schema.table]]."""
    resource = "/".join(x for x in (team, task, table) if x)
    return Check(code=code, message=message, severity=Severity(severity), resource=resource, hint=hint,
                 acknowledged_by=acknowledged_by)


@dataclass(frozen=True)
class Acknowledgement:
    """What turned a no-go check into a warning for this plan: a command-line flag, or an entry of
    configs/acknowledgements.yaml naming the plan (by the checksum of the plan made without it)."""

    flag: str  # --allow-replace | --allow-delete | --allow-drift | --allow-interrupt
    source: str  # "command line" | "configs/acknowledgements.yaml:4"
    plan: str | None = None  # the checksum the entry names (file entries only)
    reason: str | None = None


@dataclass(frozen=True)
class Summary:
    steps: int = 0
    stacks_to_create: int = 0
    stacks_to_update: int = 0
    stacks_to_delete: int = 0
    tasks_to_create: int = 0
    tasks_to_update: int = 0
    tasks_to_replace: int = 0
    tasks_to_delete: int = 0
    tasks_to_stop: int = 0
    tables_to_add: int = 0
    tables_to_reload: int = 0
    tables_to_remove: int = 0
    tables_to_pause: int = 0
    tables_to_resume: int = 0
    tasks_to_resume: int = 0  # stopped (by hand, or left by a stopped apply) and started again by this plan
    tasks_held: int = 0  # stopped and tagged dmsctl:hold: left stopped
    tasks_to_reload: int = 0  # tasks whose impact loads tables again (a reload or a replacement with a full reload)
    rows_to_reload: int = 0  # rows of the table versions that load again, as far as DMS's statistics know them
    rows_unknown: int = 0  # tables that load again that DMS has no statistics for (not in rows_to_reload)


@dataclass(frozen=True)
class Plan:
    env: str
    account_id: str
    region: str
    stacks: tuple[StackChange, ...]
    steps: tuple[Step, ...]
    checks: tuple[Check, ...]
    summary: Summary = field(default_factory=Summary)
    acknowledgements: tuple[Acknowledgement, ...] = ()
    # The checksum of this plan made with the command line's flags only, before configs/acknowledgements.yaml
    # was applied: what an entry of that file names to acknowledge it (None: made without that step). Not
    # part of the checksummed data (it is a checksum itself): a plan with no flags and no entries has
    # base_checksum == checksum.
    base_checksum: str | None = field(default=None, compare=False)
    format_version: int = PLAN_FORMAT_VERSION

    @property
    def go(self) -> bool:
        return not any(c.blocks for c in self.checks)

    @property
    def has_changes(self) -> bool:
        return bool(self.steps)

    def exit_code(self) -> int:
        """Terraform-style: 0 no changes, 2 changes and go, 1 no-go."""
        if not self.go:
            return 1
        return 2 if self.has_changes else 0

    def canonical(self) -> dict[str, Any]:
        return _plain_fields(self, skip=NOT_DATA)

    def canonical_json(self) -> str:
        """What the checksum covers: the canonical data without the row estimates (VOLATILE)."""
        return json.dumps(_plain_fields(self, skip=VOLATILE | NOT_DATA), sort_keys=True, separators=(",", ":"))

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    def to_json(self) -> str:
        """The plan file: canonical data plus what is derived from it (not checksummed): its checksum, the
        checksum an acknowledgement names, the verdict and the pull-request labels."""
        doc = self.canonical()
        doc["checksum"] = self.checksum
        doc["base_checksum"] = self.base_checksum
        doc["go"] = self.go
        from dmsctl.deployer.labels import plan_labels  # labels import this module

        doc["labels"] = list(plan_labels(self))
        return json.dumps(doc, sort_keys=True, indent=2) + "\n"


# Estimates that change while the plan waits for review (a CDC task's rows grow with every insert): in
# the plan file, not in its checksum, so `apply --plan` does not call a reviewed plan stale for them.
VOLATILE = frozenset({("Impact", "rows"), ("Impact", "estimate"), ("Summary", "rows_to_reload"),
                      ("Summary", "rows_unknown")})
# A checksum itself (written next to `checksum` in the plan file): never part of the data.
NOT_DATA = frozenset({("Plan", "base_checksum")})


def _plain_fields(obj: DataclassInstance, skip: frozenset[tuple[str, str]] = frozenset()) -> dict[str, Any]:
    name = type(obj).__name__
    return {f.name: _plain(getattr(obj, f.name), skip) for f in fields(obj) if (name, f.name) not in skip}


def _plain(obj: object, skip: frozenset[tuple[str, str]] = frozenset()) -> object:
    """JSON data of a plan value: dataclasses become objects, tuples lists."""
    if is_dataclass(obj) and not isinstance(obj, type):
        return _plain_fields(obj, skip)
    if isinstance(obj, Enum):  # a finding's severity
        return obj.value
    if isinstance(obj, (tuple, list)):
        return [_plain(x, skip) for x in obj]
    return obj


D = TypeVar("D", bound="DataclassInstance")


def plan_from_json(text: str) -> Plan:
    """Parse a plan file (for `apply --plan`); verifies the embedded checksum."""
    doc = json.loads(text)
    version = doc.get("format_version", doc.get("format"))
    if version != PLAN_FORMAT_VERSION:
        raise ValueError(f"plan format {version!r} is not {PLAN_FORMAT_VERSION}: re-run dmsctl plan")
    stored = doc.pop("checksum", None)
    doc.pop("go", None)
    doc.pop("labels", None)
    base_checksum = doc.pop("base_checksum", None)

    def build(cls: type[D], data: dict[str, Any]) -> D:
        kwargs = {}
        for f in fields(cls):
            if not f.compare:
                continue  # not checksummed data (Plan.base_checksum): set below
            value = data[f.name]
            kwargs[f.name] = _typed(f.type, value)
        return cls(**kwargs)

    def _typed(annotation: object, value: Any) -> Any:
        nested = {"tuple[TableChange, ...]": TableChange, "tuple[TaskChange, ...]": TaskChange,
                  "tuple[ResourceChange, ...]": ResourceChange, "tuple[StackChange, ...]": StackChange,
                  "tuple[TaskStart, ...]": TaskStart, "tuple[StackStep, ...]": StackStep,
                  "tuple[Step, ...]": Step, "tuple[Check, ...]": Check,
                  "tuple[Acknowledgement, ...]": Acknowledgement, "tuple[ValueChange, ...]": ValueChange}
        if annotation in nested:
            return tuple(build(nested[annotation], v) for v in value)
        if annotation == "Summary":
            return Summary(**value)
        if annotation == "Impact | None":
            return None if value is None else Impact(**value)
        if isinstance(value, list):
            return tuple(value)
        return value

    plan = dataclasses.replace(build(Plan, doc), base_checksum=base_checksum)
    if stored != plan.checksum:
        raise ValueError("plan file checksum does not match its content: it was edited or truncated")
    return plan


