"""The plan: frozen data with one canonical JSON form and a checksum over it.

The differ and the checks produce a Plan; every renderer (text, Markdown, JSON) is a pure function
of it, and `dmsctl apply --plan plan.json` refuses to run when a fresh plan's checksum differs.
Nothing here talks to AWS.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields, is_dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeVar

from dmsctl.compiler.findings import Finding, Severity

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

PLAN_FORMAT = 3  # 3: checks are findings (resource, hint, file/line/column)

# Table change kinds. "reload" = same source table, same task, version bumped (two steps).
ADD, REMOVE, RELOAD, PAUSE, RESUME = "add", "remove", "reload", "pause", "resume"
# Task / stack actions.
CREATE, UPDATE, DELETE, REPLACE, NONE = "create", "update", "delete", "replace", "none"
# Task run-state changes.
PAUSE_TASK, RESUME_TASK = "pause", "resume"
# How a task is started after a deploy.
START_REPLICATION, RESUME_PROCESSING = "start-replication", "resume-processing"


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

    @property
    def changed(self) -> bool:
        return self.action != NONE or bool(self.tables) or self.run_change is not None


@dataclass(frozen=True)
class ResourceChange:
    """A non-task resource of a stack that changes (instance, endpoint, role, ...)."""

    logical_id: str
    resource_type: str
    action: str  # create | update | delete | replace
    properties: tuple[str, ...] = ()


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


@dataclass(frozen=True)
class Plan:
    env: str
    account_id: str
    region: str
    stacks: tuple[StackChange, ...]
    steps: tuple[Step, ...]
    checks: tuple[Check, ...]
    summary: Summary = field(default_factory=Summary)
    format: int = PLAN_FORMAT

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
        return _plain_fields(self)

    def canonical_json(self) -> str:
        return json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    def to_json(self) -> str:
        """The plan file: canonical data plus its checksum and verdict (derived, not checksummed)."""
        doc = self.canonical()
        doc["checksum"] = self.checksum
        doc["go"] = self.go
        return json.dumps(doc, sort_keys=True, indent=2) + "\n"


def _plain_fields(obj: DataclassInstance) -> dict[str, Any]:
    return {f.name: _plain(getattr(obj, f.name)) for f in fields(obj)}


def _plain(obj: object) -> object:
    """JSON data of a plan value: dataclasses become objects, tuples lists."""
    if is_dataclass(obj) and not isinstance(obj, type):
        return _plain_fields(obj)
    if isinstance(obj, Enum):  # a finding's severity
        return obj.value
    if isinstance(obj, (tuple, list)):
        return [_plain(x) for x in obj]
    return obj


D = TypeVar("D", bound="DataclassInstance")


def plan_from_json(text: str) -> Plan:
    """Parse a plan file (for `apply --plan`); verifies the embedded checksum."""
    doc = json.loads(text)
    if doc.get("format") != PLAN_FORMAT:
        raise ValueError(f"plan format {doc.get('format')!r} is not {PLAN_FORMAT}: re-run dmsctl plan")
    stored = doc.pop("checksum", None)
    doc.pop("go", None)

    def build(cls: type[D], data: dict[str, Any]) -> D:
        kwargs = {}
        for f in fields(cls):
            value = data[f.name]
            kwargs[f.name] = _typed(f.type, value)
        return cls(**kwargs)

    def _typed(annotation: object, value: Any) -> Any:
        nested = {"tuple[TableChange, ...]": TableChange, "tuple[TaskChange, ...]": TaskChange,
                  "tuple[ResourceChange, ...]": ResourceChange, "tuple[StackChange, ...]": StackChange,
                  "tuple[TaskStart, ...]": TaskStart, "tuple[StackStep, ...]": StackStep,
                  "tuple[Step, ...]": Step, "tuple[Check, ...]": Check}
        if annotation in nested:
            return tuple(build(nested[annotation], v) for v in value)
        if annotation == "Summary":
            return Summary(**value)
        if isinstance(value, list):
            return tuple(value)
        return value

    plan = build(Plan, doc)
    if stored != plan.checksum:
        raise ValueError("plan file checksum does not match its content: it was edited or truncated")
    return plan


