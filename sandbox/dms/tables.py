"""Per-table progress of a replication task (what DescribeTableStatistics reports)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .changes import Counts
from .mappings import TableRef

BEFORE_LOAD = "Before load"
FULL_LOAD = "Full load"
COMPLETED = "Table completed"
VALIDATION_DETAILS = "Data validation is not enabled for this task (ValidationSettings.EnableValidation false)"
TABLE_ERROR = "Table error"  # suspended (A77): no more changes applied until the table is reloaded
RELOADING = "Table is being reloaded"  # DMS API TableStatistics; shown from ReloadTables until the load ends (A34)


@dataclass
class TableRun:
    ref: TableRef
    state: str = BEFORE_LOAD
    rows: int = 0
    load_started: datetime | None = None
    load_ended: datetime | None = None
    full_load_rows: int = 0
    reloaded: bool = False
    reloading: bool = False  # asked for by ReloadTables, load not completed yet
    inserts: float = 0.0
    updates: float = 0.0
    deletes: float = 0.0
    ddls: float = 0.0
    restarts: int = 0  # full loads interrupted by a stop/failure (they restart from zero)
    last_update: datetime | None = None
    cdc_from: datetime | None = None  # log position after which this table's changes are not applied yet
    last_cdc_file: datetime | None = None  # write time of its latest CDC file
    output_paths: list[str] = field(default_factory=list)

    def start_load(self, now: datetime, rows: int) -> None:
        self.state = FULL_LOAD
        self.rows = rows
        self.load_started = now
        self.load_ended = None
        self.full_load_rows = 0
        self.last_update = now

    def load_done_at(self, rows_per_second: float) -> datetime:
        assert self.load_started is not None
        return self.load_started + timedelta(seconds=self.rows / rows_per_second)

    @property
    def shown_state(self) -> str:
        """TableState as DescribeTableStatistics reports it."""
        return RELOADING if self.reloading and self.state != COMPLETED else self.state

    def complete(self, now: datetime) -> None:
        self.state = COMPLETED
        self.reloading = False
        self.full_load_rows = self.rows
        self.load_ended = now
        self.last_update = now

    def mark_cdc_only(self, now: datetime) -> None:
        """CDC-only task: no full load, the table is captured from the start (ASSUMPTIONS A7)."""
        self.state = COMPLETED
        self.last_update = now

    def suspend(self, now: datetime) -> None:
        """The table is suspended (TableErrorPolicy SUSPEND_TABLE): DMS applies none of its changes any more."""
        self.state = TABLE_ERROR
        self.last_update = now

    def interrupt(self, now: datetime) -> None:
        """A stop/failure during full load: the load restarts from zero on resume."""
        if self.state == FULL_LOAD:
            self.state = BEFORE_LOAD
            self.restarts += 1
            self.full_load_rows = 0
            self.load_started = None
            self.last_update = now

    def reset_for_reload(self, now: datetime, by_reload_tables: bool = False) -> None:
        self.state = BEFORE_LOAD
        self.reloaded = True
        self.reloading = by_reload_tables
        self.full_load_rows = 0
        self.load_started = None
        self.load_ended = None
        self.last_update = now

    def apply_changes(self, counts: Counts, now: datetime) -> None:
        self.inserts += counts.inserts
        self.updates += counts.updates
        self.deletes += counts.deletes
        self.ddls += counts.ddls
        self.last_update = now

    def reset_counters(self) -> None:
        """Change counters count from the task's latest start (ASSUMPTIONS A24)."""
        self.inserts = self.updates = self.deletes = self.ddls = 0.0

    def loaded_rows(self, now: datetime, rows_per_second: float) -> int:
        if self.state == FULL_LOAD and self.load_started is not None:
            elapsed = (now - self.load_started).total_seconds()
            return min(self.rows, int(elapsed * rows_per_second))
        return self.full_load_rows

    def statistics(self, now: datetime, rows_per_second: float) -> dict[str, Any]:
        inserts, updates, deletes, ddls = int(self.inserts), int(self.updates), int(self.deletes), int(self.ddls)
        stats: dict[str, Any] = {
            "SchemaName": self.ref.schema,
            "TableName": self.ref.table,
            "Inserts": inserts,
            "Deletes": deletes,
            "Updates": updates,
            "Ddls": ddls,
            "AppliedInserts": inserts,
            "AppliedDeletes": deletes,
            "AppliedUpdates": updates,
            "AppliedDdls": ddls,
            "FullLoadRows": self.loaded_rows(now, rows_per_second),
            "FullLoadCondtnlChkFailedRows": 0,
            "FullLoadErrorRows": 0,
            "FullLoadReloaded": self.reloaded,
            "TableState": self.shown_state,
            "ValidationPendingRecords": 0,
            "ValidationFailedRecords": 0,
            "ValidationSuspendedRecords": 0,
            "ValidationState": "Not enabled",
            # A row carries every TableStatistics field of the API reference (A60): ~800 bytes as JSON,
            # which is what a Step Functions state holding a page of them has to fit in (262,144 bytes).
            "ValidationStateDetails": VALIDATION_DETAILS,
            "ResyncState": "Not enabled",
            "ResyncRowsAttempted": 0,
            "ResyncRowsSucceeded": 0,
            "ResyncRowsFailed": 0,
            "ResyncProgress": 0.0,
        }
        if self.load_started:
            stats["FullLoadStartTime"] = self.load_started.timestamp()
        if self.load_ended:
            stats["FullLoadEndTime"] = self.load_ended.timestamp()
        if self.last_update:
            stats["LastUpdateTime"] = self.last_update.timestamp()
        return stats
