"""A DMS replication task and its lifecycle, evaluated lazily against the sim clock.

Status machine (DMS API "ReplicationTask" Status):
    creating -> ready -> starting -> running -> stopping -> stopped
                          ^                        |
                          +---- (resume) ----------+        any running state -> failed
``sync(now)`` replays every event (status transitions, table loads finishing, stop
positions, injected failures) in time order up to ``now``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from ..s3_output import OutputError
from . import mappings, settings
from .capture import CdcCapture
from .errors import InvalidParameterCombinationException, InvalidParameterValueException, InvalidResourceStateFault
from .mappings import TableRef
from .positions import (
    STOP_AT_COMMIT_TIME,
    STOP_AT_SERVER_TIME,
    parse_checkpoint,
    parse_start_position,
    parse_stop_position,
)
from .tables import BEFORE_LOAD, COMPLETED, FULL_LOAD, TABLE_ERROR, TableRun

if TYPE_CHECKING:
    from .backend import DmsBackend

STOP_NORMAL = "Stop Reason NORMAL"
STOP_FULL_LOAD_ONLY_FINISHED = "Stop Reason FULL_LOAD_ONLY_FINISHED"
STOP_FATAL_ERROR = "Stop Reason FATAL_ERROR"
__all__ = ["STOP_AT_COMMIT_TIME", "STOP_AT_SERVER_TIME", "STOP_FATAL_ERROR", "STOP_FULL_LOAD_ONLY_FINISHED",
           "STOP_NORMAL", "ReplicationTask"]

MODIFIABLE = ("stopped", "ready", "failed")
STARTABLE = ("stopped", "ready", "failed")
START_TYPES = ("start-replication", "resume-processing", "reload-target")
MAX_RELOAD_TABLES = 10  # DMS User Guide, "Reloading tables during a task"


@dataclass(frozen=True)
class PendingStatus:
    status: str
    at: datetime
    stop_reason: str | None = None


class ReplicationTask(CdcCapture):
    def __init__(
        self,
        backend: DmsBackend,
        *,
        arn: str,
        identifier: str,
        source_endpoint_arn: str,
        target_endpoint_arn: str,
        replication_instance_arn: str,
        migration_type: str,
        table_mappings: str,
        task_settings: str | None,
        now: datetime,
        ready_after: float,
        cdc_start_position: str | None = None,
        cdc_stop_position: str | None = None,
        task_data: str | None = None,
    ) -> None:
        self.backend = backend
        self.arn = arn
        self.identifier = identifier
        self.source_endpoint_arn = source_endpoint_arn
        self.target_endpoint_arn = target_endpoint_arn
        self.replication_instance_arn = replication_instance_arn
        self.migration_type = migration_type
        self.table_mappings = mappings.normalize(table_mappings) or ""
        self.task_settings = settings.normalize(task_settings)
        self.cdc_start_position = cdc_start_position
        self.cdc_stop_position = cdc_stop_position
        parse_stop_position(cdc_stop_position)
        if cdc_start_position:
            parse_start_position(cdc_start_position)
        self.task_data = task_data
        self.created_at = now
        self.status = "creating" if ready_after > 0 else "ready"
        self.pending: PendingStatus | None = (
            PendingStatus("ready", now + timedelta(seconds=ready_after)) if ready_after > 0 else None
        )
        self.tables: dict[TableRef, TableRun] = {}
        self.ever_started = False
        self.start_date: datetime | None = None
        self.fresh_start_date: datetime | None = None
        self.stop_date: datetime | None = None
        self.full_load_start: datetime | None = None
        self.full_load_finish: datetime | None = None
        self.stop_reason: str | None = None
        self.last_failure_message: str | None = None
        self.recovery_checkpoint: str | None = None
        self.checkpoint_seq = 0
        self.run_from: datetime | None = None  # log position the current run reads from (None: from now)
        self.synced_at = now
        self._apply_selection(now)

    # --- helpers -----------------------------------------------------------------
    @property
    def world(self):
        return self.backend.world

    @property
    def has_full_load(self) -> bool:
        return self.migration_type in ("full-load", "full-load-and-cdc")

    @property
    def has_cdc(self) -> bool:
        return self.migration_type in ("cdc", "full-load-and-cdc")

    def _rate(self) -> float:
        return self.world.config.full_load_rows_per_second

    def _catalog(self) -> list[TableRef]:
        known = [TableRef(s, t) for (task, s, t) in self.world.table_sizes if task == self.identifier]
        return known + [t for t in self.tables if t not in known]

    def _apply_selection(self, now: datetime) -> None:
        wanted = mappings.selected_tables(self.table_mappings, self._catalog())
        self.tables = {ref: self.tables.get(ref) or TableRun(ref, last_update=now) for ref in wanted}

    def table_run(self, schema: str, table: str) -> TableRun | None:
        return self.tables.get(TableRef(schema, table))

    # --- lazy evaluation -----------------------------------------------------------
    def sync(self, now: datetime) -> None:
        while True:
            event = self._next_event()
            if event is None or event[0] > now:
                break
            at, action = event
            self._advance(max(at, self.synced_at))
            action(max(at, self.synced_at))
        self._advance(max(now, self.synced_at))

    def _next_event(self) -> tuple[datetime, Callable[[datetime], None]] | None:
        events: list[tuple[datetime, Callable[[datetime], None]]] = []
        if self.pending is not None:
            events.append((self.pending.at, self._finish_pending))
        failure = self.world.faults.peek_task_failure(self.identifier)
        if self.status in ("running", "starting") and failure is not None:
            events.append((max(failure.at or self.synced_at, self.synced_at), self._fail_from_fault))
        if self.status == "running":
            for run in self.tables.values():
                if run.state == FULL_LOAD:
                    events.append((run.load_done_at(self._rate()), partial(self._complete_table, run)))
            stop = parse_stop_position(self.cdc_stop_position) if self.has_cdc else None
            if stop is not None and all(r.state in (COMPLETED, TABLE_ERROR) for r in self.tables.values()):  # A25
                events.append((max(stop.at, self.synced_at), partial(self._stop_at_position, reason=stop.reason)))
        return min(events, key=lambda e: e[0]) if events else None

    def _advance(self, t: datetime) -> None:
        if t > self.synced_at and self.status == "running" and self.has_cdc:
            self._apply_cdc(t)
        self.synced_at = max(self.synced_at, t)

    def _stop_at_position(self, t: datetime, reason: str) -> None:
        self._apply_cdc(t, flush=True)
        if self.status == "running":
            self._self_stop(t, reason)

    def _finish_pending(self, t: datetime) -> None:
        pending, self.pending = self.pending, None
        assert pending is not None
        self.status = pending.status
        if pending.status == "stopped":
            self.stop_date = t
            self.stop_reason = pending.stop_reason
        elif pending.status == "running":
            self._enter_running(t)

    def _enter_running(self, t: datetime) -> None:
        if not self.tables and self._fail_on_no_tables():
            self._fail(t, "No tables were found at task initialization. Either the selected table(s) "
                          "or schemas(s) no longer exist or no table(s)/schema(s) were selected.")
            return
        if not self.has_full_load:
            for run in self.tables.values():
                if run.state not in (COMPLETED, TABLE_ERROR):  # a suspended table stays suspended (A77)
                    run.mark_cdc_only(t)
        if self.has_cdc:
            self._begin_capture(t, self.run_from)
        self._fill_load_slots(t)

    def _fail_on_no_tables(self) -> bool:
        import json

        return bool(json.loads(self.task_settings).get("ErrorBehavior", {}).get("FailOnNoTablesCaptured", True))

    def _fill_load_slots(self, t: datetime) -> None:
        if self.status != "running" or not self.has_full_load:
            return
        loading = sum(1 for r in self.tables.values() if r.state == FULL_LOAD)
        slots = settings.max_full_load_subtasks(self.task_settings) - loading
        for run in self.tables.values():
            if slots <= 0:
                break
            if run.state == BEFORE_LOAD:
                rows = self.world.table_rows(self.identifier, run.ref.schema, run.ref.table)
                run.start_load(t, rows)
                self.full_load_start = self.full_load_start or t
                self.full_load_finish = None
                slots -= 1

    def _complete_table(self, run: TableRun, t: datetime) -> None:
        run.complete(t)
        try:
            self._write_output(run, "LOAD00000001", t)
        except OutputError as exc:
            self._fail(t, str(exc))
            return
        if all(r.state in (COMPLETED, TABLE_ERROR) for r in self.tables.values()):
            self.full_load_finish = t
            if self.migration_type == "full-load":
                self._self_stop(t, STOP_FULL_LOAD_ONLY_FINISHED)
                return
        self._fill_load_slots(t)

    def _self_stop(self, t: datetime, reason: str) -> None:
        self._interrupt_loads(t)
        self.status = "stopped"
        self.pending = None
        self.stop_date = t
        self.stop_reason = reason

    def _fail_from_fault(self, t: datetime) -> None:
        failure = self.world.faults.take_task_failure(self.identifier)
        if failure:
            self._fail(t, failure.message)

    def _fail(self, t: datetime, message: str) -> None:
        self._interrupt_loads(t)
        self.status = "failed"
        self.pending = None
        self.stop_date = t
        self.stop_reason = STOP_FATAL_ERROR
        self.last_failure_message = message

    def _interrupt_loads(self, t: datetime) -> None:
        for run in self.tables.values():
            run.interrupt(t)

    # --- API operations ------------------------------------------------------------------
    def _check_start(self, start_type: str, position: str | None) -> None:
        if self.status not in STARTABLE:
            raise InvalidResourceStateFault(
                f"Replication task {self.identifier} is in {self.status} state and cannot be started"
            )
        if start_type not in START_TYPES:
            raise InvalidParameterValueException(f"Invalid StartReplicationTaskType {start_type}")
        if start_type == "reload-target" and self.migration_type == "cdc":
            raise InvalidParameterValueException("reload-target is not a valid start type for a cdc task")
        if start_type in ("resume-processing", "reload-target") and not self.ever_started:
            raise InvalidResourceStateFault(f"{start_type} is only available for previously executed tasks")
        if start_type == "start-replication" and self.ever_started and self.migration_type != "cdc":  # A1
            raise InvalidParameterCombinationException(
                "Start Type : START_REPLICATION, valid only for tasks running for the first time"
            )
        if position is not None and self.migration_type != "cdc":  # A26
            raise InvalidParameterCombinationException(
                f"CdcStartPosition and CdcStartTime apply to cdc tasks only; {self.identifier} is "
                f"{self.migration_type}"
            )
        if position is not None and start_type != "start-replication":
            raise InvalidParameterCombinationException(
                "To start a cdc task from a specific position, use start-replication with the start position"
            )

    def start(self, now: datetime, start_type: str, cdc_start_position: str | None,
              cdc_stop_position: str | None) -> None:
        self._check_start(start_type, cdc_start_position)
        run_from = parse_start_position(cdc_start_position) if cdc_start_position else None
        if cdc_stop_position is not None:
            parse_stop_position(cdc_stop_position)
            self.cdc_stop_position = cdc_stop_position
        if cdc_start_position is not None:
            self.cdc_start_position = cdc_start_position
        elif start_type == "start-replication" and self.migration_type == "cdc" and self.cdc_start_position:
            run_from = parse_start_position(self.cdc_start_position)
        elif start_type == "resume-processing" and self.recovery_checkpoint:
            run_from = parse_checkpoint(self.recovery_checkpoint)
        self.run_from = run_from
        self._apply_selection(now)
        if start_type == "start-replication":
            self.fresh_start_date = now
        elif start_type == "reload-target":
            self.fresh_start_date = now
            for run in self.tables.values():
                run.reset_for_reload(now)
        for run in self.tables.values():
            run.reset_counters()
        self._snapshot_target()
        self.ever_started = True
        self.status = "starting"
        self.start_date = now
        self.stop_reason = None
        self.last_failure_message = None
        self.pending = PendingStatus("running", now + timedelta(seconds=self.world.config.task_start_seconds))

    def stop(self, now: datetime) -> None:
        if self.status not in ("running", "starting"):
            raise InvalidResourceStateFault(f"Replication task {self.identifier} is not running ({self.status})")
        self._interrupt_loads(now)
        seconds = self.world.config.task_stop_seconds
        slow = self.world.faults.take_slow_stop(self.identifier)
        if slow is not None:
            seconds = slow
        self.status = "stopping"
        self.pending = PendingStatus("stopped", now + timedelta(seconds=seconds), STOP_NORMAL)

    def modify(self, now: datetime, changes: dict[str, Any], via_cloudformation: bool) -> None:
        if self.status not in MODIFIABLE:
            raise InvalidResourceStateFault(
                f"Replication task {self.identifier} is in {self.status} state; it can only be modified "
                f"when it is {', '.join(MODIFIABLE)}"
            )
        wanted_type = changes.get("MigrationType")
        if wanted_type is not None and wanted_type != self.migration_type:  # documented; code/wording: A32
            raise InvalidParameterValueException(
                f"You can't change the migration type of a task: {self.identifier} is {self.migration_type}, "
                f"not {wanted_type}"
            )
        if "CdcStopPosition" in changes:
            parse_stop_position(changes["CdcStopPosition"])
        if changes.get("CdcStartPosition"):
            parse_start_position(changes["CdcStartPosition"])
        if "TableMappings" in changes and changes["TableMappings"] is not None:
            self.table_mappings = mappings.normalize(changes["TableMappings"]) or ""
        if changes.get("ReplicationTaskSettings") is not None:
            self.task_settings = settings.normalize(changes["ReplicationTaskSettings"], self.task_settings)
        for key, attr in (
            ("ReplicationTaskIdentifier", "identifier"),
            ("CdcStartPosition", "cdc_start_position"),
            ("CdcStopPosition", "cdc_stop_position"),
            ("TaskData", "task_data"),
        ):
            if changes.get(key) is not None:
                setattr(self, attr, changes[key])
        self._apply_selection(now)
        if not via_cloudformation and self.world.config.task_modify_seconds > 0:
            previous = self.status
            self.status = "modifying"
            self.pending = PendingStatus(previous, now + timedelta(seconds=self.world.config.task_modify_seconds))

    def reload_tables(self, now: datetime, tables: list[TableRef]) -> None:
        if self.status != "running":
            raise InvalidResourceStateFault(f"Replication task {self.identifier} is not running ({self.status})")
        if not self.has_full_load:  # documented; code/wording: A33
            raise InvalidParameterValueException(
                f"Tables can only be reloaded by full-load or full-load-and-cdc tasks; {self.identifier} is cdc"
            )
        if len(tables) > MAX_RELOAD_TABLES:
            raise InvalidParameterValueException(
                f"You can reload up to {MAX_RELOAD_TABLES} tables from a task at a time ({len(tables)} given)"
            )
        duplicates = sorted({f"{r.schema}.{r.table}" for r in tables if tables.count(r) > 1})
        if duplicates:
            raise InvalidParameterValueException(f"Duplicate tables aren't allowed: {', '.join(duplicates)}")
        for ref in tables:
            run = self.tables.get(ref)
            if run is not None:
                run.reset_for_reload(now, by_reload_tables=True)
        self._fill_load_slots(now)

    def check_deletable(self) -> None:
        if self.status in ("running", "starting", "stopping", "modifying"):
            raise InvalidResourceStateFault(
                f"Replication task {self.identifier} is {self.status}; stop it before deleting it"
            )

    # --- API shape -----------------------------------------------------------------------
    def stats(self, now: datetime) -> dict[str, Any]:
        runs = list(self.tables.values())
        loaded = sum(1 for r in runs if r.state == COMPLETED)
        loading = sum(1 for r in runs if r.state == FULL_LOAD)
        out: dict[str, Any] = {
            "FullLoadProgressPercent": int(100 * loaded / len(runs)) if runs else 0,
            "ElapsedTimeMillis": int((now - self.start_date).total_seconds() * 1000) if self.start_date else 0,
            "TablesLoaded": loaded,
            "TablesLoading": loading,
            "TablesQueued": sum(1 for r in runs if r.state == BEFORE_LOAD),
            "TablesErrored": sum(1 for r in runs if r.state == TABLE_ERROR),
        }
        for key, value in (
            ("FreshStartDate", self.fresh_start_date),
            ("StartDate", self.start_date),
            ("StopDate", self.stop_date),
            ("FullLoadStartDate", self.full_load_start),
            ("FullLoadFinishDate", self.full_load_finish),
        ):
            if value is not None:
                out[key] = value.timestamp()
        return out

    def to_dict(self, now: datetime, with_settings: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ReplicationTaskIdentifier": self.identifier,
            "SourceEndpointArn": self.source_endpoint_arn,
            "TargetEndpointArn": self.target_endpoint_arn,
            "ReplicationInstanceArn": self.replication_instance_arn,
            "MigrationType": self.migration_type,
            "Status": self.status,
            "ReplicationTaskCreationDate": self.created_at.timestamp(),
            "ReplicationTaskArn": self.arn,
            "ReplicationTaskStats": self.stats(now),
        }
        if with_settings:
            out["TableMappings"] = self.table_mappings
            out["ReplicationTaskSettings"] = self.task_settings
        optional = {
            "LastFailureMessage": self.last_failure_message,
            "StopReason": self.stop_reason,
            "ReplicationTaskStartDate": self.start_date.timestamp() if self.start_date else None,
            "CdcStartPosition": self.cdc_start_position,
            "CdcStopPosition": self.cdc_stop_position,
            "RecoveryCheckpoint": self.recovery_checkpoint,
            "TaskData": self.task_data,
        }
        out.update({k: v for k, v in optional.items() if v is not None})
        return out
